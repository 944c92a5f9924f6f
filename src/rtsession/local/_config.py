"""Session configuration on the server side: the service's defaults, ``session.update`` merging
and validation, and the settings a ``response.create`` runs with.

Defaults and checks follow the GA service
(https://platform.openai.com/docs/api-reference/realtime); errors carry the service's codes
and the GA ``param`` paths.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, Final, Literal, TypeVar

import attrs

from .. import messages as m
from ..wire.openai import PCM_RATE
from ._response import ResponseSettings
from ._vad import VadSettings

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "GA_MODALITIES",
    "RequestError",
    "ServiceRules",
    "default_session",
    "default_transcription_session",
    "merge_session",
    "opening_session",
    "response_settings",
    "vad_settings",
]

DEFAULT_INSTRUCTIONS: Final = (
    "You are the rtsession local server. You answer by fixed rules (docs/local-server.md): "
    "greetings, the weather, the time, your functions, and otherwise you repeat what you heard."
)
DEFAULT_VOICE: Final = "marin"
DEFAULT_SERVER_VAD: Final = m.ServerVad(
    threshold=0.5,
    prefix_padding_ms=300,
    silence_duration_ms=200,
    create_response=True,
    interrupt_response=True,
)
SEMANTIC_SILENCE_MS: Final = {"low": 1000, "medium": 500, "auto": 500, "high": 200}
"""Silence that ends a turn under ``semantic_vad``, in ms, by eagerness: the local server has
no semantic model, so semantic VAD is server VAD with this silence window."""
MAX_METADATA_PAIRS: Final = 16

T = TypeVar("T")


class RequestError(Exception):
    """A client event the server refuses; the connection answers it with an ``error`` event
    (``type: "invalid_request_error"``) and goes on.

    Attributes:
        code: the service's error code (e.g. ``"invalid_value"``), or ``None``.
        message: the human-readable message.
        param: the GA path of the offending field (e.g. ``"session.audio.output.speed"``).
    """

    def __init__(self, code: str | None, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


def default_session(model: str, rate: int) -> m.SessionOptions:
    """The session a new connection starts with (``session.created``): the service's defaults.

    Args:
        model: the model named in the connection URL.
        rate: the PCM sample rate of input and output audio, in Hz.
    """
    pcm = m.AudioFormat(type="audio/pcm", rate=rate)
    return m.SessionOptions(
        kind="conversation",
        model=model,
        instructions=DEFAULT_INSTRUCTIONS,
        voice=DEFAULT_VOICE,
        input_audio_format=pcm,
        output_audio_format=pcm,
        output_modalities=("audio",),
        output_speed=1.0,
        tools=(),
        tool_choice="auto",
        max_output_tokens="inf",
        input_transcription=m.DISABLED,
        turn_detection=DEFAULT_SERVER_VAD,
        noise_reduction=m.DISABLED,
        openai=m.OpenAISessionOptions(truncation="auto"),
    )


DEFAULT_TRANSCRIPTION_MODEL: Final = "gpt-4o-transcribe"


def default_transcription_session(rate: int) -> m.SessionOptions:
    """The session a connection opened with ``?intent=transcription`` starts with: only the
    input settings a transcription session has (``session.type: "transcription"``), transcription
    on.

    Args:
        rate: the PCM sample rate of input audio, in Hz.
    """
    return m.SessionOptions(
        kind="transcription",
        input_audio_format=m.AudioFormat(type="audio/pcm", rate=rate),
        input_transcription=m.InputTranscription(model=DEFAULT_TRANSCRIPTION_MODEL),
        turn_detection=DEFAULT_SERVER_VAD,
        noise_reduction=m.DISABLED,
    )


def opening_session(query: Mapping[str, str], model: str, rate: int) -> m.SessionOptions:
    """The session a connection starts with: a transcription session when the URL asks for
    one (``intent=transcription``), else a conversation with ``model``."""
    if query.get("intent") == "transcription":
        return default_transcription_session(rate)
    return default_session(model, rate)


def _check_format(
    fmt: m.AudioFormat, default_rate: int, rates: Collection[int], param: str
) -> m.AudioFormat:
    if fmt.type != "audio/pcm":
        return fmt  # G.711: 8000 Hz, no rate to check
    rate = default_rate if fmt.rate is None else fmt.rate
    if rate not in rates:
        supported = ", ".join(str(r) for r in sorted(rates))
        raise RequestError(
            "invalid_value",
            f"Invalid value: {rate}. Supported values are: {supported}.",
            f"{param}.rate",
        )
    return attrs.evolve(fmt, rate=rate)


GA_MODALITIES: Final[tuple[tuple[m.Modality, ...], ...]] = (("text",), ("audio",))
"""The output modalities the GA service accepts (audio output comes with its transcript)."""


def _same(param: str) -> str:
    return param


@attrs.frozen
class ServiceRules:
    """Where a dialect's service checks differently from the GA rules of the shared state
    machine.

    The defaults are the OpenAI service's; Gemini Live's are ``_gemini.GEMINI_RULES``.

    Attributes:
        rates: the PCM sample rates (Hz) a session may set for its audio formats.
        modalities: the output modality combinations accepted, in any order (the beta
            service takes ``["text"]`` and ``["audio", "text"]``).
        param: the dialect's name for a GA parameter path in ``error`` events (the beta
            dialect's ``session.modalities`` for ``session.output_modalities``).
        greets: the server speaks first, ``session.created`` as soon as the client connects;
            ``False``: it waits for the client's setup.
        setup_first: the client's first message must be its setup (a ``SessionUpdate``,
            which may resume a session by handle), answered with ``SessionCreated``;
            anything else first is refused.
        turn_commit: ``InputAudioBufferCommit`` ends the user's turn (Gemini ``activityEnd``,
            answered; ``audioStreamEnd``, which ends the speech in progress) and is never
            refused; ``False``: it commits the buffer, and a buffer under 100 ms is refused.
        answers_tool_outputs: once every function call has its output, the model answers
            without being asked.
        one_response: a request to answer while a response runs is ignored; ``False``: it
            is refused (``conversation_already_has_active_response``).
        close_on_error: a refused request closes the connection with this code and the
            message as the reason; ``None``: it gets an ``error`` event.
    """

    rates: frozenset[int]
    modalities: tuple[tuple[m.Modality, ...], ...] = GA_MODALITIES
    param: Callable[[str], str] = _same
    greets: bool = True
    setup_first: bool = False
    turn_commit: bool = False
    answers_tool_outputs: bool = False
    one_response: bool = False
    close_on_error: int | None = None

    def check_modalities(self, modalities: tuple[m.Modality, ...], param: str) -> None:
        """Raises RequestError unless ``modalities`` is one of the accepted combinations."""
        if len(set(modalities)) == len(modalities) and any(
            set(modalities) == set(accepted) for accepted in self.modalities
        ):
            return
        *first, last = (str(list(accepted)) for accepted in self.modalities)
        supported = f"{', '.join(first)} and {last}" if first else last
        raise RequestError(
            "invalid_value",
            f"Invalid modalities: {list(modalities)}. Supported combinations are: {supported}.",
            param,
        )


def _check_max_tokens(value: int | Literal["inf"], param: str) -> None:
    if value != "inf" and not 1 <= value <= 4096:
        raise RequestError(
            "invalid_value",
            f"Invalid value: {value}. Expected an integer from 1 to 4096, or 'inf'.",
            param,
        )


def _range_error(value: float, low: float, high: float | None, param: str) -> RequestError:
    bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
    return RequestError(
        "invalid_value", f"Invalid value: {value}. Expected a value {bound}.", param
    )


def _default(value: T | None, default: T | None) -> T | None:
    return default if value is None else value


def _normalize_turn_detection(td: m.TurnDetection) -> m.TurnDetection:
    param = "session.audio.input.turn_detection"
    if isinstance(td, m.SemanticVad):
        return m.SemanticVad(
            eagerness=td.eagerness or "auto",
            create_response=td.create_response is not False,
            interrupt_response=td.interrupt_response is not False,
        )
    if not isinstance(td, m.ServerVad):
        return td
    d = DEFAULT_SERVER_VAD
    vad = m.ServerVad(
        threshold=_default(td.threshold, d.threshold),
        prefix_padding_ms=_default(td.prefix_padding_ms, d.prefix_padding_ms),
        silence_duration_ms=_default(td.silence_duration_ms, d.silence_duration_ms),
        idle_timeout_ms=td.idle_timeout_ms,
        create_response=td.create_response is not False,
        interrupt_response=td.interrupt_response is not False,
    )
    if vad.threshold is not None and not 0.0 <= vad.threshold <= 1.0:
        raise _range_error(vad.threshold, 0.0, 1.0, f"{param}.threshold")
    for name in ("prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
        value = getattr(vad, name)
        if value is not None and value < 0:
            raise _range_error(value, 0, None, f"{param}.{name}")
    return vad


def merge_session(
    current: m.SessionOptions,
    update: m.SessionOptions,
    *,
    rules: ServiceRules,
    audio_present: bool,
) -> m.SessionOptions:
    """Apply a ``session.update``: the fields it sets replace the current ones.

    Turn detection and audio formats are completed with the defaults (a ``server_vad`` with
    only a threshold gets the default padding and silence), as the service reports them.

    Args:
        current: the session in force.
        update: the ``session.update`` payload.
        rules: the dialect's service rules (rates, modalities).
        audio_present: the conversation holds assistant audio (the voice is then fixed).

    Raises:
        RequestError: a value the service would refuse; nothing changes then.
    """
    if update.kind != current.kind:
        raise RequestError(
            "invalid_value",
            "The session type cannot be changed on an open session.",
            "session.type",
        )
    if audio_present and update.voice is not None and update.voice != current.voice:
        raise RequestError(
            "cannot_update_voice",
            "Cannot update a conversation's voice if assistant audio is present.",
        )
    changes: dict[str, Any] = {}
    rate = (current.input_audio_format or m.AudioFormat()).rate or PCM_RATE
    if update.input_audio_format is not None:
        changes["input_audio_format"] = _check_format(
            update.input_audio_format, rate, rules.rates, "session.audio.input.format"
        )
    if update.output_audio_format is not None:
        changes["output_audio_format"] = _check_format(
            update.output_audio_format, rate, rules.rates, "session.audio.output.format"
        )
    if update.output_modalities is not None:
        rules.check_modalities(update.output_modalities, "session.output_modalities")
    if update.output_speed is not None and not 0.25 <= update.output_speed <= 1.5:
        raise _range_error(update.output_speed, 0.25, 1.5, "session.audio.output.speed")
    if update.max_output_tokens is not None:
        _check_max_tokens(update.max_output_tokens, "session.max_output_tokens")
    if update.turn_detection is not None:
        changes["turn_detection"] = _normalize_turn_detection(update.turn_detection)
    return m.merge_options(current, attrs.evolve(update, **changes))


def vad_settings(turn_detection: m.TurnDetection | None) -> VadSettings | None:
    """The detector settings for a session's turn detection; ``None`` for push-to-talk."""
    if isinstance(turn_detection, m.ServerVad):
        return VadSettings(
            threshold=0.5 if turn_detection.threshold is None else turn_detection.threshold,
            prefix_padding_ms=turn_detection.prefix_padding_ms or 0,
            silence_duration_ms=turn_detection.silence_duration_ms or 0,
        )
    if isinstance(turn_detection, m.SemanticVad):
        return VadSettings(
            silence_duration_ms=SEMANTIC_SILENCE_MS[turn_detection.eagerness or "auto"]
        )
    return None


def response_settings(
    session: m.SessionOptions, request: m.ResponseCreate, *, rules: ServiceRules
) -> ResponseSettings:
    """The settings of a response: the session's, overridden by ``response.create.response``.

    Raises:
        RequestError: an override the service would refuse.
    """
    modalities = request.output_modalities or session.output_modalities or ("audio",)
    if request.output_modalities is not None:
        rules.check_modalities(modalities, "response.output_modalities")
    session_format = session.output_audio_format or m.AudioFormat(rate=PCM_RATE)
    fmt = session_format
    if request.output_audio_format is not None:
        fmt = _check_format(
            request.output_audio_format,
            session_format.rate or PCM_RATE,
            rules.rates,
            "response.audio.output.format",
        )
    max_tokens = request.max_output_tokens or session.max_output_tokens or "inf"
    if request.max_output_tokens is not None:
        _check_max_tokens(max_tokens, "response.max_output_tokens")
    metadata = request.metadata
    if metadata is not None and (
        len(metadata) > MAX_METADATA_PAIRS
        or any(len(k) > 64 or len(v) > 512 for k, v in metadata.items())
    ):
        raise RequestError(
            "invalid_value",
            "metadata holds at most 16 pairs, keys of at most 64 and values of at most 512 "
            "characters.",
            "response.metadata",
        )
    return ResponseSettings(
        output_modalities=modalities,
        voice=request.voice or session.voice or DEFAULT_VOICE,
        output_format=fmt,
        instructions=session.instructions if request.instructions is None else request.instructions,
        tools=(session.tools or ()) if request.tools is None else request.tools,
        tool_choice=request.tool_choice or session.tool_choice or "auto",
        max_output_tokens=max_tokens,
        metadata=metadata,
    )
