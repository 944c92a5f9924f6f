"""The offline stand-in server: realtime APIs spoken from the server side, on loopback.

``serve_local`` (for ``nursery.start``) and ``open_local_server`` (an async context manager)
run a WebSocket server that speaks OpenAI Realtime (GA, and beta as OpenAI with
``OpenAI-Beta: realtime=v1`` and Azure preview serve it) and Gemini Live (with resumption
handles, ``LocalServer.send_go_away`` and optional TLS) with the project's own codecs: turn
detection, transcription, deterministic rule-based replies that can call the session's tools,
and speech synthesis, with pluggable speech engines (real ones from the ``local`` extra, or
protocol-only ones that do no speech work). The official SDKs connect to it as to the service.
See ``docs/local-server.md`` for the behaviour and the reply rules.
"""

from .._public import publish
from ._server import (
    LocalServer as LocalServer,
    check_close as check_close,
    open_local_server as open_local_server,
    serve_local as serve_local,
)
from ._speech import (
    SpeechEngines as SpeechEngines,
    SpeechEngineUnavailableError as SpeechEngineUnavailableError,
    default_engines as default_engines,
    protocol_only_engines as protocol_only_engines,
)
from ._stt import (
    DEFAULT_TRANSCRIPTS as DEFAULT_TRANSCRIPTS,
    SpeechToText as SpeechToText,
    TableSTT as TableSTT,
)
from ._tts import TextToSpeech as TextToSpeech, ToneTTS as ToneTTS
from ._vad import (
    FRAME_MS as FRAME_MS,
    EnergyVad as EnergyVad,
    FramedVad as FramedVad,
    SpeechStarted as SpeechStarted,
    SpeechStopped as SpeechStopped,
    StreamResampler as StreamResampler,
    VadEvent as VadEvent,
    VadFactory as VadFactory,
    VadSettings as VadSettings,
    VoiceActivityDetector as VoiceActivityDetector,
)
from ._worker import (
    SpeechWorker as SpeechWorker,
    SpeechWorkerError as SpeechWorkerError,
    open_speech_worker as open_speech_worker,
)

__all__ = [
    "DEFAULT_TRANSCRIPTS",
    "FRAME_MS",
    "EnergyVad",
    "FramedVad",
    "LocalServer",
    "check_close",
    "SpeechEngineUnavailableError",
    "SpeechEngines",
    "SpeechStarted",
    "SpeechStopped",
    "SpeechToText",
    "SpeechWorker",
    "SpeechWorkerError",
    "StreamResampler",
    "TableSTT",
    "TextToSpeech",
    "ToneTTS",
    "VadEvent",
    "VadFactory",
    "VadSettings",
    "VoiceActivityDetector",
    "default_engines",
    "open_local_server",
    "open_speech_worker",
    "protocol_only_engines",
    "serve_local",
]

publish(__name__, globals())
del publish
