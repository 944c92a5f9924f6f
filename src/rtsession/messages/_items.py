"""Conversation items and their content parts (GA ``ConversationItem``, reference section 1d)."""

from __future__ import annotations

import base64
from typing import Literal, TypeAlias

import attrs

from ._base import JSON, frozen_optional_bytes

__all__ = [
    "ContentPart",
    "ConversationItem",
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "InputAudio",
    "InputImage",
    "InputText",
    "ItemReference",
    "ItemStatus",
    "McpApprovalRequestItem",
    "McpApprovalResponseItem",
    "McpCallError",
    "McpCallItem",
    "McpListToolsItem",
    "McpToolInfo",
    "MessageItem",
    "OutputAudio",
    "OutputText",
    "Role",
]

ItemStatus: TypeAlias = Literal["completed", "incomplete", "in_progress"]
Role: TypeAlias = Literal["system", "user", "assistant"]


@attrs.frozen(kw_only=True)
class InputText:
    """Text from the user or system (``input_text``)."""

    text: str


@attrs.frozen(kw_only=True)
class InputAudio:
    """Audio from the user (``input_audio``).

    Attributes:
        audio: PCM16 bytes in the session's input format, or ``None`` when the server omits it.
        transcript: the transcription, when known.
    """

    audio: bytes | None = attrs.field(default=None, converter=frozen_optional_bytes)
    transcript: str | None = None


@attrs.frozen(kw_only=True)
class InputImage:
    """An image from the user (``input_image``).

    Attributes:
        image_url: a ``data:`` URL (``data:image/png;base64,...``); build one with
            ``from_bytes``.
        detail: ``"auto"``, ``"low"`` or ``"high"``.
    """

    image_url: str
    detail: Literal["auto", "low", "high"] | None = None

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        mime_type: str = "image/png",
        *,
        detail: Literal["auto", "low", "high"] | None = None,
    ) -> InputImage:
        """An image part from encoded image bytes (PNG, JPEG, ...) of the given MIME type."""
        encoded = base64.b64encode(data).decode("ascii")
        return cls(image_url=f"data:{mime_type};base64,{encoded}", detail=detail)


@attrs.frozen(kw_only=True)
class OutputText:
    """Text from the model (GA ``output_text``; ``text`` in ``response.content_part.*``)."""

    text: str


@attrs.frozen(kw_only=True)
class OutputAudio:
    """Audio from the model (GA ``output_audio``; ``audio`` in ``response.content_part.*``).

    Attributes:
        audio: PCM16 bytes in the session's output format, or ``None`` (the server usually
            omits it: the audio came as ``ResponseOutputAudioDelta`` events).
        transcript: what the audio says.
    """

    audio: bytes | None = attrs.field(default=None, converter=frozen_optional_bytes)
    transcript: str | None = None


ContentPart: TypeAlias = InputText | InputAudio | InputImage | OutputText | OutputAudio


@attrs.frozen(kw_only=True)
class MessageItem:
    """A message in the conversation (``type: "message"``).

    Attributes:
        role: ``"system"`` (input text only), ``"user"`` (input text, audio, image) or
            ``"assistant"`` (output text, audio).
        content: the parts, in order.
        id: the item id; the server assigns one when ``None``.
        status: ``"completed"``, ``"incomplete"`` or ``"in_progress"``.
    """

    role: Role
    content: tuple[ContentPart, ...] = ()
    id: str | None = None
    status: ItemStatus | None = None


@attrs.frozen(kw_only=True)
class FunctionCallItem:
    """A call of one of the session's functions by the model (``type: "function_call"``).

    Attributes:
        name: the function name.
        arguments: the arguments as a JSON string (possibly invalid JSON; validate it).
        call_id: pairs the call with its ``FunctionCallOutputItem``.
    """

    name: str
    arguments: str
    call_id: str | None = None
    id: str | None = None
    status: ItemStatus | None = None


@attrs.frozen(kw_only=True)
class FunctionCallOutputItem:
    """The result of a function call, sent back by the app (``type: "function_call_output"``).

    Attributes:
        call_id: the ``call_id`` of the ``FunctionCallItem`` it answers.
        output: the result, usually a JSON string.
    """

    call_id: str
    output: str
    id: str | None = None
    status: ItemStatus | None = None


@attrs.frozen(kw_only=True)
class McpCallError:
    """Why an MCP call failed (``mcp_call.error``).

    Attributes:
        type: ``"protocol_error"``, ``"tool_execution_error"`` or ``"http_error"``.
        message: a human-readable description.
        code: the protocol or HTTP error code; required except for ``tool_execution_error``.

    Raises:
        ValueError: ``code`` is missing for a protocol or HTTP error.
    """

    type: Literal["protocol_error", "tool_execution_error", "http_error"]
    message: str
    code: int | None = attrs.field(default=None)

    @code.validator
    def _check_code(self, _: attrs.Attribute[int | None], code: int | None) -> None:
        if code is None and self.type != "tool_execution_error":
            raise ValueError(f"an MCP {self.type} needs a code")


@attrs.frozen(kw_only=True)
class McpCallItem:
    """A call of a remote MCP tool made by the provider (OpenAI only, ``type: "mcp_call"``)."""

    id: str
    server_label: str
    name: str
    arguments: str
    output: str | None = None
    approval_request_id: str | None = None
    error: McpCallError | None = None


@attrs.frozen(kw_only=True)
class McpToolInfo:
    """One tool an MCP server offers (an entry of ``mcp_list_tools.tools``)."""

    name: str
    input_schema: JSON
    description: str | None = None
    annotations: JSON = None


@attrs.frozen(kw_only=True)
class McpListToolsItem:
    """The tools an MCP server offers (OpenAI only, ``type: "mcp_list_tools"``)."""

    server_label: str
    tools: tuple[McpToolInfo, ...]
    id: str | None = None


@attrs.frozen(kw_only=True)
class McpApprovalRequestItem:
    """The provider asks the app to approve an MCP call (``type: "mcp_approval_request"``)."""

    id: str
    server_label: str
    name: str
    arguments: str


@attrs.frozen(kw_only=True)
class McpApprovalResponseItem:
    """The app's answer to an approval request (``type: "mcp_approval_response"``)."""

    id: str
    approval_request_id: str
    approve: bool
    reason: str | None = None


ConversationItem: TypeAlias = (
    MessageItem
    | FunctionCallItem
    | FunctionCallOutputItem
    | McpCallItem
    | McpListToolsItem
    | McpApprovalRequestItem
    | McpApprovalResponseItem
)


@attrs.frozen(kw_only=True)
class ItemReference:
    """A reference to an existing item, in ``ResponseCreate.input`` (``type: "item_reference"``)."""

    id: str
