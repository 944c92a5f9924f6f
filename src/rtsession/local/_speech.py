"""Speech engine interfaces of the local server, and the protocol-only engines.

The local server turns incoming audio into turns with a :class:`VoiceActivityDetector`, the
turns into text with a :class:`SpeechToText`, and its reply text into audio with a
:class:`TextToSpeech`. A :class:`SpeechEngines` bundle carries one of each; the server takes
the bundle and runs the slow parts through :func:`rtsession.local._worker.open_speech_worker`.

Two bundles are built in:

- :func:`default_engines` -- real speech: the WebRTC VAD, pocketsphinx with its bundled en-us
  model, espeak-ng from the ``espeakng-loader`` wheel. All from pip (the ``local`` extra), with
  bundled models; nothing is downloaded at run time.
- :func:`protocol_only_engines` -- no speech work, for benchmarks and protocol tests: an
  energy gate for VAD, transcripts from a fixed table chosen by the utterance's duration, and a
  sine tone whose length is proportional to the text.

Audio everywhere is mono 16-bit signed little-endian PCM ("PCM16") ``bytes`` with its sample
rate in Hz passed alongside. Times are integer milliseconds since the start of the stream.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Final, Protocol, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from .._errors import RTSessionError

__all__ = [
    "DEFAULT_TRANSCRIPTS",
    "FRAME_MS",
    "EnergyVad",
    "FramedVad",
    "SpeechEngineUnavailableError",
    "SpeechEngines",
    "SpeechStarted",
    "SpeechStopped",
    "SpeechToText",
    "StreamResampler",
    "TableSTT",
    "TextToSpeech",
    "ToneTTS",
    "VadEvent",
    "VadFactory",
    "VadSettings",
    "VoiceActivityDetector",
    "default_engines",
    "protocol_only_engines",
]

FRAME_MS: Final = 20
"""The VAD decision frame, in ms: speech start and stop positions are multiples of it."""


class SpeechEngineUnavailableError(RTSessionError, ImportError):
    """The packages of the real speech engines are not installed.

    Raised by :func:`default_engines`; the message names the missing modules and the install
    command (``pip install 'rtsession[local]'``).
    """


# --------------------------------------------------------------------------------------------
# Voice activity detection
# --------------------------------------------------------------------------------------------


def _check_unit(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value!r}")


def _check_non_negative(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


@attrs.frozen
class VadSettings:
    """Turn-detection parameters, mirroring OpenAI's ``server_vad`` (GA
    ``session.audio.input.turn_detection``).

    Attributes:
        threshold: sensitivity from 0.0 to 1.0; higher needs clearer speech before audio counts
            as speech (OpenAI default 0.5). The WebRTC VAD maps it to its aggressiveness mode
            ``min(3, int(threshold * 4))``; the energy VAD to a gate of
            ``-60 + 40 * threshold`` dBFS.
        prefix_padding_ms: audio kept before the detected onset, in ms; it moves
            ``audio_start_ms`` earlier (OpenAI default 300).
        silence_duration_ms: how long non-speech must last before speech counts as stopped, in
            ms (OpenAI GA default 200, beta 500).
        min_speech_ms: how long speech must last before it counts as started, in ms; filters
            clicks and the WebRTC VAD's noise-model warm-up. Not an OpenAI parameter; it is what
            Gemini Live calls ``prefixPaddingMs``.
    """

    threshold: float = attrs.field(default=0.5, validator=_check_unit)
    prefix_padding_ms: int = attrs.field(default=300, validator=_check_non_negative)
    silence_duration_ms: int = attrs.field(default=200, validator=_check_non_negative)
    min_speech_ms: int = attrs.field(default=60, validator=_check_non_negative)


@attrs.frozen
class SpeechStarted:
    """Speech began (OpenAI ``input_audio_buffer.speech_started``).

    Attributes:
        audio_start_ms: the wire value: the onset minus ``prefix_padding_ms``, never before 0 or
            before the previous turn's ``audio_end_ms``. The user turn's audio starts here.
        onset_ms: the start of the first frame judged to be speech.
    """

    audio_start_ms: int
    onset_ms: int


@attrs.frozen
class SpeechStopped:
    """Speech ended (OpenAI ``input_audio_buffer.speech_stopped``).

    Attributes:
        audio_end_ms: the wire value: where the silence window ran out (the end of the last
            speech frame plus ``silence_duration_ms``), or where the stream was flushed. The
            user turn's audio ends here.
        offset_ms: the end of the last frame judged to be speech.
    """

    audio_end_ms: int
    offset_ms: int


VadEvent: TypeAlias = SpeechStarted | SpeechStopped
"""What a :class:`VoiceActivityDetector` reports."""


class VoiceActivityDetector(Protocol):
    """A streaming voice activity detector: PCM16 chunks in, speech start/stop events out.

    One detector follows one audio stream (one connection). It is a synchronous, cheap state
    machine (microseconds per 20 ms frame) that the server calls inline on the event loop. It
    decides on :data:`FRAME_MS` frames, so positions are multiples of 20 ms, counted from the
    samples received: exact sample positions at the stream's rate, not wall-clock times.

    Create detectors with a :data:`VadFactory` (``factory(settings, sample_rate)``). To change
    settings mid-stream, create a new detector and add the current position (ms of audio
    received so far) to its positions.
    """

    @property
    def sample_rate(self) -> int:
        """The input sample rate in Hz."""
        ...

    @property
    def in_speech(self) -> bool:
        """Whether speech has started and not yet stopped."""
        ...

    def process(self, pcm16: bytes) -> list[VadEvent]:
        """Feed the next chunk of the stream.

        Args:
            pcm16: mono PCM16 at :attr:`sample_rate`, any length (an odd trailing byte is kept
                for the next chunk).

        Returns:
            The events the chunk completed, in order (usually none; at most a few).
        """
        ...

    def flush(self) -> list[VadEvent]:
        """End the stream (e.g. Gemini ``audioStreamEnd``): decide on the audio held back.

        If speech is in progress it stops at the end of the audio received so far. The detector
        then goes on as if the next chunk started a new stream, keeping its clock.
        """
        ...

    def reset(self) -> None:
        """Forget speech in progress without an event (e.g. after ``input_audio_buffer.clear``
        or a manual commit); the clock keeps running."""
        ...


VadFactory: TypeAlias = Callable[[VadSettings, int], VoiceActivityDetector]
"""Creates a detector for ``(settings, sample_rate_hz)``; the detector classes themselves fit."""


class _Segmenter:
    """Frame decisions in, turn events out: the server_vad state machine shared by the VADs."""

    __slots__ = (
        "_floor_ms",
        "_in_speech",
        "_last_speech_end_ms",
        "_min_speech_frames",
        "_prefix_ms",
        "_run_frames",
        "_run_start_ms",
        "_silence_frames",
        "_silence_ms",
        "_stop_frames",
    )

    def __init__(self, settings: VadSettings) -> None:
        self._prefix_ms = settings.prefix_padding_ms
        self._silence_ms = settings.silence_duration_ms
        self._min_speech_frames = max(1, math.ceil(settings.min_speech_ms / FRAME_MS))
        self._stop_frames = max(1, math.ceil(settings.silence_duration_ms / FRAME_MS))
        self._floor_ms = 0
        self._in_speech = False
        self._run_frames = 0
        self._run_start_ms = 0
        self._silence_frames = 0
        self._last_speech_end_ms = 0

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    def push(self, is_speech: bool, start_ms: int, end_ms: int) -> VadEvent | None:
        """Take the decision for the frame ``[start_ms, end_ms)``."""
        if not self._in_speech:
            if not is_speech:
                self._run_frames = 0
                return None
            if self._run_frames == 0:
                self._run_start_ms = start_ms
            self._run_frames += 1
            if self._run_frames < self._min_speech_frames:
                return None
            self._in_speech = True
            self._silence_frames = 0
            self._last_speech_end_ms = end_ms
            onset = self._run_start_ms
            return SpeechStarted(max(self._floor_ms, onset - self._prefix_ms), onset)
        if is_speech:
            self._silence_frames = 0
            self._last_speech_end_ms = end_ms
            return None
        self._silence_frames += 1
        if self._silence_frames < self._stop_frames:
            return None
        return self._stop(end_ms)

    def finish(self, end_ms: int) -> VadEvent | None:
        """End of stream at ``end_ms``: stop speech in progress."""
        self._run_frames = 0
        if not self._in_speech:
            return None
        return self._stop(end_ms)

    def reset(self, at_ms: int) -> None:
        self._in_speech = False
        self._run_frames = 0
        self._floor_ms = max(self._floor_ms, at_ms)

    def _stop(self, end_ms: int) -> SpeechStopped:
        self._in_speech = False
        self._run_frames = 0
        self._floor_ms = end_ms
        return SpeechStopped(end_ms, self._last_speech_end_ms)


class FramedVad:
    """Base of the built-in detectors: framing, clock and the server_vad state machine.

    Subclasses decide one frame at a time in :meth:`_is_speech`. The frames are
    :data:`FRAME_MS` long at :attr:`frame_rate` (the input rate unless a subclass whose
    classifier needs another rate passes ``frame_rate`` and a :class:`StreamResampler` to it).

    Raises:
        ValueError: a rate is not a positive multiple of 50 Hz (20 ms of whole samples).
    """

    def __init__(
        self,
        settings: VadSettings,
        sample_rate: int,
        *,
        frame_rate: int | None = None,
        resampler: StreamResampler | None = None,
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
        self._settings = settings
        self._rate = int(sample_rate)
        self._frame_rate = self._rate if frame_rate is None else int(frame_rate)
        if self._frame_rate <= 0 or self._frame_rate % (1000 // FRAME_MS):
            raise ValueError(
                f"frames need a rate that is a positive multiple of 50 Hz, got {self._frame_rate}"
            )
        self._frame_bytes = 2 * (self._frame_rate * FRAME_MS // 1000)
        self._resampler = resampler
        self._segmenter = _Segmenter(settings)
        self._pending = bytearray()  # audio at frame_rate not yet decided
        self._odd = b""  # a half sample carried over (only without a resampler)
        self._received_bytes = 0  # input bytes, for the clock
        self._origin_ms = 0  # stream position of the first frame since the last flush
        self._frames = 0  # frames decided since the last flush

    @property
    def settings(self) -> VadSettings:
        """The turn-detection parameters."""
        return self._settings

    @property
    def sample_rate(self) -> int:
        """The input sample rate in Hz."""
        return self._rate

    @property
    def frame_rate(self) -> int:
        """The rate the frames are classified at, in Hz."""
        return self._frame_rate

    @property
    def in_speech(self) -> bool:
        """Whether speech has started and not yet stopped."""
        return self._segmenter.in_speech

    @property
    def received_ms(self) -> int:
        """Audio received so far, in ms (floor)."""
        return self._received_bytes // 2 * 1000 // self._rate

    def process(self, pcm16: bytes) -> list[VadEvent]:
        """Feed the next chunk; see :meth:`VoiceActivityDetector.process`."""
        self._received_bytes += len(pcm16)
        if self._resampler is not None:
            data = self._resampler.process(pcm16)
        else:
            joined = self._odd + bytes(pcm16) if self._odd else pcm16
            cut = len(joined) - len(joined) % 2
            data, self._odd = joined[:cut], bytes(joined[cut:])
        self._pending += data
        return self._decide_frames()

    def flush(self) -> list[VadEvent]:
        """Decide on the audio held back; see :meth:`VoiceActivityDetector.flush`."""
        if self._resampler is not None:
            self._pending += self._resampler.flush()
        events = self._decide_frames()
        end_ms = self.received_ms
        event = self._segmenter.finish(end_ms)
        if event is not None:
            events.append(event)
        self._pending.clear()
        self._odd = b""
        self._origin_ms = end_ms
        self._frames = 0
        self._segmenter.reset(end_ms)
        return events

    def reset(self) -> None:
        """Forget speech in progress; see :meth:`VoiceActivityDetector.reset`."""
        self._segmenter.reset(self._frame_start_ms(self._frames))

    def _frame_start_ms(self, index: int) -> int:
        return self._origin_ms + index * FRAME_MS

    def _decide_frames(self) -> list[VadEvent]:
        events: list[VadEvent] = []
        size = self._frame_bytes
        pending = self._pending
        offset = 0
        while len(pending) - offset >= size:
            frame = bytes(pending[offset : offset + size])
            offset += size
            start = self._frame_start_ms(self._frames)
            self._frames += 1
            event = self._segmenter.push(self._is_speech(frame), start, start + FRAME_MS)
            if event is not None:
                events.append(event)
        if offset:
            del pending[:offset]
        return events

    def _is_speech(self, frame: bytes) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


class StreamResampler(Protocol):
    """A streaming PCM16 rate converter whose output is time-aligned with its input, such as
    ``rtsession.audio.Resampler``."""

    def process(self, pcm16: bytes) -> bytes:
        """Convert the next chunk; may return less than its share (held back)."""
        ...

    def flush(self) -> bytes:
        """Return the held-back tail and start afresh."""
        ...


class EnergyVad(FramedVad):
    """A voice activity detector that calls a frame speech when its RMS level passes a fixed
    gate: ``-60 + 40 * threshold`` dBFS (-40 dBFS at the default 0.5).

    No speech work: any loud enough sound counts, so it serves the protocol-only mode and
    synthetic test audio (tones, TTS with silent gaps). It fails in background noise; use the
    WebRTC VAD for real audio. Any sample rate that is a multiple of 50 Hz (20 ms frames of
    whole samples) works.
    """

    def __init__(self, settings: VadSettings, sample_rate: int) -> None:
        super().__init__(settings, sample_rate)
        gate_dbfs = -60.0 + 40.0 * settings.threshold
        gate: float = 32768.0 * 10.0 ** (gate_dbfs / 20.0)
        self._gate_energy = gate * gate * (self._frame_bytes // 2)

    def _is_speech(self, frame: bytes) -> bool:
        x = _pcm16_array(frame).astype(np.float64)
        return float(np.dot(x, x)) > self._gate_energy


def _pcm16_array(pcm16: bytes) -> npt.NDArray[np.int16]:
    return np.frombuffer(pcm16, dtype="<i2").astype(np.int16, copy=False)


def _array_pcm16(x: npt.NDArray[np.int16]) -> bytes:
    return x.astype("<i2").tobytes()


# --------------------------------------------------------------------------------------------
# Speech to text
# --------------------------------------------------------------------------------------------


class SpeechToText(Protocol):
    """Speech-to-text for whole stretches of speech. The server transcribes an utterance
    while it is spoken by cutting it at pauses and transcribing each segment whole
    (``_segments.py``).

    Implementations are synchronous; the speech worker runs them in another process, so they
    must be picklable (keep configuration in fields and load models lazily, e.g. into a
    module-level cache keyed by the configuration). An optional ``warm_up()`` method, if
    present, is called when a worker process starts.
    """

    def transcribe(self, pcm16: bytes, rate: int) -> str:
        """Transcribe one whole utterance or segment of one.

        Args:
            pcm16: mono PCM16, the audio (a turn from ``audio_start_ms`` to ``audio_end_ms``,
                or a segment of it).
            rate: its sample rate in Hz.

        Returns:
            The transcript (lower-case words for pocketsphinx); ``""`` for no speech. The same
            audio gives the same transcript.
        """
        ...


DEFAULT_TRANSCRIPTS: Final = (
    "hello",
    "what is the weather in paris today",
    "call the function get time",
    "what time is it",
)
"""The protocol-only transcripts: entry ``i`` for utterances of ``i`` whole seconds, cycling."""


@attrs.frozen
class TableSTT:
    """Protocol-only speech-to-text: no recognition, a transcript from a fixed table.

    The rule: an utterance of ``d`` ms gets ``table[(d // bucket_ms) % len(table)]``. With the
    defaults, a turn shorter than 1 s is ``"hello"``, 1-2 s ``"what is the weather in paris
    today"``, 2-3 s ``"call the function get time"``, 3-4 s ``"what time is it"``, and so on
    round. A turn's length includes the VAD's prefix padding and silence window; a turn cut
    into segments gets an entry per segment that holds sound.

    Attributes:
        table: the transcripts, at least one.
        bucket_ms: the duration step between entries, in ms.
    """

    table: tuple[str, ...] = DEFAULT_TRANSCRIPTS
    bucket_ms: int = 1000

    def __attrs_post_init__(self) -> None:
        if not self.table:
            raise ValueError("table must hold at least one transcript")
        if self.bucket_ms <= 0:
            raise ValueError(f"bucket_ms must be positive, got {self.bucket_ms}")

    def transcript_for(self, duration_ms: int) -> str:
        """The transcript of an utterance lasting ``duration_ms``."""
        return self.table[(duration_ms // self.bucket_ms) % len(self.table)]

    def transcribe(self, pcm16: bytes, rate: int) -> str:
        """The table entry for the utterance's duration; the audio itself is not looked at."""
        return self.transcript_for(len(pcm16) // 2 * 1000 // rate)


# --------------------------------------------------------------------------------------------
# Text to speech
# --------------------------------------------------------------------------------------------


class TextToSpeech(Protocol):
    """Text-to-speech for the server's replies.

    Synchronous and picklable, like :class:`SpeechToText` (the speech worker runs it in
    another process); an optional ``warm_up()`` is called when a worker process starts.
    """

    def synthesize(self, text: str, rate: int) -> bytes:
        """Speak ``text``.

        Args:
            text: the reply, plain text.
            rate: the output sample rate in Hz (24000 for OpenAI and Gemini output).

        Returns:
            Mono PCM16 at ``rate``; ``b""`` for text with nothing to say.
        """
        ...


@attrs.frozen
class ToneTTS:
    """Protocol-only text-to-speech: a sine tone as long as the text would take to say.

    ``len(text) * ms_per_char`` ms of a ``frequency_hz`` tone at ``amplitude`` (fraction of
    full scale), with 5 ms fades; the default 60 ms per character is about espeak-ng's pace at
    175 words per minute. Deterministic, and loud enough (-12 dBFS) for :class:`EnergyVad`.
    """

    frequency_hz: float = 440.0
    ms_per_char: int = 60
    amplitude: float = 0.25

    def duration_ms(self, text: str) -> int:
        """How long the tone for ``text`` lasts, in ms."""
        return len(text) * self.ms_per_char

    def synthesize(self, text: str, rate: int) -> bytes:
        """A tone of :meth:`duration_ms` at ``rate`` Hz, as PCM16."""
        if rate <= 0:
            raise ValueError(f"rate must be a positive integer, got {rate!r}")
        n = self.duration_ms(text) * rate // 1000
        if n == 0:
            return b""
        t = np.arange(n, dtype=np.float64) / rate
        y = np.sin(2.0 * np.pi * self.frequency_hz * t) * (self.amplitude * 32767.0)
        fade = min(n // 2, rate // 200)
        if fade:
            ramp = np.linspace(0.0, 1.0, fade, endpoint=False)
            y[:fade] *= ramp
            y[n - fade :] *= ramp[::-1]
        return _array_pcm16(np.round(y).astype(np.int16))


# --------------------------------------------------------------------------------------------
# Bundles
# --------------------------------------------------------------------------------------------


@attrs.frozen
class SpeechEngines:
    """The speech engines the local server uses.

    Attributes:
        vad_factory: creates one :class:`VoiceActivityDetector` per stream; runs inline.
        stt: speech-to-text; picklable when ``offload`` is true.
        tts: text-to-speech; picklable when ``offload`` is true.
        offload: run ``stt`` and ``tts`` in worker processes (true for real engines, which hold
            the GIL for hundreds of ms); false runs them inline on the event loop, for engines
            that cost microseconds.
    """

    vad_factory: VadFactory
    stt: SpeechToText
    tts: TextToSpeech
    offload: bool = True


_REAL_ENGINE_MODULES: Final = (
    ("webrtcvad", "webrtcvad-wheels"),
    ("pocketsphinx", "pocketsphinx"),
    ("espeakng_loader", "espeakng-loader"),
    ("trio_parallel", "trio-parallel"),
)


def default_engines() -> SpeechEngines:
    """The real speech engines: WebRTC VAD, pocketsphinx (bundled en-us model), espeak-ng.

    Returns:
        ``SpeechEngines(WebRtcVad, PocketSphinxSTT(), EspeakNgTTS(), offload=True)`` from
        :mod:`rtsession.local._engines`.

    Raises:
        SpeechEngineUnavailableError: a package of the ``local`` extra is missing; the message
            says ``pip install 'rtsession[local]'``.
    """
    missing: list[str] = []
    for module, distribution in _REAL_ENGINE_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(distribution)
    if missing:
        raise SpeechEngineUnavailableError(
            "the local server's speech engines need the packages "
            f"{', '.join(missing)}, which are not installed; install them with "
            "pip install 'rtsession[local]' (or use protocol_only_engines() for no speech work)"
        )
    from ._engines import EspeakNgTTS, PocketSphinxSTT, WebRtcVad

    return SpeechEngines(WebRtcVad, PocketSphinxSTT(), EspeakNgTTS(), offload=True)


def protocol_only_engines() -> SpeechEngines:
    """Engines that do no speech work, for benchmarks: :class:`EnergyVad`, :class:`TableSTT`,
    :class:`ToneTTS`, run inline (microseconds per call, no worker processes)."""
    return SpeechEngines(EnergyVad, TableSTT(), ToneTTS(), offload=False)
