"""What the OpenAI Realtime GA and beta dialects share (https://platform.openai.com/docs/api-reference/realtime;
``docs/openai-dialects.md``).

Both dialects carry the same agnostic messages over mostly the same JSON: the same events with
the same fields, the same items, tools, turn detection, usage and errors. A ``Dialect``
states only what differs: event names, where each setting lives in the session, response and
``response.create`` objects (``Field`` tables), the names of content parts, how audio formats
and tool choices are written, and what the dialect cannot carry. ``Wire`` builds one strict
cattrs converter and the event tables from a dialect, and ``OpenAICodecBase`` is the codec
both ``OpenAICodec`` and ``OpenAIBetaCodec`` are made of.

Decoding is lenient in both dialects (every tag either dialect uses is understood, ``null`` is
absent, unknown keys are ignored); encoding emits the dialect's own names and raises
``EncodeError`` for any value the dialect has no place for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final, Literal, TypeAlias, final, get_args, get_origin

import attrs
import cattrs

from ... import messages as m
from ..._errors import DecodeError, EncodeError
from .._codec import Frame
from .._json import (
    MALFORMED,
    blob_frame,
    decode_error,
    dumps,
    invalid_frame,
    loads_object,
    make_strict_converter,
    register_message,
)

__all__ = [
    "BOUNDS",
    "ITEM_TAGS",
    "MAX_APPEND_BYTES",
    "PART_TAGS",
    "TOOL_TAGS",
    "ConversationMode",
    "Dialect",
    "LazyWire",
    "MaxTokens",
    "OpenAICodecBase",
    "PCM_RATE",
    "ROLE_PARTS",
    "Vad",
    "Wire",
    "field",
    "leaf",
    "register_type_hooks",
    "require_object",
    "tag_of",
    "tagged",
]

Payload: TypeAlias = dict[str, Any]
Structure: TypeAlias = Callable[[Any], Any]
Unstructure: TypeAlias = Callable[[Any], Any]

MaxTokens: TypeAlias = int | Literal["inf"]
"""``max_output_tokens`` and its beta spellings: 1 to 4096, or ``"inf"``."""
Vad: TypeAlias = m.ServerVad | m.SemanticVad
"""A ``turn_detection`` object (``null`` is ``DISABLED``)."""
ConversationMode: TypeAlias = Literal["auto", "none"]
"""``response.create``'s ``conversation``."""

# Every tag either dialect writes, for decoding; the first is the GA name. The beta dialect
# names assistant parts ``text`` / ``audio``, which GA still uses in ``response.content_part.*``.
PART_TAGS: Mapping[type[m.ContentPart], tuple[str, ...]] = {
    m.InputText: ("input_text",),
    m.InputAudio: ("input_audio",),
    m.InputImage: ("input_image",),
    m.OutputText: ("output_text", "text"),
    m.OutputAudio: ("output_audio", "audio"),
}
ITEM_TAGS: Mapping[type[m.ConversationItem], tuple[str, ...]] = {
    m.MessageItem: ("message",),
    m.FunctionCallItem: ("function_call",),
    m.FunctionCallOutputItem: ("function_call_output",),
    m.McpCallItem: ("mcp_call",),
    m.McpListToolsItem: ("mcp_list_tools",),
    m.McpApprovalRequestItem: ("mcp_approval_request",),
    m.McpApprovalResponseItem: ("mcp_approval_response",),
}
TOOL_TAGS: Mapping[type[m.Tool], tuple[str, ...]] = {
    m.FunctionTool: ("function",),
    m.McpTool: ("mcp",),
}
_TURN_TAGS: Mapping[type[Vad], tuple[str, ...]] = {
    m.ServerVad: ("server_vad",),
    m.SemanticVad: ("semantic_vad",),
}

ROLE_PARTS: Final[Mapping[str, tuple[type[m.ContentPart], ...]]] = {
    "system": (m.InputText,),
    "user": (m.InputText, m.InputAudio, m.InputImage),
    "assistant": (m.OutputText, m.OutputAudio),
}
"""The content parts a message of each role may hold (the API reference's conversation items)."""

PCM_RATE: Final = 24000
"""The sample rate of OpenAI Realtime's ``audio/pcm`` (beta ``pcm16``), in Hz."""


# --- helpers for hooks -------------------------------------------------------------------------


def require_object(value: Any, what: str) -> Payload:
    """``value`` as a JSON object.

    Raises:
        TypeError: it is not one.
    """
    if not isinstance(value, dict):
        raise TypeError(f"{what}: expected an object, got {type(value).__name__}")
    return value


def tag_of(payload: Payload, what: str) -> str:
    """The ``type`` tag of an object.

    Raises:
        ValueError: it has no string ``type``.
    """
    tag = payload.get("type")
    if not isinstance(tag, str):
        raise ValueError(f"{what}: missing or non-string 'type'")
    return tag


def tagged(conv: cattrs.Converter, cls: type[Any], tag: str) -> tuple[Structure, Unstructure]:
    """Hooks for a leaf attrs class carried as an object with a ``type`` tag (``None`` left
    out)."""
    structure = cattrs.gen.make_dict_structure_fn(cls, conv)
    plain = cattrs.gen.make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True)

    def unstructure(value: Any) -> Payload:
        return {"type": tag, **plain(value)}

    return (lambda payload: structure(payload, cls)), unstructure


def leaf(conv: cattrs.Converter, cls: type[Any], **overrides: Any) -> None:
    """Register plain hooks (``None`` left out) for a nested attrs class named as on the wire."""
    conv.register_structure_hook(cls, cattrs.gen.make_dict_structure_fn(cls, conv))
    conv.register_unstructure_hook(
        cls,
        cattrs.gen.make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **overrides),
    )


def register_type_hooks(
    conv: cattrs.Converter, tp: Any, structure: Structure, unstructure: Unstructure | None = None
) -> None:
    """Register hooks for a typing construct (a union, a literal), which cattrs dispatches by
    predicate rather than by class."""
    conv.register_structure_hook_func(lambda t: t == tp, lambda value, _: structure(value))
    if unstructure is not None:
        conv.register_unstructure_hook_func(lambda t: t == tp, unstructure)


def _omit_none(**fields: Any) -> Payload:
    return {k: v for k, v in fields.items() if v is not None}


def _optional(conv: cattrs.Converter, payload: Payload, key: str, tp: Any) -> Any:
    value = payload.get(key)
    return None if value is None else conv.structure(value, tp)


def _attribute(value: Any, dotted: str) -> Any:
    """``value.a.b`` for ``"a.b"``; ``None`` when a step is ``None``."""
    for name in dotted.split("."):
        if value is None:
            return None
        value = getattr(value, name)
    return value


# --- the dialect description -------------------------------------------------------------------


@attrs.frozen
class Field:
    """Where one attribute of an agnostic object lives in a dialect's JSON object.

    Attributes:
        name: the attribute, dotted into the OpenAI extension (``"openai.tracing"``).
        path: the keys leading to it on the wire (``("audio", "output", "voice")``).
        tp: the type the dialect's converter (un)structures it as.
        nullable: JSON ``null`` means ``DISABLED`` ("off") rather than
            "not specified".
        only: the one session kind that carries it (``None``: both).
    """

    name: str
    path: tuple[str, ...]
    tp: Any
    nullable: bool = False
    only: m.SessionKind | None = None


def field(
    name: str, path: str, tp: Any, *, nullable: bool = False, only: m.SessionKind | None = None
) -> Field:
    """A ``Field`` with its wire path written dotted, e.g.
    ``field("voice", "audio.output.voice", str)``."""
    return Field(name, tuple(path.split(".")), tp, nullable, only)


_EXTENSIONS: Mapping[str, type[Any]] = {"openai": m.OpenAISessionOptions}
"""Nested extension objects of ``SessionOptions`` whose attributes a ``Field`` reaches with
a dot."""


_NOT_SETTINGS = ("kind", "message_id", "raw", "gemini")
"""Attributes that are not settings a dialect must place: the session kind (in the event name or
``type``), the event id, the raw payload, and another provider's extension (which OpenAI
dialects ignore, as ``SessionOptions`` documents)."""


def _uncovered(cls: type[Any], fields: tuple[Field, ...]) -> tuple[str, ...]:
    """The attributes of ``cls`` (dotted into extensions) that no field carries."""
    names = {f.name for f in fields}
    out: list[str] = []
    for a in attrs.fields(cls):
        if a.name in names or a.name in _NOT_SETTINGS:
            continue
        if a.name in _EXTENSIONS:
            nested = attrs.fields(_EXTENSIONS[a.name])
            out += [f"{a.name}.{s.name}" for s in nested if f"{a.name}.{s.name}" not in names]
        else:
            out.append(a.name)
    return tuple(out)


def translate_param(param: str, source: Dialect, target: Dialect) -> str:
    """A parameter path as ``source``'s events name it (an ``error.param``, e.g. GA
    ``session.audio.output.format.rate``) as ``target`` names it (beta
    ``session.output_audio_format.rate``), through the two dialects' field tables; unchanged
    where it names no session or ``response.create`` field that both carry."""
    head, _, rest = param.partition(".")
    tables = {
        "session": (source.session, target.session),
        "response": (source.response_create, target.response_create),
    }
    if head not in tables:
        return param
    ours, theirs = tables[head]
    keys = tuple(rest.split("."))
    for f in ours:
        if keys[: len(f.path)] == f.path:
            for g in theirs:
                if g.name == f.name:
                    return ".".join((head, *g.path, *keys[len(f.path) :]))
            return param
    return param


@attrs.frozen(kw_only=True)
class Dialect:
    """What one OpenAI Realtime dialect does differently.

    Attributes:
        name: ``"GA"`` or ``"beta"``, for error messages.
        client_events: wire name to client message class; encoding uses these names.
        server_events: wire name to server message class; encoding uses these names.
        decode_also: further server event names that decoding accepts.
        transcription_events: the event name of a session message (``SessionUpdate``,
            ``SessionCreated``, ``SessionUpdated``) whose session is a transcription session,
            where the dialect names those apart (beta ``transcription_session.*``; GA says so
            inside the session object).
        session_objects: the ``object`` tag of the session in ``session.created`` /
            ``session.updated``, by session kind.
        session: the session object's fields. A field named ``kind`` carries the session kind
            inside the object (GA ``type``).
        response: the response object's fields (``response.created`` / ``response.done``).
        response_create: the fields of ``response.create``'s ``response`` object.
        part_tags, item_tags, tool_tags: the tag each content part, item and tool class is
            encoded with; a class left out is one the dialect cannot carry.
        not_carried: attributes (dotted) of other classes that the dialect has no place for.
        register_hooks: registers the dialect's own hooks on its converter: audio formats
            (``AudioFormat``), tool choices (``ToolChoice``, ``ToolChoiceFunction``,
            ``ToolChoiceMcp``) and, with a ``kind`` field, session kinds (``SessionKind``).
    """

    name: str
    client_events: Mapping[str, type[m.ClientMessage]]
    server_events: Mapping[str, type[m.ServerMessage]]
    decode_also: Mapping[str, type[m.ServerMessage]] = attrs.field(factory=dict)
    transcription_events: Mapping[type[m.Message], str] = attrs.field(factory=dict)
    session_objects: Mapping[m.SessionKind, str]
    session: tuple[Field, ...]
    response: tuple[Field, ...]
    response_create: tuple[Field, ...]
    part_tags: Mapping[type[m.ContentPart], str]
    item_tags: Mapping[type[m.ConversationItem], str]
    tool_tags: Mapping[type[m.Tool], str]
    not_carried: Mapping[type[Any], tuple[str, ...]] = attrs.field(factory=dict)
    register_hooks: Callable[[cattrs.Converter], None]


# --- the converter and event tables of one dialect ---------------------------------------------


class Wire:
    """One dialect's strict converter and event tables, built from its ``Dialect``.

    Attributes:
        conv: the converter.
        client_decoders, server_decoders: wire name to ``payload -> message``.
        client_encoders, server_encoders: message class to ``message -> payload`` (with
            ``type``).
        client_types, server_types: the message classes the dialect carries.
    """

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.conv = make_strict_converter()
        self._not_carried: dict[type[Any], tuple[str, ...]] = {
            m.SessionOptions: _uncovered(m.SessionOptions, dialect.session),
            m.Response: _uncovered(m.Response, dialect.response),
            m.ResponseCreate: _uncovered(m.ResponseCreate, dialect.response_create),
            **dialect.not_carried,
        }
        self._register_values()
        dialect.register_hooks(self.conv)
        self._register_union(m.ContentPart, PART_TAGS, dialect.part_tags, "content part")
        self._register_items()
        self._register_union(m.Tool, TOOL_TAGS, dialect.tool_tags, "tool")
        self._register_objects()
        self.client_decoders, self.client_encoders = self._events(
            dialect.client_events, {}, m.ClientMessage
        )
        self.server_decoders, self.server_encoders = self._events(
            dialect.server_events, dialect.decode_also, m.ServerMessage
        )
        self.client_types = frozenset(dialect.client_events.values())
        self.server_types = frozenset(dialect.server_events.values())

    # hooks

    def _checked(self, cls: type[Any], unstructure: Unstructure) -> Unstructure:
        """``unstructure``, refusing a value in an attribute the dialect cannot carry."""
        names = self._not_carried.get(cls)
        if not names:
            return unstructure

        def checked(value: Any) -> Any:
            present = [n for n in names if _attribute(value, n) is not None]
            if present:
                raise EncodeError(
                    f"the OpenAI {self.dialect.name} dialect cannot carry "
                    + ", ".join(f"{cls.__name__}.{n}" for n in present)
                )
            return unstructure(value)

        return checked

    def _refuse(self, cls: type[Any]) -> Unstructure:
        def refuse(_: Any) -> Any:
            raise EncodeError(f"the OpenAI {self.dialect.name} dialect cannot carry {cls.__name__}")

        return refuse

    def _register_union(
        self,
        tp: Any,
        tags: Mapping[type[Any], tuple[str, ...]],
        encode_tags: Mapping[type[Any], str],
        what: str,
    ) -> None:
        """Hooks for a union of attrs classes told apart by ``type``: decoded by every tag in
        ``tags``, each class encoded with its tag in ``encode_tags`` (absent: refused)."""
        conv = self.conv
        decoders: dict[str, Structure] = {}
        for cls, names in tags.items():
            structure, unstructure = tagged(conv, cls, encode_tags.get(cls, names[0]))
            decoders |= dict.fromkeys(names, structure)
            conv.register_unstructure_hook(
                cls, self._checked(cls, unstructure) if cls in encode_tags else self._refuse(cls)
            )

        def structure_union(value: Any) -> Any:
            payload = require_object(value, what)
            tag = tag_of(payload, what)
            decoder = decoders.get(tag)
            if decoder is None:
                raise ValueError(f"unknown {what} type {tag!r}")
            return decoder(payload)

        register_type_hooks(conv, tp, structure_union)

    def _register_values(self) -> None:
        conv = self.conv
        for cls in (
            m.InputTranscription, m.NoiseReduction, m.RateLimit, m.ErrorDetails, m.McpToolInfo,
            m.McpCallError,
        ):  # fmt: skip
            leaf(conv, cls)
        self._register_union(
            Vad, _TURN_TAGS, {c: t[0] for c, t in _TURN_TAGS.items()}, "turn_detection"
        )

        def structure_max_tokens(value: Any) -> Any:
            return value if value == "inf" else conv.structure(value, int)

        def structure_conversation(value: Any) -> Any:
            if value not in ("auto", "none"):
                raise ValueError(f"response.conversation must be 'auto' or 'none', not {value!r}")
            return value

        register_type_hooks(conv, MaxTokens, structure_max_tokens)
        register_type_hooks(conv, ConversationMode, structure_conversation)

    def _register_items(self) -> None:
        conv = self.conv

        def structure_response_part(value: Any) -> m.OutputText | m.OutputAudio:
            part: m.ContentPart = conv.structure(value, m.ContentPart)  # type: ignore[arg-type]
            if not isinstance(part, m.OutputText | m.OutputAudio):
                raise ValueError(
                    f"a response content part must be text or audio, not {type(part).__name__}"
                )
            return part

        def unstructure_response_part(part: m.OutputText | m.OutputAudio) -> Payload:
            """``response.content_part.*`` parts are ``text`` / ``audio`` in both dialects."""
            payload: Payload = conv.unstructure(part)
            payload["type"] = "text" if isinstance(part, m.OutputText) else "audio"
            return payload

        def structure_input_entry(value: Any) -> m.ConversationItem | m.ItemReference:
            payload = require_object(value, "input item")
            if payload.get("type") == "item_reference":
                return m.ItemReference(id=conv.structure(payload.get("id"), str))
            return conv.structure(payload, m.ConversationItem)  # type: ignore[arg-type]

        register_type_hooks(conv, m.OutputText | m.OutputAudio, structure_response_part)
        conv.register_unstructure_hook(m.OutputText | m.OutputAudio, unstructure_response_part)
        self._register_union(m.ConversationItem, ITEM_TAGS, self.dialect.item_tags, "item")
        conv.register_unstructure_hook(m.MessageItem, self._unstructure_message_item)
        register_type_hooks(conv, m.ConversationItem | m.ItemReference, structure_input_entry)
        conv.register_unstructure_hook(
            m.ItemReference, lambda ref: {"type": "item_reference", "id": ref.id}
        )

    def _unstructure_message_item(self, item: m.MessageItem) -> Payload:
        allowed = ROLE_PARTS[item.role]
        for part in item.content:
            if not isinstance(part, allowed):
                raise EncodeError(
                    f"a {item.role} message cannot carry {type(part).__name__} content "
                    f"(allowed: {', '.join(c.__name__ for c in allowed)})"
                )
        payload: Payload = {"type": "message", "role": item.role}
        payload["content"] = [self.conv.unstructure(p) for p in item.content]
        return payload | _omit_none(id=item.id, status=item.status)

    def _register_objects(self) -> None:
        hooks: list[tuple[type[Any], Structure, Unstructure]] = [
            (m.SessionOptions, self.structure_session, self._unstructure_session),
            (m.Usage, self._structure_usage, _unstructure_usage),
            (m.TranscriptionUsage, self._structure_transcription_usage,
             _unstructure_transcription_usage),
            (m.ResponseStatusDetails, self._structure_status_details,
             _unstructure_status_details),
            (m.Response, self._structure_response, self._unstructure_response),
        ]  # fmt: skip
        for cls, structure, unstructure in hooks:
            register_type_hooks(self.conv, cls, structure)
            self.conv.register_unstructure_hook(cls, self._checked(cls, unstructure))

    # field tables

    def _structure_fields(
        self, fields: tuple[Field, ...], payload: Payload, what: str
    ) -> dict[str, Any]:
        """The attributes that ``fields`` find in ``payload`` (extensions' dotted)."""
        values: dict[str, Any] = {}
        for f in fields:
            node = payload
            for depth, key in enumerate(f.path[:-1]):
                node = require_object(node.get(key) or {}, ".".join((what, *f.path[: depth + 1])))
            value = node.get(f.path[-1])
            if value is None:
                if f.nullable and f.path[-1] in node:
                    values[f.name] = m.DISABLED
            elif get_origin(f.tp) is tuple:
                if not isinstance(value, list):
                    raise TypeError(f"{f.path[-1]}: expected an array")
                values[f.name] = tuple(self.conv.structure(v, get_args(f.tp)[0]) for v in value)
            else:
                values[f.name] = self.conv.structure(value, f.tp)
        return values

    def _unstructure_fields(self, fields: tuple[Field, ...], value: Any) -> Payload:
        payload: Payload = {}
        for f in fields:
            attribute = _attribute(value, f.name)
            if attribute is None:
                continue
            node = payload
            for key in f.path[:-1]:
                node = node.setdefault(key, {})
            if isinstance(attribute, m.Disabled):
                node[f.path[-1]] = None
            elif isinstance(attribute, tuple):
                node[f.path[-1]] = [self.conv.unstructure(v) for v in attribute]
            else:
                node[f.path[-1]] = self.conv.unstructure(attribute, f.tp)
        return payload

    # the session object

    def structure_session(self, value: Any, kind: m.SessionKind | None = None) -> m.SessionOptions:
        """A session object; ``kind`` is given where the event name tells it."""
        payload = require_object(value, "session")
        fields = self.dialect.session
        if kind is None:
            kinds = tuple(f for f in fields if f.name == "kind")
            kind = self._structure_fields(kinds, payload, "session").get("kind", "conversation")
        values = self._structure_fields(
            tuple(f for f in fields if f.only in (None, kind) and f.name != "kind"),
            payload,
            "session",
        )
        for name, cls in _EXTENSIONS.items():
            prefix = f"{name}."
            nested = {k[len(prefix) :]: values.pop(k) for k in list(values) if k.startswith(prefix)}
            extension = cls(**nested)
            values[name] = None if extension == cls() else extension
        return m.SessionOptions(kind=kind, **values)

    def _unstructure_session(self, options: m.SessionOptions) -> Payload:
        kind = options.kind
        misplaced = [
            f.name
            for f in self.dialect.session
            if f.only not in (None, kind) and _attribute(options, f.name) is not None
        ]
        if misplaced:
            raise EncodeError(
                f"a {kind} session cannot set {', '.join(misplaced)} (OpenAI "
                f"{self.dialect.name} {kind} sessions do not carry them)"
            )
        fields = tuple(f for f in self.dialect.session if f.only in (None, kind))
        return self._unstructure_fields(fields, options)

    # usage and the response object (section 1f)

    def _structure_usage(self, value: Any) -> m.Usage:
        conv = self.conv
        payload = require_object(value, "usage")
        inp = require_object(payload.get("input_token_details") or {}, "input_token_details")
        cached = require_object(inp.get("cached_tokens_details") or {}, "cached_tokens_details")
        out = require_object(payload.get("output_token_details") or {}, "output_token_details")
        return m.Usage(
            total_tokens=_optional(conv, payload, "total_tokens", int),
            input_tokens=_optional(conv, payload, "input_tokens", int),
            output_tokens=_optional(conv, payload, "output_tokens", int),
            input_text_tokens=_optional(conv, inp, "text_tokens", int),
            input_audio_tokens=_optional(conv, inp, "audio_tokens", int),
            input_image_tokens=_optional(conv, inp, "image_tokens", int),
            cached_tokens=_optional(conv, inp, "cached_tokens", int),
            cached_text_tokens=_optional(conv, cached, "text_tokens", int),
            cached_audio_tokens=_optional(conv, cached, "audio_tokens", int),
            cached_image_tokens=_optional(conv, cached, "image_tokens", int),
            output_text_tokens=_optional(conv, out, "text_tokens", int),
            output_audio_tokens=_optional(conv, out, "audio_tokens", int),
        )

    def _structure_transcription_usage(self, value: Any) -> m.TranscriptionUsage:
        conv = self.conv
        payload = require_object(value, "usage")
        details = require_object(payload.get("input_token_details") or {}, "input_token_details")
        return m.TranscriptionUsage(
            type=conv.structure(payload.get("type"), Literal["tokens", "duration"]),  # type: ignore[arg-type]
            input_tokens=_optional(conv, payload, "input_tokens", int),
            output_tokens=_optional(conv, payload, "output_tokens", int),
            total_tokens=_optional(conv, payload, "total_tokens", int),
            input_text_tokens=_optional(conv, details, "text_tokens", int),
            input_audio_tokens=_optional(conv, details, "audio_tokens", int),
            seconds=_optional(conv, payload, "seconds", float),
        )

    def _structure_status_details(self, value: Any) -> m.ResponseStatusDetails:
        conv = self.conv
        payload = require_object(value, "status_details")
        error = require_object(payload.get("error") or {}, "status_details.error")
        return m.ResponseStatusDetails(
            type=conv.structure(
                payload.get("type"),
                Literal["completed", "cancelled", "incomplete", "failed"],  # type: ignore[arg-type]
            ),
            reason=_optional(conv, payload, "reason", str),
            error_type=_optional(conv, error, "type", str),
            error_code=_optional(conv, error, "code", str),
        )

    def _structure_response(self, value: Any) -> m.Response:
        payload = require_object(value, "response")
        return m.Response(**self._structure_fields(self.dialect.response, payload, "response"))

    def _unstructure_response(self, response: m.Response) -> Payload:
        fields = self._unstructure_fields(self.dialect.response, response)
        return {"object": "realtime.response"} | fields

    # messages with nested wire shapes

    def _event_id(self, payload: Payload) -> str | None:
        return _optional(self.conv, payload, "event_id", str)  # type: ignore[no-any-return]

    def _session_event(
        self, cls: type[m.SessionCreated | m.SessionUpdated], kind: m.SessionKind | None
    ) -> tuple[Structure, Unstructure]:
        def decode(payload: Payload) -> m.SessionCreated | m.SessionUpdated:
            session = require_object(payload.get("session"), "session")
            return cls(
                message_id=self._event_id(payload),
                session=self.structure_session(session, kind),
                session_id=_optional(self.conv, session, "id", str),
                expires_at=_optional(self.conv, session, "expires_at", int),
                raw=payload,
            )

        def encode(message: m.SessionCreated | m.SessionUpdated) -> Payload:
            session = {"object": self.dialect.session_objects[message.session.kind]}
            session |= self.conv.unstructure(message.session)
            session |= _omit_none(id=message.session_id, expires_at=message.expires_at)
            return _omit_none(event_id=message.message_id) | {"session": session}

        return decode, encode

    def _session_update(self, kind: m.SessionKind | None) -> tuple[Structure, Unstructure]:
        def decode(payload: Payload) -> m.SessionUpdate:
            return m.SessionUpdate(
                message_id=self._event_id(payload),
                session=self.structure_session(payload.get("session"), kind),
                raw=payload,
            )

        def encode(message: m.SessionUpdate) -> Payload:
            session = self.conv.unstructure(message.session)
            return _omit_none(event_id=message.message_id) | {"session": session}

        return decode, encode

    def _response_create(self) -> tuple[Structure, Unstructure]:
        fields = self.dialect.response_create

        def decode(payload: Payload) -> m.ResponseCreate:
            params = require_object(payload.get("response") or {}, "response")
            values = self._structure_fields(fields, params, "response")
            return m.ResponseCreate(message_id=self._event_id(payload), raw=payload, **values)

        def encode(message: m.ResponseCreate) -> Payload:
            params = self._unstructure_fields(fields, message)
            return _omit_none(event_id=message.message_id, response=params or None)

        return decode, encode

    def _error(self) -> tuple[Structure, Unstructure]:
        conv = self.conv

        def decode(payload: Payload) -> m.Error:
            error = require_object(payload.get("error"), "error")
            return m.Error(
                message_id=self._event_id(payload),
                type=conv.structure(error.get("type"), str),
                message=conv.structure(error.get("message"), str),
                code=_optional(conv, error, "code", str),
                param=_optional(conv, error, "param", str),
                client_message_id=_optional(conv, error, "event_id", str),
                raw=payload,
            )

        def encode(message: m.Error) -> Payload:
            error = {"type": message.type, "message": message.message} | _omit_none(
                code=message.code, param=message.param, event_id=message.client_message_id
            )
            return _omit_none(event_id=message.message_id) | {"error": error}

        return decode, encode

    def _conversation_created(self) -> tuple[Structure, Unstructure]:
        def decode(payload: Payload) -> m.ConversationCreated:
            conversation = require_object(payload.get("conversation") or {}, "conversation")
            return m.ConversationCreated(
                message_id=self._event_id(payload),
                conversation_id=_optional(self.conv, conversation, "id", str),
                raw=payload,
            )

        def encode(message: m.ConversationCreated) -> Payload:
            conversation = {"object": "realtime.conversation"}
            conversation |= _omit_none(id=message.conversation_id)
            return _omit_none(event_id=message.message_id) | {"conversation": conversation}

        return decode, encode

    # the event tables

    def _message_hooks(
        self, cls: type[m.Message], kind: m.SessionKind | None
    ) -> tuple[Structure, Unstructure]:
        if cls is m.SessionUpdate:
            return self._session_update(kind)
        if cls is m.SessionCreated or cls is m.SessionUpdated:
            return self._session_event(cls, kind)
        if cls is m.ResponseCreate:
            return self._response_create()
        if cls is m.Error:
            return self._error()
        if cls is m.ConversationCreated:
            return self._conversation_created()
        return register_message(self.conv, cls)

    def _events(
        self,
        events: Mapping[str, type[m.Message]],
        decode_also: Mapping[str, type[m.Message]],
        direction: type[m.Message],
    ) -> tuple[dict[str, Structure], dict[type[Any], Unstructure]]:
        """Decoders by wire name, and encoders (the payload with its ``type``) by class."""
        decoders = {name: self._message_hooks(cls, None)[0] for name, cls in decode_also.items()}
        encoders: dict[type[Any], Unstructure] = {}
        transcription = self.dialect.transcription_events
        for name, cls in events.items():
            decoders[name], encode = self._message_hooks(cls, None)
            encoders[cls] = _named(name, transcription.get(cls), self._checked(cls, encode))
        for cls, name in transcription.items():
            if issubclass(cls, direction):
                decoders[name] = self._message_hooks(cls, "transcription")[0]
        return decoders, encoders

    def encode(
        self, message: m.Message, encoders: Mapping[type[Any], Unstructure], direction: str
    ) -> Payload:
        """The payload of one message.

        Raises:
            EncodeError: the dialect has no such event, or no place for one of its values.
        """
        if isinstance(message, m.RawClientMessage | m.RawServerMessage):
            if not isinstance(message.payload.get("type"), str):
                raise EncodeError(
                    f"a raw OpenAI {self.dialect.name} event needs a string 'type' (the event "
                    f"name); the payload has {sorted(message.payload)[:5]}"
                )
            return message.payload
        encode = encoders.get(type(message))
        if encode is None:
            raise EncodeError(
                f"{type(message).__name__} is not an OpenAI {self.dialect.name} {direction} event"
            )
        try:
            return encode(message)  # type: ignore[no-any-return]
        except EncodeError:
            raise
        except MALFORMED as exc:
            raise EncodeError(f"cannot encode {type(message).__name__}: {exc}") from None


def _named(name: str, transcription_name: str | None, body: Unstructure) -> Unstructure:
    """Prefix a message's payload with its ``type``; a session message whose session is a
    transcription session takes ``transcription_name`` where the dialect has one."""

    def encode(message: Any) -> Payload:
        payload: Payload = body(message)
        if transcription_name is not None and message.session.kind == "transcription":
            return {"type": transcription_name} | payload
        return {"type": name} | payload

    return encode


def _unstructure_usage(usage: m.Usage) -> Payload:
    cached = _omit_none(
        text_tokens=usage.cached_text_tokens,
        audio_tokens=usage.cached_audio_tokens,
        image_tokens=usage.cached_image_tokens,
    )
    inp = _omit_none(
        text_tokens=usage.input_text_tokens,
        audio_tokens=usage.input_audio_tokens,
        image_tokens=usage.input_image_tokens,
        cached_tokens=usage.cached_tokens,
        cached_tokens_details=cached or None,
    )
    out = _omit_none(text_tokens=usage.output_text_tokens, audio_tokens=usage.output_audio_tokens)
    return _omit_none(
        total_tokens=usage.total_tokens,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        input_token_details=inp or None,
        output_token_details=out or None,
    )


def _unstructure_transcription_usage(usage: m.TranscriptionUsage) -> Payload:
    details = _omit_none(text_tokens=usage.input_text_tokens, audio_tokens=usage.input_audio_tokens)
    return _omit_none(
        type=usage.type,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
        input_token_details=details or None,
        seconds=usage.seconds,
    )


def _unstructure_status_details(details: m.ResponseStatusDetails) -> Payload:
    error = _omit_none(type=details.error_type, code=details.error_code)
    return _omit_none(type=details.type, reason=details.reason, error=error or None)


# --- the codec ---------------------------------------------------------------------------------


def _append_tail(message: m.InputAudioBufferAppend) -> bytes:
    """What follows the audio of an ``input_audio_buffer.append`` frame.

    Raises:
        EncodeError: an ``event_id`` JSON cannot carry (a lone surrogate).
    """
    if message.message_id is None:
        return b'"}'
    return b'",' + dumps({"event_id": message.message_id})[1:].encode()


def _append_frame(message: m.InputAudioBufferAppend) -> str:
    """``input_audio_buffer.append`` (the same in both dialects), written around its audio
    (``blob_frame``: under 3x the audio at peak, for the largest appends too)."""
    head = b'{"type":"input_audio_buffer.append","audio":"'
    return blob_frame(head, message.audio, _append_tail(message))


MAX_APPEND_BYTES: Final = 15 * 2**20
"""The largest ``input_audio_buffer.append`` the service takes (its API reference: up to
15 MiB of audio per event)."""

BOUNDS: Final = m.Bounds(
    m.Bound(m.SessionOptions, "output_speed", 0.25, 1.5),
    m.Bound(m.SessionOptions, "max_output_tokens", 1, 4096),
    m.Bound(m.ResponseCreate, "max_output_tokens", 1, 4096),
    m.Bound(m.ServerVad, "threshold", 0.0, 1.0),
    m.Bound(m.ServerVad, "prefix_padding_ms", 0, unit="ms"),
    m.Bound(m.ServerVad, "silence_duration_ms", 0, unit="ms"),
    m.Bound(m.ServerVad, "idle_timeout_ms", 0, unit="ms"),
    m.Bound(m.OpenAISessionOptions, "temperature", 0.6, 1.2),
    m.Bound(m.ConversationItemTruncate, "content_index", 0),
    m.Bound(m.ConversationItemTruncate, "audio_end_ms", 0, unit="ms"),
)
"""The numeric ranges the OpenAI Realtime API reference documents, for both dialects and
Azure (``rtsession.local`` answers values outside them with the service's ``error``)."""


@final
class LazyWire:
    """A codec class's ``Wire``, built the first time a codec of the class is used: its
    cattrs converter takes tens of milliseconds to build, which ``import rtsession`` should
    not pay for a dialect the program never speaks."""

    __slots__ = ("_built", "dialect")

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._built: Wire | None = None

    def __get__(self, instance: object, owner: type | None = None) -> Wire:
        built = self._built
        if built is None:
            built = self._built = Wire(self.dialect)
        return built


class OpenAICodecBase:
    """The four directions of an OpenAI Realtime dialect; a subclass names its ``Wire``
    (a ``LazyWire``).

    Stateless; one instance per connection is the convention all codecs follow.
    """

    _wire: ClassVar[LazyWire]
    client_types: ClassVar[frozenset[type[m.ClientMessage]]]
    server_types: ClassVar[frozenset[type[m.ServerMessage]]]

    def check_client(
        self, message: m.ClientMessage, in_force: m.SessionOptions | None = None
    ) -> None:
        """Raise ``EncodeError`` if ``message`` cannot be encoded, or holds a value outside
        the ranges the service documents (``BOUNDS``, ``MAX_APPEND_BYTES``). The codec is
        stateless and ``in_force`` does not matter to it, so checking is encoding and
        discarding the frame (about 1 us)."""
        if isinstance(message, m.InputAudioBufferAppend) and len(message.audio) > MAX_APPEND_BYTES:
            raise EncodeError(
                f"InputAudioBufferAppend.audio holds {len(message.audio)} bytes: OpenAI takes "
                f"at most {MAX_APPEND_BYTES} (15 MiB) per append; send it in smaller pieces"
            )
        BOUNDS.check(message)
        if type(message) is m.InputAudioBufferAppend:
            _append_tail(message)  # any bytes make a valid append: only its id to check
        else:
            self.encode_client(message)

    def encode_client(self, message: m.ClientMessage) -> list[Frame]:
        """Encode one client message as one text frame.

        Raises:
            EncodeError: the message is not a client event of this dialect, or holds a value the
                dialect cannot carry (e.g. assistant content in a user message, a
                conversation-only setting on a transcription session).
        """
        if type(message) is m.InputAudioBufferAppend:
            return [_append_frame(message)]
        wire = self._wire
        return [dumps(wire.encode(message, wire.client_encoders, "client"))]

    def encode_server(self, message: m.ServerMessage) -> list[Frame]:
        """Encode one server message as one text frame (used by ``rtsession.local``).

        ``RawServerMessage`` is sent as its payload and ``InvalidServerMessage`` as its frame,
        unchanged.

        Raises:
            EncodeError: the message is not a server event of this dialect, or holds a value the
                dialect cannot carry.
        """
        if isinstance(message, m.InvalidServerMessage):
            return [message.frame]
        wire = self._wire
        return [dumps(wire.encode(message, wire.server_encoders, "server"))]

    def decode_server(self, frame: Frame) -> list[m.ServerMessage]:
        """Decode one frame from the service; never raises.

        Returns:
            One message: a typed message, ``RawServerMessage`` for an unknown ``type``, or
            ``InvalidServerMessage`` for a frame that is not a JSON object or a known event
            whose fields are missing or mistyped.
        """
        payload = loads_object(frame)
        if isinstance(payload, str):
            return [invalid_frame(frame, payload)]
        event_type = payload.get("type")
        if not isinstance(event_type, str):
            return [invalid_frame(frame, "the event has no string 'type'")]
        decode = self._wire.server_decoders.get(event_type.strip())
        if decode is None:
            return [m.RawServerMessage(type=event_type, payload=payload, raw=payload)]
        try:
            return [decode(payload)]
        except MALFORMED as exc:
            error = decode_error(event_type, exc, None)
            return [invalid_frame(frame, str(error))]

    def decode_client(self, frame: Frame) -> list[m.ClientMessage]:
        """Decode one client frame (the server direction, used by ``rtsession.local``).

        Raises:
            DecodeError: the frame is not a JSON object, its ``type`` is missing or unknown,
                or a field is missing or mistyped; ``code``, ``param`` and ``event_id`` say
                what the service's ``error`` event would.
        """
        payload = loads_object(frame)
        if isinstance(payload, str):
            raise DecodeError(payload, code="invalid_json")
        event_id = payload.get("event_id") if isinstance(payload.get("event_id"), str) else None
        event_type = payload.get("type")
        if not isinstance(event_type, str):
            raise DecodeError(
                "The 'type' field is missing.", code="missing_required_parameter",
                param="type", event_id=event_id,
            )  # fmt: skip
        decoders = self._wire.client_decoders
        decode = decoders.get(event_type)
        if decode is None:
            raise DecodeError(
                f"Invalid value: {event_type!r}. Supported values are: "
                + ", ".join(f"{t!r}" for t in decoders),
                code="invalid_value", param="type", event_id=event_id,
            )  # fmt: skip
        try:
            return [decode(payload)]
        except MALFORMED as exc:
            raise decode_error(event_type, exc, event_id) from None
