"""Hypothesis strategies for every message in ``rtsession.messages``.

Public, so users can property-test their own middleware and codecs::

    from hypothesis import given
    from rtsession.testing import strategies as rts

    @given(rts.server_messages())
    def test_my_stage_forwards_everything(message): ...

The strategies build messages the way an app or a service would: valid for the GA wire format
(e.g. a user message carries only input parts). ``client_messages()`` and
``server_messages()`` cover every concrete class; ``messages_of(cls)`` builds one class.
Values stay JSON-safe: text without lone surrogates, integers within 53 bits, finite floats.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import attrs
from hypothesis import strategies as st

from .. import messages as m

__all__ = [
    "audio",
    "client_message_types",
    "client_messages",
    "conversation_items",
    "json_values",
    "messages_of",
    "server_message_types",
    "server_messages",
    "session_options",
    "text",
]

T = TypeVar("T")

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
"""Strings that JSON carries losslessly (no lone surrogates)."""

ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=24)
"""Identifier-like strings such as ``item_abc``."""

audio = st.binary(max_size=960)
"""PCM16 payloads, up to 20 ms at 24 kHz (960 bytes)."""

_ints = st.integers(min_value=0, max_value=2**53)
_floats = st.floats(allow_nan=False, allow_infinity=False, width=64)

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _floats | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
"""Any JSON value."""

_json_objects = st.dictionaries(text, json_values, max_size=3)


def _optional(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | strategy


def _tuples(strategy: st.SearchStrategy[T], max_size: int = 3) -> st.SearchStrategy[tuple[T, ...]]:
    return st.lists(strategy, max_size=max_size).map(tuple)


_modalities = st.sampled_from([("audio",), ("text",)])
_max_tokens = st.integers(1, 4096) | st.just("inf")

_OVERRIDES: dict[tuple[type[Any], str], st.SearchStrategy[Any]] = {}
_CLASS_STRATEGIES: dict[type[Any], st.SearchStrategy[Any]] = {}


def _for_type(tp: Any) -> st.SearchStrategy[Any]:
    """A strategy for one field annotation (attrs classes, unions, literals, containers)."""
    if tp is Any:
        return json_values
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return st.one_of(*(_for_type(arg) for arg in get_args(tp)))
    if origin is Literal:
        return st.sampled_from(get_args(tp))
    if origin is tuple:
        return _tuples(_for_type(get_args(tp)[0]))
    if origin is dict:
        key, value = get_args(tp)
        return st.dictionaries(_for_type(key), _for_type(value), max_size=3)
    if tp is type(None):
        return st.none()
    if tp is str:
        return text
    if tp is bool:
        return st.booleans()
    if tp is int:
        return _ints
    if tp is float:
        return _floats
    if tp is bytes:
        return audio
    if attrs.has(tp):
        return messages_of(tp)
    raise TypeError(f"no strategy for {tp!r}")


def messages_of(cls: type[T]) -> st.SearchStrategy[T]:
    """Instances of one attrs class from ``rtsession.messages`` (a message or a part of one)."""
    if cls in _CLASS_STRATEGIES:
        return typing.cast(st.SearchStrategy[T], _CLASS_STRATEGIES[cls])
    return typing.cast(st.SearchStrategy[T], _build_attrs(cls))


def _build_attrs(cls: Any) -> st.SearchStrategy[Any]:
    attrs.resolve_types(cls)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in attrs.fields(cls):
        if field.name == "raw":
            continue
        if (cls, field.name) in _OVERRIDES:
            fields[field.name] = _OVERRIDES[(cls, field.name)]
        elif field.name == "message_id" or field.name.endswith("_id") or field.name == "id":
            strategy = ids
            fields[field.name] = _optional(strategy) if field.default is None else strategy
        else:
            fields[field.name] = _for_type(field.type)
    built = st.builds(cls, **fields)
    _CLASS_STRATEGIES[cls] = built
    return built


def _register(cls: type[Any], **fields: st.SearchStrategy[Any]) -> None:
    for name, strategy in fields.items():
        _OVERRIDES[(cls, name)] = strategy


def _message_items() -> st.SearchStrategy[m.MessageItem]:
    parts = {
        "system": messages_of(m.InputText),
        "user": st.one_of(
            messages_of(m.InputText), messages_of(m.InputAudio), messages_of(m.InputImage)
        ),
        "assistant": st.one_of(messages_of(m.OutputText), messages_of(m.OutputAudio)),
    }
    return st.sampled_from(sorted(parts)).flatmap(
        lambda role: st.builds(
            m.MessageItem,
            role=st.just(role),
            content=_tuples(parts[role]),
            id=_optional(ids),
            status=_optional(st.sampled_from(["completed", "incomplete", "in_progress"])),
        )
    )


def _session_options() -> st.SearchStrategy[m.SessionOptions]:
    audio_only: dict[str, st.SearchStrategy[Any]] = {
        "input_audio_format": _optional(messages_of(m.AudioFormat)),
        "input_transcription": _optional(messages_of(m.InputTranscription) | st.just(m.DISABLED)),
        "noise_reduction": _optional(messages_of(m.NoiseReduction) | st.just(m.DISABLED)),
        "turn_detection": _optional(
            messages_of(m.ServerVad) | messages_of(m.SemanticVad) | st.just(m.DISABLED)
        ),
        "openai": _optional(
            messages_of(m.OpenAISessionOptions).filter(lambda o: o != m.OpenAISessionOptions())
        ),
    }
    conversation = st.builds(
        m.SessionOptions,
        kind=st.just("conversation"),
        model=_optional(text),
        instructions=_optional(text),
        voice=_optional(text),
        output_audio_format=_optional(messages_of(m.AudioFormat)),
        output_modalities=_optional(_modalities),
        output_speed=_optional(st.floats(0.25, 1.5)),
        tools=_optional(_tuples(_for_type(m.Tool))),
        tool_choice=_optional(_for_type(m.ToolChoice)),
        max_output_tokens=_optional(_max_tokens),
        **audio_only,
    )
    transcription = st.builds(
        m.SessionOptions,
        kind=st.just("transcription"),
        **audio_only
        | {"openai": st.none() | st.builds(m.OpenAISessionOptions, include=st.just(()))},
    )
    return conversation | transcription


_CLASS_STRATEGIES[m.AudioFormat] = st.builds(
    m.AudioFormat, type=st.just("audio/pcm"), rate=_optional(st.just(24000))
) | st.builds(m.AudioFormat, type=st.sampled_from(["audio/pcmu", "audio/pcma"]))
_CLASS_STRATEGIES[m.McpCallError] = st.one_of(
    st.builds(m.McpCallError, type=st.just("tool_execution_error"), message=text),
    st.builds(
        m.McpCallError,
        type=st.sampled_from(["protocol_error", "http_error"]),
        message=text,
        code=st.integers(-(2**31), 2**31),
    ),
)
_register(m.FunctionTool, parameters=_optional(_json_objects))
_register(
    m.McpTool,
    require_approval=st.sampled_from([None, "always", "never"]),
    connector_id=_optional(st.sampled_from(["connector_gmail", "connector_googledrive"])),
)
_register(
    m.OpenAISessionOptions,
    tracing=st.sampled_from([None, "auto"]) | st.builds(dict, workflow_name=text),
    truncation=st.sampled_from([None, "auto", "disabled"]),
    prompt=_optional(st.builds(dict, id=ids)),
    include=st.sampled_from([None, ("item.input_audio_transcription.logprobs",)]),
    temperature=st.none(),  # beta-dialect only; GA, which these strategies target, has none
)
_register(m.McpToolInfo, input_schema=_json_objects, annotations=_optional(_json_objects))
_register(
    m.ResponseCreate,
    output_modalities=_optional(_modalities),
    max_output_tokens=_optional(_max_tokens),
)
_register(
    m.Response, output_modalities=_optional(_modalities), max_output_tokens=_optional(_max_tokens)
)
_register(m.RawClientMessage, payload=_json_objects)
_register(m.GeminiSessionOptions, temperature=_optional(st.floats(0.0, 2.0)))
_register(m.ToolCallCancellation, call_ids=_tuples(ids))
_CLASS_STRATEGIES[m.MessageItem] = _message_items()
_CLASS_STRATEGIES[m.SessionOptions] = _session_options()
_CLASS_STRATEGIES[m.Disabled] = st.just(m.DISABLED)


def _raw_server_messages() -> st.SearchStrategy[m.RawServerMessage]:
    def build(event_type: str, payload: dict[str, Any]) -> m.RawServerMessage:
        payload = {**payload, "type": event_type}
        return m.RawServerMessage(type=event_type, payload=payload, raw=payload)

    return st.builds(build, ids.map(lambda s: f"x_unknown.{s}"), _json_objects)


_CLASS_STRATEGIES[m.RawServerMessage] = _raw_server_messages()


def _concrete(base: type[T]) -> list[type[T]]:
    found = [getattr(m, name) for name in sorted(dir(m))]
    return [c for c in found if isinstance(c, type) and issubclass(c, base) and c is not base]


def client_message_types() -> list[type[m.ClientMessage]]:
    """Every concrete client message class except ``RawClientMessage``."""
    return [c for c in _concrete(m.ClientMessage) if c is not m.RawClientMessage]


def server_message_types() -> list[type[m.ServerMessage]]:
    """Every concrete server message class, including raw passthrough, except
    ``InvalidServerMessage`` (a decoding outcome, not an event)."""
    return [c for c in _concrete(m.ServerMessage) if c is not m.InvalidServerMessage]


def client_messages(
    types: Iterable[type[m.ClientMessage]] | None = None,
) -> st.SearchStrategy[m.ClientMessage]:
    """Any client message of ``types`` (default: every one of ``client_message_types``);
    pass a codec's ``client_types`` for the messages one wire format carries."""
    chosen = client_message_types() if types is None else sorted(types, key=lambda c: c.__name__)
    return st.one_of(*(messages_of(c) for c in chosen))


def server_messages(
    types: Iterable[type[m.ServerMessage]] | None = None,
) -> st.SearchStrategy[m.ServerMessage]:
    """Any server message of ``types`` (default: every one of ``server_message_types``);
    pass a codec's ``server_types`` for the messages one wire format carries."""
    chosen = server_message_types() if types is None else sorted(types, key=lambda c: c.__name__)
    return st.one_of(*(messages_of(c) for c in chosen))


def conversation_items() -> st.SearchStrategy[m.ConversationItem]:
    """Any conversation item, with content valid for its role."""
    return _for_type(m.ConversationItem)


def session_options() -> st.SearchStrategy[m.SessionOptions]:
    """Session configurations; transcription sessions carry only audio input settings."""
    return messages_of(m.SessionOptions)
