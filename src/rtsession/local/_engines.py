"""The real speech engines: WebRTC VAD, pocketsphinx speech-to-text, espeak-ng text-to-speech.

Everything comes from pip wheels with bundled models (the ``local`` extra); nothing is
downloaded at run time:

- ``webrtcvad-wheels``: the WebRTC voice activity detector (C, ~2 µs per 20 ms frame).
- ``pocketsphinx``: CMU Sphinx recognition with the en-us acoustic model, trigram language
  model and dictionary shipped in the wheel. It holds the GIL while decoding (about 0.1-0.4 s
  of CPU per second of audio), so the server runs it in a worker process.
- ``espeakng-loader``: ``libespeak-ng`` 1.52 and its data, called through ctypes in a
  short-lived helper process (see ``EspeakNgTTS`` for why).
- ``soxr`` (through ``rtsession.audio``): sample-rate conversion.

The untyped third-party modules are imported with ``# type: ignore[import-untyped]`` and used
only inside the typed wrappers below.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any, Final, TypeAlias

import attrs
import espeakng_loader  # type: ignore[import-untyped]
import pocketsphinx  # type: ignore[import-untyped]
import webrtcvad  # type: ignore[import-untyped]

from ..audio import Resampler, resample
from ._vad import FramedVad, VadSettings

__all__ = [
    "MODEL_RATE",
    "EspeakNgTTS",
    "PocketSphinxSTT",
    "WebRtcVad",
    "webrtc_mode",
]

# --------------------------------------------------------------------------------------------
# VAD
# --------------------------------------------------------------------------------------------

_WEBRTC_RATES: Final = frozenset({8000, 16000, 32000, 48000})
_WEBRTC_FALLBACK_RATE: Final = 16000


def webrtc_mode(threshold: float) -> int:
    """The WebRTC VAD aggressiveness (0-3) for an OpenAI ``server_vad`` threshold (0.0-1.0):
    ``min(3, int(threshold * 4))``, so the default 0.5 is mode 2."""
    return min(3, max(0, int(threshold * 4)))


class WebRtcVad(FramedVad):
    """A ``VoiceActivityDetector`` on the WebRTC VAD.

    It classifies 20 ms frames at 8, 16, 32 or 48 kHz; other input rates (OpenAI's 24 kHz)
    are converted to 16 kHz by a streaming soxr resampler (quality ``"LQ"``, which holds back
    about 10-20 ms of audio) whose output is time-aligned with the input, so positions stay
    exact. Accurate on clean and moderately noisy speech; a constant loud noise can keep it in
    "speech" (the reference measured it stuck at 10 dB SNR).

    Args:
        settings: turn-detection parameters; ``threshold`` picks the aggressiveness mode
            (``webrtc_mode``).
        sample_rate: the input rate in Hz.
    """

    def __init__(self, settings: VadSettings, sample_rate: int) -> None:
        if sample_rate in _WEBRTC_RATES:
            super().__init__(settings, sample_rate)
        else:
            super().__init__(
                settings,
                sample_rate,
                frame_rate=_WEBRTC_FALLBACK_RATE,
                resampler=Resampler(sample_rate, _WEBRTC_FALLBACK_RATE, quality="LQ"),
            )
        self._mode = webrtc_mode(settings.threshold)
        self._vad: Any = webrtcvad.Vad(self._mode)

    @property
    def mode(self) -> int:
        """The WebRTC aggressiveness mode in use (0-3)."""
        return self._mode

    def _is_speech(self, frame: bytes) -> bool:
        return bool(self._vad.is_speech(frame, self.frame_rate))


# --------------------------------------------------------------------------------------------
# Speech to text
# --------------------------------------------------------------------------------------------

MODEL_RATE: Final = 16000
"""The sample rate of pocketsphinx's en-us acoustic model, in Hz; other rates are resampled."""

OptionValue: TypeAlias = str | int | float | bool
_DecoderKey: TypeAlias = tuple[tuple[str, OptionValue], ...]

# Warm decoders, per process, keyed by their full configuration. A worker process keeps them
# across calls, so only the first call in a process pays for loading the model (~0.4 s,
# ~100 MB each). pocketsphinx decoders are not thread-safe: _LOCK serializes their use.
_BATCH_DECODERS: dict[_DecoderKey, Any] = {}
_LOCK: Final = threading.Lock()


def _new_decoder(key: _DecoderKey) -> Any:
    return pocketsphinx.Decoder(**dict(key))


def _hypothesis(decoder: Any) -> str:
    hyp = decoder.hyp()
    return "" if hyp is None else str(hyp.hypstr)


@attrs.frozen
class PocketSphinxSTT:
    """Speech-to-text with pocketsphinx and the en-us model bundled in its wheel.

    Deterministic: every utterance starts from the same feature state (``reinit_feat`` before
    ``start_utt``), so the same audio gives the same transcript whatever was decoded before.
    ``transcribe`` decodes the whole audio in one batch, with the cepstral mean of the
    whole (the most accurate mode: a live first-pass decode of an old recording came out
    mostly wrong), which is why the server decodes an utterance segment by segment.

    Expect, with the default language model: near-perfect transcripts of clear synthetic speech
    (flite voices; espeak-ng ``+klatt3`` about 12 % word errors), 25-40 % word errors on clean
    human speech, more on old or noisy recordings. A domain language model (``lm``) built from
    the phrases a test uses brings synthetic speech to 0 %.

    The object is only configuration (picklable, hashable); decoders live in a per-process
    cache keyed by it.

    Attributes:
        lm: path of an n-gram language model (ARPA or binary) replacing the bundled one, e.g.
            built with ``pocketsphinx.lm.ArpaBoLM``; ``None`` for the bundled en-us model.
        dictionary: path of a pronunciation dictionary; ``None`` for the bundled one.
        options: further ``pocketsphinx.Decoder`` options as ``(name, value)`` pairs, e.g.
            ``(("beam", 1e-40),)``.
    """

    lm: str | None = None
    dictionary: str | None = None
    options: tuple[tuple[str, OptionValue], ...] = ()

    def _key(self) -> _DecoderKey:
        config: dict[str, OptionValue] = {"logfn": os.devnull}
        if self.lm is not None:
            config["lm"] = self.lm
        if self.dictionary is not None:
            config["dict"] = self.dictionary
        config.update(self.options)
        return tuple(sorted(config.items()))

    def warm_up(self) -> None:
        """Load the batch decoder now (a worker calls this when it starts)."""
        key = self._key()
        with _LOCK:
            if key not in _BATCH_DECODERS:
                _BATCH_DECODERS[key] = _new_decoder(key)

    def transcribe(self, pcm16: bytes, rate: int) -> str:
        """Transcribe one whole utterance; see ``SpeechToText.transcribe``.

        Holds the GIL for the whole decode (about 0.15 s per second of clear speech, up to
        0.4 s per second of noisy speech on a 2-vCPU VM).

        Raises:
            ValueError: ``rate`` is not a positive integer.
        """
        audio = _to_model_rate(pcm16, rate)
        if not audio:
            return ""
        key = self._key()
        with _LOCK:
            decoder = _BATCH_DECODERS.get(key)
            if decoder is None:
                decoder = _BATCH_DECODERS[key] = _new_decoder(key)
            decoder.reinit_feat()
            decoder.start_utt()
            try:
                decoder.process_raw(audio, full_utt=True)
            finally:
                decoder.end_utt()
            return _hypothesis(decoder)


def _to_model_rate(pcm16: bytes, rate: int) -> bytes:
    if rate <= 0:
        raise ValueError(f"rate must be a positive integer, got {rate!r}")
    data = bytes(pcm16[: len(pcm16) - len(pcm16) % 2])
    return data if rate == MODEL_RATE else resample(data, rate, MODEL_RATE)


# --------------------------------------------------------------------------------------------
# Text to speech
# --------------------------------------------------------------------------------------------

# Runs in a fresh interpreter (python -I -S: no site-packages, stdlib ctypes only).
# argv: library path, data path, voice, words per minute; stdin: UTF-8 text.
# stdout: the sample rate (4 bytes little-endian) then PCM16 little-endian mono.
_ESPEAK_HELPER: Final = r"""
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                             ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
out = []
@ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
def on_audio(wav, n, events):
    if wav and n > 0:
        out.append(ctypes.string_at(wav, 2 * n))
    return 0
rate = lib.espeak_Initialize(2, 0, sys.argv[2].encode(), 0)  # AUDIO_OUTPUT_SYNCHRONOUS
if rate <= 0:
    sys.exit("espeak_Initialize failed")
lib.espeak_SetSynthCallback(on_audio)
if lib.espeak_SetVoiceByName(sys.argv[3].encode()) != 0:
    sys.stderr.write("no such voice"); sys.exit(3)
lib.espeak_SetParameter(1, int(sys.argv[4]), 0)  # espeakRATE, absolute
text = sys.stdin.buffer.read() + b"\0"
# espeakCHARS_UTF8 | espeakENDPAUSE
if lib.espeak_Synth(text, len(text), 0, 0, 0, 0x1001, None, None) != 0:
    sys.exit("espeak_Synth failed")
lib.espeak_Synchronize()
pcm = b"".join(out)
if sys.byteorder == "big":
    import array
    a = array.array("h", pcm); a.byteswap(); pcm = a.tobytes()
sys.stdout.buffer.write(rate.to_bytes(4, "little") + pcm)
"""


@attrs.frozen
class EspeakNgTTS:
    """Text-to-speech with espeak-ng 1.52 from the ``espeakng-loader`` wheel (no system
    espeak-ng needed).

    Each call runs a fresh, minimal Python process (``python -I -S``, stdlib ``ctypes``
    only) that loads the wheel's ``libespeak-ng`` and its data, synthesizes, and writes the
    samples to a pipe. espeak-ng keeps synthesis state in C globals (pitch-flutter and wave
    phase, the Klatt noise generator) that no API resets, so in one process the same text
    gives slightly different audio every time; a fresh process per call makes the output
    byte-identical for the same text and settings. It costs about 25 ms per sentence (process
    start included) instead of ~5 ms, and keeps the GPL-3 library out of the server's process.

    The audio comes out at 22.05 kHz and is converted to the requested rate with soxr.

    Attributes:
        voice: an espeak-ng voice name; the default ``"en-us+klatt3"`` is the variant that
            pocketsphinx recognises best (about 12-15 % word errors, against 50-100 % for the
            plain ``"en-us"``), which keeps TTS -> STT round trips meaningful.
        words_per_minute: speaking rate (espeak-ng default 175).
    """

    voice: str = "en-us+klatt3"
    words_per_minute: int = 175

    def warm_up(self) -> None:
        """Synthesize one word, so the library and voice data are in the page cache."""
        self.synthesize("ready", MODEL_RATE)

    def synthesize(self, text: str, rate: int) -> bytes:
        """Speak ``text``; see ``TextToSpeech.synthesize``.

        Raises:
            ValueError: ``rate`` is not positive, or espeak-ng has no voice ``voice``.
            RuntimeError: the helper process failed.
        """
        if rate <= 0:
            raise ValueError(f"rate must be a positive integer, got {rate!r}")
        if not text.strip():
            return b""
        args = [
            sys.executable,
            "-I",
            "-S",
            "-c",
            _ESPEAK_HELPER,
            str(espeakng_loader.get_library_path()),
            str(espeakng_loader.get_data_path()),
            self.voice,
            str(self.words_per_minute),
        ]
        proc = subprocess.run(args, input=text.encode("utf-8"), capture_output=True, check=False)
        if proc.returncode == 3:
            raise ValueError(f"espeak-ng has no voice {self.voice!r}")
        if proc.returncode != 0 or len(proc.stdout) < 4:
            detail = proc.stderr.decode("utf-8", "replace").strip()
            raise RuntimeError(f"espeak-ng failed (exit code {proc.returncode}): {detail}")
        native_rate = int.from_bytes(proc.stdout[:4], "little")
        return resample(proc.stdout[4:], native_rate, rate)
