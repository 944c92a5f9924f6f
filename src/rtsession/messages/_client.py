"""Client messages: what the app sends (GA client events, reference section 1a)."""

from __future__ import annotations

from typing import Literal

import attrs

from ._base import ClientMessage, Modality, frozen_bytes
from ._items import ConversationItem, ItemReference
from ._options import AudioFormat, SessionOptions, Tool, ToolChoice

__all__ = [
    "ConversationItemCreate",
    "ConversationItemDelete",
    "ConversationItemRetrieve",
    "ConversationItemTruncate",
    "InputAudioBufferAppend",
    "InputAudioBufferClear",
    "InputAudioBufferCommit",
    "OutputAudioBufferClear",
    "ResponseCancel",
    "ResponseCreate",
    "SessionUpdate",
]


@attrs.frozen(kw_only=True)
class SessionUpdate(ClientMessage):
    """Change the session's configuration (``session.update``).

    Only the fields set (not ``None``) change. The server answers with ``SessionUpdated``.
    """

    session: SessionOptions


@attrs.frozen(kw_only=True)
class InputAudioBufferAppend(ClientMessage):
    """Append audio to the input buffer (``input_audio_buffer.append``).

    Attributes:
        audio: PCM16 little-endian mono bytes at the session's input rate (e.g. 960 bytes are
            20 ms at 24000 Hz), or G.711 bytes for the ``pcmu`` / ``pcma`` formats; a
            ``bytearray`` or ``memoryview`` is copied, so the buffer may be reused at once.
    """

    audio: bytes = attrs.field(converter=frozen_bytes, repr=lambda audio: f"<{len(audio)} bytes>")


@attrs.frozen(kw_only=True)
class InputAudioBufferCommit(ClientMessage):
    """Commit the input buffer as a user audio item (``input_audio_buffer.commit``).

    Needed only without turn detection (push-to-talk).
    """


@attrs.frozen(kw_only=True)
class InputAudioBufferClear(ClientMessage):
    """Discard the uncommitted input audio (``input_audio_buffer.clear``)."""


@attrs.frozen(kw_only=True)
class OutputAudioBufferClear(ClientMessage):
    """Cut off the audio being played (``output_audio_buffer.clear``; OpenAI WebRTC/SIP only)."""


@attrs.frozen(kw_only=True)
class ConversationItemCreate(ClientMessage):
    """Add an item to the conversation (``conversation.item.create``).

    Attributes:
        item: the item, e.g. a user text message or a function call output.
        previous_item_id: insert after this item; ``"root"`` inserts at the start; ``None``
            appends.
    """

    item: ConversationItem
    previous_item_id: str | None = None


@attrs.frozen(kw_only=True)
class ConversationItemRetrieve(ClientMessage):
    """Ask for an item as the server holds it (``conversation.item.retrieve``)."""

    item_id: str


@attrs.frozen(kw_only=True)
class ConversationItemTruncate(ClientMessage):
    """Cut an assistant audio item at what the user actually heard (``conversation.item.truncate``).

    Attributes:
        item_id: the assistant message item.
        content_index: the index of its audio part (0).
        audio_end_ms: milliseconds of audio played; the rest and its transcript are dropped.
    """

    item_id: str
    content_index: int
    audio_end_ms: int


@attrs.frozen(kw_only=True)
class ConversationItemDelete(ClientMessage):
    """Remove an item from the conversation (``conversation.item.delete``)."""

    item_id: str


@attrs.frozen(kw_only=True)
class ResponseCreate(ClientMessage):
    """Ask the model to respond (``response.create``); every field overrides for this response only.

    With no field set it is the plain ``{"type": "response.create"}``.

    Attributes:
        instructions: instructions for this response.
        output_modalities: ``("audio",)`` or ``("text",)``.
        voice: the voice for this response.
        output_audio_format: the audio format for this response.
        tools: the tools for this response.
        tool_choice: ``"auto"``, ``"none"``, ``"required"`` or a specific tool.
        max_output_tokens: 1 to 4096, or ``"inf"``.
        metadata: up to 16 string pairs, echoed on ``ResponseCreated`` / ``ResponseDone``.
        conversation: ``"auto"`` (default) adds the output to the conversation; ``"none"`` makes
            an out-of-band response.
        input: the context for this response instead of the conversation: items and
            references to existing items; ``()`` gives an empty context.
    """

    instructions: str | None = None
    output_modalities: tuple[Modality, ...] | None = None
    voice: str | None = None
    output_audio_format: AudioFormat | None = None
    tools: tuple[Tool, ...] | None = None
    tool_choice: ToolChoice | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    metadata: dict[str, str] | None = None
    conversation: Literal["auto", "none"] | None = None
    input: tuple[ConversationItem | ItemReference, ...] | None = None


@attrs.frozen(kw_only=True)
class ResponseCancel(ClientMessage):
    """Cancel a response in progress (``response.cancel``).

    Attributes:
        response_id: the response to cancel; ``None`` cancels the current one.
    """

    response_id: str | None = None
