"""Voice activity detection for the local server: the detector interface, the frame-based
detector every engine builds on, and the protocol-only energy gate.

Audio is mono 16-bit signed little-endian PCM ("PCM16") ``bytes`` with its sample rate in Hz
passed alongside. Times are integer milliseconds since the start of the stream.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final, Protocol, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

__all__ = [
    "FRAME_MS",
    "EnergyVad",
    "FramedVad",
    "SpeechStarted",
    "SpeechStopped",
    "StreamResampler",
    "VadEvent",
    "VadFactory",
    "VadSettings",
    "VoiceActivityDetector",
    "array_pcm16",
    "pcm16_array",
]

FRAME_MS: Final = 20
"""The VAD decision frame, in ms: speech start and stop positions are multiples of it."""


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
"""What a ``VoiceActivityDetector`` reports."""


class VoiceActivityDetector(Protocol):
    """A streaming voice activity detector: PCM16 chunks in, speech start/stop events out.

    One detector follows one audio stream (one connection). It is a synchronous, cheap state
    machine (microseconds per 20 ms frame) that the server calls inline on the event loop. It
    decides on ``FRAME_MS`` frames, so positions are multiples of 20 ms, counted from the
    samples received: exact sample positions at the stream's rate, not wall-clock times.

    Create detectors with a ``VadFactory`` (``factory(settings, sample_rate)``). To change
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
            pcm16: mono PCM16 at ``sample_rate``, any length (an odd trailing byte is kept
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

    Subclasses decide one frame at a time in ``_is_speech``. The frames are
    ``FRAME_MS`` long at ``frame_rate`` (the input rate unless a subclass whose
    classifier needs another rate passes ``frame_rate`` and a ``StreamResampler`` to it).

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
        """Feed the next chunk; see ``VoiceActivityDetector.process``."""
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
        """Decide on the audio held back; see ``VoiceActivityDetector.flush``."""
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
        """Forget speech in progress; see ``VoiceActivityDetector.reset``."""
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
        x = pcm16_array(frame).astype(np.float64)
        return float(np.dot(x, x)) > self._gate_energy


def pcm16_array(pcm16: bytes) -> npt.NDArray[np.int16]:
    return np.frombuffer(pcm16, dtype="<i2").astype(np.int16, copy=False)


def array_pcm16(x: npt.NDArray[np.int16]) -> bytes:
    return x.astype("<i2").tobytes()
