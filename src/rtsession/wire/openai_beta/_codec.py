"""The OpenAI Realtime beta (preview) wire format (``docs/openai-dialects.md``; the SDK's
``openai.types.beta.realtime``), spoken with ``OpenAI-Beta: realtime=v1`` and by
Azure OpenAI preview deployments.

The beta dialect carries the same agnostic messages as GA (``rtsession.wire.openai``) and
differs in what ``BETA`` states: six event names (``response.text.*``, ``response.audio.*``,
``response.audio_transcript.*``), ``transcription_session.*`` events for transcription sessions,
a flat session object, audio formats as strings, tool choices as strings, ``text`` / ``audio``
assistant content, and no MCP, images, image token counts, diarization, DTMF or idle timeouts.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

import cattrs

from ... import messages as m
from ..._errors import EncodeError
from ..openai._codec import CLIENT_EVENTS, GA, SERVER_EVENTS
from ..openai._common import (
    PCM_RATE,
    ConversationMode,
    Dialect,
    LazyWire,
    MaxTokens,
    OpenAICodecBase,
    Vad,
    field,
    register_type_hooks,
    translate_param,
)

__all__ = ["OpenAIBetaCodec", "beta_param"]

_RENAMED = {
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
}
"""GA event name to beta event name, where they differ."""

_GA_ONLY: frozenset[type[m.ServerMessage]] = frozenset({
    m.ConversationItemAdded,
    m.ConversationItemDone,
    m.ConversationItemInputAudioTranscriptionSegment,
    m.InputAudioBufferTimeoutTriggered,
    m.InputAudioBufferDtmfEventReceived,
    m.ResponseMcpCallArgumentsDelta,
    m.ResponseMcpCallArgumentsDone,
    m.ResponseMcpCallInProgress,
    m.ResponseMcpCallCompleted,
    m.ResponseMcpCallFailed,
    m.McpListToolsInProgress,
    m.McpListToolsCompleted,
    m.McpListToolsFailed,
})  # fmt: skip
"""Server events the beta dialect does not have (section 1h, "events only in GA")."""

_SERVER_EVENTS: dict[str, type[m.ServerMessage]] = {
    _RENAMED.get(name, name): cls for name, cls in SERVER_EVENTS.items() if cls not in _GA_ONLY
}

# --- the flat session object, the response and response.create (SDK beta models) --------------

_SESSION = (
    field("model", "model", str, only="conversation"),
    field("instructions", "instructions", str, only="conversation"),
    field("output_modalities", "modalities", tuple[m.Modality, ...], only="conversation"),
    field("voice", "voice", str, only="conversation"),
    field("input_audio_format", "input_audio_format", m.AudioFormat),
    field("output_audio_format", "output_audio_format", m.AudioFormat, only="conversation"),
    field("input_transcription", "input_audio_transcription", m.InputTranscription, nullable=True),
    field("turn_detection", "turn_detection", Vad, nullable=True),
    field("noise_reduction", "input_audio_noise_reduction", m.NoiseReduction, nullable=True),
    field("tools", "tools", tuple[m.Tool, ...], only="conversation"),
    field("tool_choice", "tool_choice", m.ToolChoice, only="conversation"),
    field("max_output_tokens", "max_response_output_tokens", MaxTokens, only="conversation"),
    field("output_speed", "speed", float, only="conversation"),
    field("openai.temperature", "temperature", float, only="conversation"),
    field("openai.tracing", "tracing", Any, only="conversation"),
    field("openai.include", "include", tuple[str, ...], only="transcription"),
)

_RESPONSE = (
    field("id", "id", str),
    field("status", "status", m.ResponseStatus),
    field("status_details", "status_details", m.ResponseStatusDetails),
    field("output", "output", tuple[m.ConversationItem, ...]),
    field("conversation_id", "conversation_id", str),
    field("output_modalities", "modalities", tuple[m.Modality, ...]),
    field("max_output_tokens", "max_output_tokens", MaxTokens),
    field("output_audio_format", "output_audio_format", m.AudioFormat),
    field("voice", "voice", str),
    field("usage", "usage", m.Usage),
    field("metadata", "metadata", dict[str, str]),
)

_RESPONSE_CREATE = (
    field("instructions", "instructions", str),
    field("output_modalities", "modalities", tuple[m.Modality, ...]),
    field("voice", "voice", str),
    field("output_audio_format", "output_audio_format", m.AudioFormat),
    field("tools", "tools", tuple[m.Tool, ...]),
    field("tool_choice", "tool_choice", m.ToolChoice),
    field("max_output_tokens", "max_response_output_tokens", MaxTokens),
    field("metadata", "metadata", dict[str, str]),
    field("conversation", "conversation", ConversationMode),
    field("input", "input", tuple[m.ConversationItem | m.ItemReference, ...]),
)

_FORMATS = {
    "pcm16": m.AudioFormat(type="audio/pcm", rate=PCM_RATE),
    "g711_ulaw": m.AudioFormat(type="audio/pcmu"),
    "g711_alaw": m.AudioFormat(type="audio/pcma"),
}
_FORMAT_NAMES = {fmt.type: name for name, fmt in _FORMATS.items()}
_MODES = ("auto", "none", "required")


def _structure_format(value: Any) -> m.AudioFormat:
    if not isinstance(value, str) or value not in _FORMATS:
        raise ValueError(f"audio format must be one of {', '.join(_FORMATS)}, not {value!r}")
    return _FORMATS[value]


def _unstructure_format(fmt: m.AudioFormat) -> str:
    if fmt.rate not in (None, PCM_RATE):
        raise EncodeError(
            f"the OpenAI beta dialect has pcm16 at {PCM_RATE} Hz only, not {fmt.rate} Hz"
        )
    return _FORMAT_NAMES[fmt.type]


def _structure_tool_choice(value: Any) -> m.ToolChoice:
    if not isinstance(value, str):
        raise TypeError(f"tool_choice: expected a string, got {type(value).__name__}")
    return cast(m.ToolChoice, value) if value in _MODES else m.ToolChoiceFunction(name=value)


def _unstructure_choice_function(choice: m.ToolChoiceFunction) -> str:
    if choice.name in _MODES:
        raise EncodeError(
            f"the OpenAI beta dialect cannot force a function named {choice.name!r}: its "
            "tool_choice string would mean that mode"
        )
    return choice.name


def _refuse_choice_mcp(_: m.ToolChoiceMcp) -> str:
    raise EncodeError("the OpenAI beta dialect cannot carry ToolChoiceMcp")


def _register_hooks(conv: cattrs.Converter) -> None:
    """Beta audio formats (``"pcm16"``, ``"g711_ulaw"``, ``"g711_alaw"``) and tool choices (a
    string: a mode, or the name of the function to force)."""
    conv.register_structure_hook(m.AudioFormat, lambda value, _: _structure_format(value))
    conv.register_unstructure_hook(m.AudioFormat, _unstructure_format)
    register_type_hooks(conv, m.ToolChoice, _structure_tool_choice)
    conv.register_unstructure_hook(m.ToolChoiceFunction, _unstructure_choice_function)
    conv.register_unstructure_hook(m.ToolChoiceMcp, _refuse_choice_mcp)


BETA = Dialect(
    name="beta",
    client_events=CLIENT_EVENTS,
    server_events=_SERVER_EVENTS,
    decode_also={n: c for n, c in SERVER_EVENTS.items() if n not in _SERVER_EVENTS},
    transcription_events={
        m.SessionUpdate: "transcription_session.update",
        m.SessionCreated: "transcription_session.created",
        m.SessionUpdated: "transcription_session.updated",
    },
    session_objects={
        "conversation": "realtime.session",
        "transcription": "realtime.transcription_session",
    },
    session=_SESSION,
    response=_RESPONSE,
    response_create=_RESPONSE_CREATE,
    part_tags={
        m.InputText: "input_text",
        m.InputAudio: "input_audio",
        m.OutputText: "text",
        m.OutputAudio: "audio",
    },
    item_tags={
        m.MessageItem: "message",
        m.FunctionCallItem: "function_call",
        m.FunctionCallOutputItem: "function_call_output",
    },
    tool_tags={m.FunctionTool: "function"},
    not_carried={
        m.ServerVad: ("idle_timeout_ms",),
        m.ResponseFunctionCallArgumentsDone: ("name",),
        m.Usage: (
            "input_image_tokens",
            "cached_text_tokens",
            "cached_audio_tokens",
            "cached_image_tokens",
        ),
    },
    register_hooks=_register_hooks,
)
"""The beta dialect (section 1h)."""


class OpenAIBetaCodec(OpenAICodecBase):
    """The OpenAI Realtime beta (preview) wire format, in all four directions.

    The dialect of ``OpenAI-Beta: realtime=v1`` and of Azure OpenAI preview deployments
    (``api-version=2025-04-01-preview``). It carries the same agnostic messages as GA
    (``OpenAICodec``), so an app reads ``ResponseOutputAudioDelta`` whichever it speaks:

    - ``response.text.*``, ``response.audio.*`` and ``response.audio_transcript.*`` are
      ``ResponseOutputText*``, ``ResponseOutputAudio*`` and ``ResponseOutputAudioTranscript*``.
    - ``transcription_session.update`` / ``.created`` / ``.updated`` are ``SessionUpdate`` /
      ``SessionCreated`` / ``SessionUpdated`` whose session has ``kind="transcription"``.
    - The flat session object maps onto the same ``SessionOptions``: ``modalities`` is
      ``output_modalities``, ``max_response_output_tokens`` is ``max_output_tokens``, ``speed``
      is ``output_speed``, ``input_audio_noise_reduction`` is ``noise_reduction``, ``temperature``
      is ``openai.temperature``; ``"pcm16"`` is ``AudioFormat("audio/pcm", 24000)``,
      ``"g711_ulaw"`` / ``"g711_alaw"`` are ``audio/pcmu`` / ``audio/pcma``. A ``tool_choice``
      string other than a mode is the name of the function to force (``ToolChoiceFunction``).

    Decoding also accepts the GA event names (the OpenAPI spec's beta examples use them) and
    every GA content part and item tag; keys of GA-shaped payloads (``output_modalities``,
    ``audio.output``) are unknown keys to the beta dialect and are ignored, as any extra key.
    ``response.function_call_arguments.done`` has no ``name`` on beta (``name`` is ``None``;
    the ``FunctionCallItem`` of ``ResponseOutputItemDone`` has it).

    Encoding raises ``EncodeError`` for what the beta dialect cannot carry: the GA-only events
    (``ConversationItemAdded`` / ``Done``, MCP events, ``...TranscriptionSegment``,
    ``InputAudioBufferTimeoutTriggered``, ``InputAudioBufferDtmfEventReceived``), MCP tools,
    items and tool choices, ``InputImage``, ``ServerVad.idle_timeout_ms``, a pcm rate other than
    24000 Hz, ``ResponseFunctionCallArgumentsDone.name``, image and cached-detail token counts,
    ``openai.truncation`` and ``openai.prompt``, and ``openai.include`` on a conversation
    session. ``docs/openai-dialects.md`` has the whole mapping.

    Stateless; one instance per connection is the convention all codecs follow.
    """

    _wire: ClassVar[LazyWire] = LazyWire(BETA)
    client_types: ClassVar[frozenset[type[m.ClientMessage]]] = frozenset(
        BETA.client_events.values()
    )
    server_types: ClassVar[frozenset[type[m.ServerMessage]]] = frozenset(
        BETA.server_events.values()
    )


def beta_param(param: str) -> str:
    """A GA parameter path (an ``error.param``) as the beta dialect names it, e.g.
    ``session.output_modalities`` is ``session.modalities`` and
    ``session.audio.input.format`` is ``session.input_audio_format`` (from the two codecs'
    field tables)."""
    return translate_param(param, GA, BETA)
