"""Speech engine interfaces of the local server, and the protocol-only engines.

The local server turns incoming audio into turns with a ``VoiceActivityDetector``, the
turns into text with a ``SpeechToText``, and its reply text into audio with a
``TextToSpeech``. A ``SpeechEngines`` bundle carries one of each; the server takes
the bundle and runs the slow parts through ``rtsession.local._worker.open_speech_worker``.

Two bundles are built in:

- ``default_engines`` -- real speech: the WebRTC VAD, pocketsphinx with its bundled en-us
  model, espeak-ng from the ``espeakng-loader`` wheel. All from pip (the ``local`` extra), with
  bundled models; nothing is downloaded at run time.
- ``protocol_only_engines`` -- no speech work, for benchmarks and protocol tests: an
  energy gate for VAD, transcripts from a fixed table chosen by the utterance's duration, and a
  sine tone whose length is proportional to the text.

Audio everywhere is mono 16-bit signed little-endian PCM ("PCM16") ``bytes`` with its sample
rate in Hz passed alongside. Times are integer milliseconds since the start of the stream.
"""

from __future__ import annotations

import importlib
from typing import Final

import attrs

from .._errors import RTSessionError
from ._stt import SpeechToText, TableSTT
from ._tts import TextToSpeech, ToneTTS
from ._vad import EnergyVad, VadFactory

__all__ = [
    "SpeechEngineUnavailableError",
    "SpeechEngines",
    "default_engines",
    "protocol_only_engines",
]


class SpeechEngineUnavailableError(RTSessionError, ImportError):
    """The packages of the real speech engines are not installed.

    Raised by ``default_engines``; the message names the missing modules and the install
    command (``pip install '.[local]' in a checkout``).
    """


@attrs.frozen
class SpeechEngines:
    """The speech engines the local server uses.

    Attributes:
        vad_factory: creates one ``VoiceActivityDetector`` per stream; runs inline.
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
        ``rtsession.local._engines``.

    Raises:
        SpeechEngineUnavailableError: a package of the ``local`` extra is missing; the message
            says ``pip install '.[local]' in a checkout``.
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
            "pip install '.[local]' in a checkout "
            "(or use protocol_only_engines() for no speech work)"
        )
    from ._engines import EspeakNgTTS, PocketSphinxSTT, WebRtcVad

    return SpeechEngines(WebRtcVad, PocketSphinxSTT(), EspeakNgTTS(), offload=True)


def protocol_only_engines() -> SpeechEngines:
    """Engines that do no speech work, for benchmarks: ``EnergyVad``, ``TableSTT``,
    ``ToneTTS``, run inline (microseconds per call, no worker processes)."""
    return SpeechEngines(EnergyVad, TableSTT(), ToneTTS(), offload=False)
