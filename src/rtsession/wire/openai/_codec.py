"""The OpenAI Realtime GA wire format (https://platform.openai.com/docs/api-reference/realtime).

What GA does its own way, over what it shares with the beta dialect (``_common``): the GA event
names, the nested session object (``audio.input.*`` / ``audio.output.*``, with the session kind
in ``type``), audio formats as objects, tool choices as strings or tagged objects, the
``output_text`` / ``output_audio`` item content names, and MCP tools and items.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

import cattrs

from ... import messages as m
from ._common import (
    ITEM_TAGS,
    PART_TAGS,
    TOOL_TAGS,
    ConversationMode,
    Dialect,
    LazyWire,
    MaxTokens,
    OpenAICodecBase,
    Vad,
    field,
    leaf,
    register_type_hooks,
    require_object,
    tag_of,
    tagged,
)

__all__ = ["CLIENT_EVENTS", "SERVER_EVENTS", "OpenAICodec"]

CLIENT_EVENTS: dict[str, type[m.ClientMessage]] = {
    "session.update": m.SessionUpdate,
    "input_audio_buffer.append": m.InputAudioBufferAppend,
    "input_audio_buffer.commit": m.InputAudioBufferCommit,
    "input_audio_buffer.clear": m.InputAudioBufferClear,
    "output_audio_buffer.clear": m.OutputAudioBufferClear,
    "conversation.item.create": m.ConversationItemCreate,
    "conversation.item.retrieve": m.ConversationItemRetrieve,
    "conversation.item.truncate": m.ConversationItemTruncate,
    "conversation.item.delete": m.ConversationItemDelete,
    "response.create": m.ResponseCreate,
    "response.cancel": m.ResponseCancel,
}
"""The GA client events (section 1a) and the messages they carry."""

SERVER_EVENTS: dict[str, type[m.ServerMessage]] = {
    "error": m.Error,
    "session.created": m.SessionCreated,
    "session.updated": m.SessionUpdated,
    "conversation.created": m.ConversationCreated,
    "conversation.item.created": m.ConversationItemCreated,
    "conversation.item.added": m.ConversationItemAdded,
    "conversation.item.done": m.ConversationItemDone,
    "conversation.item.retrieved": m.ConversationItemRetrieved,
    "conversation.item.truncated": m.ConversationItemTruncated,
    "conversation.item.deleted": m.ConversationItemDeleted,
    "conversation.item.input_audio_transcription.delta": (
        m.ConversationItemInputAudioTranscriptionDelta
    ),
    "conversation.item.input_audio_transcription.completed": (
        m.ConversationItemInputAudioTranscriptionCompleted
    ),
    "conversation.item.input_audio_transcription.segment": (
        m.ConversationItemInputAudioTranscriptionSegment
    ),
    "conversation.item.input_audio_transcription.failed": (
        m.ConversationItemInputAudioTranscriptionFailed
    ),
    "input_audio_buffer.committed": m.InputAudioBufferCommitted,
    "input_audio_buffer.cleared": m.InputAudioBufferCleared,
    "input_audio_buffer.speech_started": m.InputAudioBufferSpeechStarted,
    "input_audio_buffer.speech_stopped": m.InputAudioBufferSpeechStopped,
    "input_audio_buffer.timeout_triggered": m.InputAudioBufferTimeoutTriggered,
    "input_audio_buffer.dtmf_event_received": m.InputAudioBufferDtmfEventReceived,
    "output_audio_buffer.started": m.OutputAudioBufferStarted,
    "output_audio_buffer.stopped": m.OutputAudioBufferStopped,
    "output_audio_buffer.cleared": m.OutputAudioBufferCleared,
    "response.created": m.ResponseCreated,
    "response.done": m.ResponseDone,
    "response.output_item.added": m.ResponseOutputItemAdded,
    "response.output_item.done": m.ResponseOutputItemDone,
    "response.content_part.added": m.ResponseContentPartAdded,
    "response.content_part.done": m.ResponseContentPartDone,
    "response.output_text.delta": m.ResponseOutputTextDelta,
    "response.output_text.done": m.ResponseOutputTextDone,
    "response.output_audio.delta": m.ResponseOutputAudioDelta,
    "response.output_audio.done": m.ResponseOutputAudioDone,
    "response.output_audio_transcript.delta": m.ResponseOutputAudioTranscriptDelta,
    "response.output_audio_transcript.done": m.ResponseOutputAudioTranscriptDone,
    "response.function_call_arguments.delta": m.ResponseFunctionCallArgumentsDelta,
    "response.function_call_arguments.done": m.ResponseFunctionCallArgumentsDone,
    "response.mcp_call_arguments.delta": m.ResponseMcpCallArgumentsDelta,
    "response.mcp_call_arguments.done": m.ResponseMcpCallArgumentsDone,
    "response.mcp_call.in_progress": m.ResponseMcpCallInProgress,
    "response.mcp_call.completed": m.ResponseMcpCallCompleted,
    "response.mcp_call.failed": m.ResponseMcpCallFailed,
    "mcp_list_tools.in_progress": m.McpListToolsInProgress,
    "mcp_list_tools.completed": m.McpListToolsCompleted,
    "mcp_list_tools.failed": m.McpListToolsFailed,
    "rate_limits.updated": m.RateLimitsUpdated,
}
"""The GA server events (section 1b) and the messages they carry."""

# --- the session object (section 1c), the response (1f) and response.create (1e) ---------------

_SESSION = (
    field("kind", "type", m.SessionKind),
    field("model", "model", str, only="conversation"),
    field("instructions", "instructions", str, only="conversation"),
    field("output_modalities", "output_modalities", tuple[m.Modality, ...], only="conversation"),
    field("tools", "tools", tuple[m.Tool, ...], only="conversation"),
    field("tool_choice", "tool_choice", m.ToolChoice, only="conversation"),
    field("max_output_tokens", "max_output_tokens", MaxTokens, only="conversation"),
    field("input_audio_format", "audio.input.format", m.AudioFormat),
    field("input_transcription", "audio.input.transcription", m.InputTranscription, nullable=True),
    field("noise_reduction", "audio.input.noise_reduction", m.NoiseReduction, nullable=True),
    field("turn_detection", "audio.input.turn_detection", Vad, nullable=True),
    field("output_audio_format", "audio.output.format", m.AudioFormat, only="conversation"),
    field("voice", "audio.output.voice", str, only="conversation"),
    field("output_speed", "audio.output.speed", float, only="conversation"),
    field("openai.tracing", "tracing", Any, only="conversation"),
    field("openai.truncation", "truncation", Any, only="conversation"),
    field("openai.prompt", "prompt", Any, only="conversation"),
    field("openai.include", "include", tuple[str, ...]),
)

_RESPONSE = (
    field("id", "id", str),
    field("status", "status", m.ResponseStatus),
    field("status_details", "status_details", m.ResponseStatusDetails),
    field("output", "output", tuple[m.ConversationItem, ...]),
    field("conversation_id", "conversation_id", str),
    field("output_modalities", "output_modalities", tuple[m.Modality, ...]),
    field("max_output_tokens", "max_output_tokens", MaxTokens),
    field("output_audio_format", "audio.output.format", m.AudioFormat),
    field("voice", "audio.output.voice", str),
    field("usage", "usage", m.Usage),
    field("metadata", "metadata", dict[str, str]),
)

_RESPONSE_CREATE = (
    field("instructions", "instructions", str),
    field("output_modalities", "output_modalities", tuple[m.Modality, ...]),
    field("output_audio_format", "audio.output.format", m.AudioFormat),
    field("voice", "audio.output.voice", str),
    field("tools", "tools", tuple[m.Tool, ...]),
    field("tool_choice", "tool_choice", m.ToolChoice),
    field("max_output_tokens", "max_output_tokens", MaxTokens),
    field("metadata", "metadata", dict[str, str]),
    field("conversation", "conversation", ConversationMode),
    field("input", "input", tuple[m.ConversationItem | m.ItemReference, ...]),
)

_SESSION_TYPES = {"conversation": "realtime", "transcription": "transcription"}


def _register_hooks(conv: cattrs.Converter) -> None:
    """GA audio formats (``{"type": "audio/pcm", "rate": 24000}``), tool choices (a mode string
    or ``{"type": "function" | "mcp", ...}``) and session kinds (``type``)."""
    leaf(conv, m.AudioFormat, type=cattrs.gen.override(omit_if_default=False))
    choices = {
        "function": tagged(conv, m.ToolChoiceFunction, "function"),
        "mcp": tagged(conv, m.ToolChoiceMcp, "mcp"),
    }

    def structure_tool_choice(value: Any) -> m.ToolChoice:
        if value in ("auto", "none", "required"):
            return cast(m.ToolChoice, value)
        payload = require_object(value, "tool_choice")
        pair = choices.get(tag_of(payload, "tool_choice"))
        if pair is None:
            raise ValueError(f"unknown tool_choice {value!r}")
        return cast(m.ToolChoice, pair[0](payload))

    register_type_hooks(conv, m.ToolChoice, structure_tool_choice)
    conv.register_unstructure_hook(m.ToolChoiceFunction, choices["function"][1])
    conv.register_unstructure_hook(m.ToolChoiceMcp, choices["mcp"][1])

    def structure_kind(value: Any) -> m.SessionKind:
        for kind, wire in _SESSION_TYPES.items():
            if value == wire:
                return cast(m.SessionKind, kind)
        raise ValueError(f"session.type must be 'realtime' or 'transcription', not {value!r}")

    register_type_hooks(conv, m.SessionKind, structure_kind, _SESSION_TYPES.__getitem__)


GA = Dialect(
    name="GA",
    client_events=CLIENT_EVENTS,
    server_events=SERVER_EVENTS,
    session_objects={"conversation": "realtime.session", "transcription": "realtime.session"},
    session=_SESSION,
    response=_RESPONSE,
    response_create=_RESPONSE_CREATE,
    part_tags={cls: tags[0] for cls, tags in PART_TAGS.items()},
    item_tags={cls: tags[0] for cls, tags in ITEM_TAGS.items()},
    tool_tags={cls: tags[0] for cls, tags in TOOL_TAGS.items()},
    register_hooks=_register_hooks,
)
"""The GA dialect. ``SessionOptions.openai.temperature`` has no place in it (GA removed
``temperature``), so encoding a session that sets it raises ``EncodeError``."""


class OpenAICodec(OpenAICodecBase):
    """The OpenAI Realtime GA wire format, in all four directions.

    Client messages map one to one onto GA client events and server messages onto the 46 GA
    server events (class names are the event names in CamelCase; ``docs/messages.md`` lists
    them). Decoding accepts what the live service sends: explicit ``null`` (treated as absent,
    except where null means "off"), extra keys (``obfuscation``, ``object``, ...), the
    ``text`` / ``audio`` content part names alongside ``output_text`` / ``output_audio``, and
    URL-safe or unpadded base64. Encoding emits the GA names and raises ``EncodeError`` for
    what GA cannot carry: ``SessionOptions.openai.temperature`` (beta only) and
    conversation settings on a transcription session. ``docs/openai-dialects.md`` compares GA
    with the beta dialect (``OpenAIBetaCodec``).

    Stateless; one instance per connection is the convention all codecs follow.
    """

    _wire: ClassVar[LazyWire] = LazyWire(GA)
    client_types: ClassVar[frozenset[type[m.ClientMessage]]] = frozenset(GA.client_events.values())
    server_types: ClassVar[frozenset[type[m.ServerMessage]]] = frozenset(GA.server_events.values())
