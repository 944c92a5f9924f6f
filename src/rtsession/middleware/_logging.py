"""The ``Logging`` stage: one stdlib ``logging`` record per message, content only on request."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Final, cast, final, get_args

import attrs
import orjson

from .._redact import SECRET_KEYS
from ..messages import (
    JSON,
    ClientMessage,
    ContentPart,
    ConversationItem,
    Disabled,
    Error,
    InputAudio,
    InputAudioBufferAppend,
    InvalidServerMessage,
    Message,
    OutputAudio,
    ResponseOutputAudioDelta,
    ServerMessage,
    Tool,
)
from ..session._fused import FusedLink, FusedRelay, RelayMaker
from ..session._stage import StageContext
from ..wire._frames import (
    MAX_JSON_DEPTH,
    Encoding,
    audio_fields,
    b64_size,
    get_path,
    session_encoding,
    set_path,
    too_deep,
)

__all__ = ["LOGGER_NAME", "Logging"]

LOGGER_NAME: Final = "rtsession.middleware.logging"
"""The logger ``Logging`` writes to unless given another."""

_ALERTS: Final = frozenset({Error, InvalidServerMessage})
"""Server messages logged at ``WARNING`` at least."""

_METADATA: Final = frozenset(
    {
        "code",
        "conversation",
        "detail",
        "eagerness",
        "error_code",
        "error_type",
        "include",
        "kind",
        "language",
        "max_output_tokens",
        "message",  # Error.message, McpCallError.message: the provider's description
        "model",
        "name",
        "output_modalities",
        "param",
        "reason",
        "role",
        "server_label",
        "speaker",
        "status",
        "tool_choice",
        "type",
        "voice",
    }
)
"""String fields that describe rather than carry content, logged as they are. Every other
string (text, deltas, transcripts, tool arguments and outputs, instructions, descriptions,
image URLs, resumption handles, metadata values) is content."""

_NEVER: Final = SECRET_KEYS | {"headers", "raw"}
"""Fields never logged, with or without content: credentials (an MCP tool's
``authorization`` and ``headers``) and the wire object."""

_VARIANTS: Final = frozenset(get_args(ConversationItem) + get_args(ContentPart) + get_args(Tool))
"""Classes of a union (items, content parts, tools), named in the record: ``item=MessageItem``."""

_INPUT_AUDIO: Final = (InputAudioBufferAppend, InputAudio)
_OUTPUT_AUDIO: Final = (ResponseOutputAudioDelta, OutputAudio)


def _is_metadata(name: str) -> bool:
    return name == "id" or name.endswith("_id") or name in _METADATA


class _Summary(str):
    """A stand-in the stage wrote (``<12 chars>``, ``<960 bytes, 20.0 ms>``): shown as is."""

    __slots__ = ()


def _render(value: object) -> str:
    text = str(value)
    if isinstance(value, _Summary) or not isinstance(value, str):
        return text
    if not text or any(c.isspace() or c in "='\"" for c in text):
        return repr(text)
    return text


@final
class _Describer:
    """Flattens a message into ``dotted.field=value`` pairs under the content rules."""

    __slots__ = ("_context", "_include_content")

    def __init__(self, context: StageContext, include_content: bool) -> None:
        self._context = context
        self._include_content = include_content

    def fields(self, message: Message) -> dict[str, object]:
        out: dict[str, object] = {}
        self._object(message, "", out)
        return out

    def _object(self, obj: attrs.AttrsInstance, prefix: str, out: dict[str, object]) -> None:
        for field in attrs.fields(type(obj)):
            name = field.name
            value = getattr(obj, name)
            if value is None or name.lower() in _NEVER:
                continue
            self._value(obj, name, value, prefix + name, out)

    def _value(
        self, owner: object, name: str, value: object, key: str, out: dict[str, object]
    ) -> None:
        if isinstance(value, bool | int | float):
            out[key] = value
        elif isinstance(value, str):
            if _is_metadata(name) or self._include_content:
                out[key] = self._context.redactor.text(value)  # a server may echo a key
            else:
                out[key] = _Summary(f"<{len(value)} chars>")
        elif isinstance(value, bytes | bytearray):
            out[key] = self._bytes(owner, len(value))
        elif isinstance(value, Disabled):
            out[key] = _Summary("DISABLED")
        elif attrs.has(type(value)):
            if type(value) in _VARIANTS:
                out[key] = _Summary(type(value).__name__)
            self._object(cast("attrs.AttrsInstance", value), key + ".", out)
        elif isinstance(value, tuple | list):
            for index, item in enumerate(value):
                self._value(owner, name, item, f"{key}[{index}]", out)
        elif isinstance(value, dict):
            out[key] = (
                self._json(value) if self._include_content else _Summary(f"<{len(value)} keys>")
            )

    def _bytes(self, owner: object, size: int) -> str:
        encoding: Encoding | None = None
        if isinstance(owner, _INPUT_AUDIO):
            encoding = session_encoding(self._context.options.input_audio_format)
        elif isinstance(owner, _OUTPUT_AUDIO):
            encoding = session_encoding(self._context.options.output_audio_format)
        if encoding is None:
            return _Summary(f"<{size} bytes>")
        return _Summary(f"<{size} bytes, {encoding.ms(size):.1f} ms>")

    def _json(self, value: dict[str, JSON]) -> str:
        """Content JSON (raw payloads, tool schemas, metadata) with credentials redacted and
        base64 audio replaced by its size; JSON nested too deep to write, summarized."""
        if too_deep(value):
            return _Summary(f"<JSON nested over {MAX_JSON_DEPTH} levels>")
        cleaned = self._context.redactor.json(value)
        for field in audio_fields(cleaned):
            size = b64_size(get_path(cleaned, field.path))
            set_path(cleaned, field.path, f"<{size} bytes of audio>")
        return orjson.dumps(cleaned).decode()


@final
class Logging:
    """A middleware stage that logs every message passing through it, both ways, with
    stdlib ``logging``.

    One record per message: the direction (``send`` toward the provider, ``receive`` toward
    the app), the message class and its fields flattened as ``item.call_id=call_1``, e.g.::

        send InputAudioBufferAppend audio=<960 bytes, 20.0 ms>
        receive ResponseDone response.id=resp_1 response.status=completed ...

    The same data is attached to the record as ``extra`` attributes for structured
    handlers: ``rtsession_direction``, ``rtsession_type`` and ``rtsession_fields`` (a dict).

    What is logged:

    - always: ids, types, names, roles, statuses, indices, counts, token usage, error codes
      and messages;
    - audio: never the samples, only ``<N bytes, M ms>`` (milliseconds from the session's
      input or output format in ``StageContext.options``, 24 kHz PCM16 when unset);
    - content (text, transcripts, deltas, tool arguments and outputs, instructions, raw
      payloads): only with ``include_content=True``, else its length (``<12 chars>``);
    - credentials (an MCP tool's ``authorization`` and ``headers``): never. The stage sees
      messages, not the connection, so API keys never reach it. The ``raw`` wire object is
      never logged.

    When the logger is not enabled for the level, a message costs one ``isEnabledFor`` call.
    Place it last in ``middleware=[...]`` (nearest the provider) to log what goes over the
    wire, including what other stages inject.

    Args:
        logger: the logger or its name; default ``rtsession.middleware.logging``.
        level: the level of the per-message records, ``logging.DEBUG`` by default.
            ``Error`` and ``InvalidServerMessage`` are logged at ``WARNING`` or ``level``,
            whichever is higher.
        include_content: also log text, transcripts, tool arguments and other content.
            These may hold personal data: enable only where the logs may hold it.
    """

    __slots__ = ("_include_content", "_level", "_logger")

    def __init__(
        self,
        logger: logging.Logger | str | None = None,
        *,
        level: int = logging.DEBUG,
        include_content: bool = False,
    ) -> None:
        if logger is None or isinstance(logger, str):
            logger = logging.getLogger(logger or LOGGER_NAME)
        self._logger = logger
        self._level = level
        self._include_content = include_content

    def fuse(self) -> Sequence[RelayMaker]:
        """One relay per session that logs and forwards every message (``FusedStage``)."""
        return (partial(_SessionLog, self._logger, self._level, self._include_content),)


class _SessionLog(FusedRelay):
    """One session's records: opened and closed, and one per message."""

    def __init__(
        self, logger: logging.Logger, level: int, include_content: bool, link: FusedLink
    ) -> None:
        super().__init__(link)
        self._describer = _Describer(link.context, include_content)
        self._logger = logger
        self._level = level
        self._alert_level = max(level, logging.WARNING)
        logger.log(
            level,
            "session started: provider=%s model=%s",
            link.context.provider_name,
            link.context.model,
        )

    def client_message(self, message: ClientMessage) -> ClientMessage:
        if self._logger.isEnabledFor(self._level):
            self._record("send", self._level, message)
        return message

    def server_message(self, message: ServerMessage) -> ServerMessage:
        level = self._alert_level if type(message) in _ALERTS else self._level
        if self._logger.isEnabledFor(level):
            self._record("receive", level, message)
        return message

    def close(self) -> None:
        self._logger.log(self._level, "session ended")

    def _record(self, direction: str, level: int, message: ClientMessage | ServerMessage) -> None:
        fields = self._describer.fields(message)
        name = type(message).__name__
        text = "".join(f" {key}={_render(value)}" for key, value in fields.items())
        self._logger.log(
            level,
            "%s %s%s",
            direction,
            name,
            text,
            extra={
                "rtsession_direction": direction,
                "rtsession_type": name,
                "rtsession_fields": fields,
            },
        )
