"""Nothing invalid reaches the socket: every client message class, with a field of the wrong
type or value (hypothesis picks the message, the field, nested or not, and the value), is
refused by ``send`` with an ``EncodeError`` naming the field; the fake server receives
nothing. Also the values users reported reaching the wire, one by one."""

from __future__ import annotations

import math
import types
import typing
from typing import Any, Literal, Union

import attrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from rtsession import EncodeError, messages as m
from rtsession.session import open_session
from rtsession.testing import FakeProvider
from rtsession.testing.strategies import client_message_types, messages_of

WRONG: tuple[object, ...] = (
    12345,
    -1.5,
    math.nan,
    math.inf,
    True,
    "bogus-value",
    b"\x00\x01",
    ["a", "list"],
    {"a": {1, 2}},
    object(),
)


def acceptable(value: object, hint: Any) -> bool:
    """What a field of that declared type may hold (this test's own reading of the hints)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        try:
            orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:
            return False
        return "nan" not in repr(value) and "inf" not in repr(value)
    if origin in (Union, types.UnionType):
        return any(acceptable(value, arm) for arm in typing.get_args(hint))
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in typing.get_args(hint))
    if origin in (tuple, dict):
        return isinstance(value, origin)
    if hint is type(None):
        return value is None
    if hint is float:
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(hint, type) and isinstance(value, hint)


def places(obj: object) -> list[tuple[object, str, Any]]:
    """Every field of ``obj`` and of the attrs objects inside it: (owner, name, hint)."""
    found: list[tuple[object, str, Any]] = []
    hints = typing.get_type_hints(type(obj))
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        found.append((obj, field.name, hints[field.name]))
        for item in value if isinstance(value, tuple) else (value,):
            if attrs.has(type(item)):
                found += places(item)
    return found


@st.composite
def broken_messages(draw: st.DrawFn) -> tuple[m.ClientMessage, str]:
    """A valid message of any class with one field, anywhere in it, set to a value its
    declared type does not allow; and that field's name."""
    cls = draw(st.sampled_from([*client_message_types(), m.RawClientMessage]))
    message = draw(messages_of(cls))
    owner, name, hint = draw(st.sampled_from(places(message)))
    value = draw(st.sampled_from([v for v in WRONG if not acceptable(v, hint)]))
    object.__setattr__(owner, name, value)  # as an unchecked evolve() or a bug would
    return message, name


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken_messages())
async def test_a_wrong_field_is_refused_and_nothing_reaches_the_socket(
    broken: tuple[m.ClientMessage, str],
) -> None:
    message, name = broken
    fake = FakeProvider()
    async with open_session(fake, transport=fake) as session:
        with pytest.raises(EncodeError, match=name):
            await session.send(message)
        await session.send(m.InputAudioBufferClear())  # what does reach the fake
        await fake.receive_of(m.InputAudioBufferClear)
    assert fake.received == (m.InputAudioBufferClear(),)


REPORTED: list[tuple[str, m.ClientMessage, str]] = [
    (
        "item_id 123",
        m.ConversationItemTruncate(item_id=123, content_index=0, audio_end_ms=5),  # type: ignore[arg-type]
        "ConversationItemTruncate.item_id must be str, not int 123",
    ),
    (
        "content_index 'x'",
        m.ConversationItemTruncate(item_id="i", content_index="x", audio_end_ms=5),  # type: ignore[arg-type]
        "ConversationItemTruncate.content_index must be int, not str 'x'",
    ),
    (
        "max_output_tokens 'lots'",
        m.ResponseCreate(max_output_tokens="lots"),  # type: ignore[arg-type]
        "ResponseCreate.max_output_tokens must be int or 'inf' or None, not 'lots'",
    ),
    (
        "output_modalities video",
        m.ResponseCreate(output_modalities=("video",)),  # type: ignore[arg-type]
        "ResponseCreate.output_modalities[0] must be 'text' or 'audio', not 'video'",
    ),
    (
        "session None",
        m.SessionUpdate(session=None),  # type: ignore[arg-type]
        "SessionUpdate.session must be SessionOptions, not NoneType None",
    ),
    (
        "NaN",
        m.SessionUpdate(session=m.SessionOptions(output_speed=math.nan)),
        "SessionUpdate.session.output_speed must be a finite number or None, not nan",
    ),
    (
        "NaN in a raw payload",
        m.RawClientMessage(payload={"type": "x", "v": math.nan}),
        "RawClientMessage.payload.v must be a finite number, not nan",
    ),
    (
        "output_speed 9",
        m.SessionUpdate(session=m.SessionOptions(output_speed=9)),
        "SessionUpdate.session.output_speed must be 0.25 to 1.5, not 9",
    ),
    (
        "max_output_tokens 0",
        m.ResponseCreate(max_output_tokens=0),
        "ResponseCreate.max_output_tokens must be 1 to 4096, not 0",
    ),
    (
        "a raw event without a type",
        m.RawClientMessage(payload={"a": 1}),
        "a raw OpenAI GA event needs a string 'type'",
    ),
    (
        "more than 15 MiB of audio",
        m.InputAudioBufferAppend(audio=bytes(15 * 2**20 + 2)),
        "holds 15728642 bytes: OpenAI takes at most 15728640 (15 MiB) per append",
    ),
]


@pytest.mark.parametrize(
    ("message", "error"), [r[1:] for r in REPORTED], ids=[r[0] for r in REPORTED]
)
async def test_what_users_saw_reach_the_wire_is_refused(
    message: m.ClientMessage, error: str
) -> None:
    fake = FakeProvider()
    async with open_session(fake, transport=fake) as session:
        with pytest.raises(EncodeError) as refused:
            await session.send(message)
    assert error in str(refused.value)
    assert fake.received == ()
