"""The OpenAI GA codec: round trips, the official SDK as oracle, the spec's examples, and
everything that must not crash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings, strategies as st
from openai.types.realtime import RealtimeClientEvent

from rtsession import DecodeError, EncodeError, messages as m
from rtsession.testing import strategies as rts
from rtsession.wire._json import b64decode
from rtsession.wire.openai import OpenAICodec
from sdk_clients.sdk_oracle import strict_union, unknown_keys

FIXTURES = Path(__file__).parent / "fixtures" / "openai"
codec = OpenAICodec()


# --- round trips -------------------------------------------------------------------------------


SERVER_TYPES = sorted(OpenAICodec.server_types, key=lambda c: c.__name__)
CLIENT_TYPES = sorted(OpenAICodec.client_types, key=lambda c: c.__name__)


@settings(max_examples=1500)
@given(rts.server_messages([*SERVER_TYPES, m.RawServerMessage]))
def test_server_round_trip(message: m.ServerMessage) -> None:
    frames = codec.encode_server(message)
    assert [d for f in frames for d in codec.decode_server(f)] == [message]


@settings(max_examples=1500)
@given(rts.client_messages(CLIENT_TYPES))
def test_client_round_trip(message: m.ClientMessage) -> None:
    frames = codec.encode_client(message)
    assert [d for f in frames for d in codec.decode_client(f)] == [message]


@pytest.mark.parametrize("cls", [*SERVER_TYPES, m.RawServerMessage], ids=lambda c: c.__name__)
@settings(max_examples=25)
@given(data=st.data())
def test_every_server_type_round_trips(cls: type[m.ServerMessage], data: st.DataObject) -> None:
    message = data.draw(rts.messages_of(cls))
    (decoded,) = codec.decode_server(codec.encode_server(message)[0])
    assert decoded == message
    assert type(decoded) is cls


@pytest.mark.parametrize("cls", CLIENT_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=25)
@given(data=st.data())
def test_every_client_type_round_trips(cls: type[m.ClientMessage], data: st.DataObject) -> None:
    message = data.draw(rts.messages_of(cls))
    (decoded,) = codec.decode_client(codec.encode_client(message)[0])
    assert decoded == message
    assert type(decoded) is cls


def test_every_ga_event_is_modelled() -> None:
    assert len(CLIENT_TYPES) == 11
    assert len(SERVER_TYPES) == 46


# --- the official SDK as a strict oracle (reference section 3) ---------------------------------


_CLIENT_ORACLE = strict_union(RealtimeClientEvent)


def _has_item_reference(message: m.ClientMessage) -> bool:
    # The SDK's event union rejects item_reference entries, which the wire accepts
    # (only ResponseCreateEventWithReferencesParam models them; reference section 1e).
    return isinstance(message, m.ResponseCreate) and any(
        isinstance(i, m.ItemReference) for i in message.input or ()
    )


@settings(max_examples=1000)
@given(rts.client_messages(CLIENT_TYPES).filter(lambda msg: not _has_item_reference(msg)))
def test_sdk_validates_every_encoded_client_message(message: m.ClientMessage) -> None:
    (frame,) = codec.encode_client(message)
    event = _CLIENT_ORACLE.validate_json(frame)
    assert unknown_keys(event) == []


def test_sdk_oracle_catches_a_typo() -> None:
    frame = '{"type":"session.update","session":{"type":"realtime","audio":{"output":{"sped":1}}}}'
    assert unknown_keys(_CLIENT_ORACLE.validate_json(frame)) == ["$.session.audio.output.sped"]


# --- the OpenAPI spec's examples ---------------------------------------------------------------


def _unelided(value: Any) -> Any:
    """The example with the spec's elisions removed: ``"8//2//v/..."`` abbreviates audio,
    and base64 is decoded strictly (a trailing ``...`` is no base64)."""
    if isinstance(value, dict):
        return {k: _unelided(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unelided(v) for v in value]
    if isinstance(value, str) and value.endswith("...") and "/" in value:
        return value.removesuffix("...")
    return value


def _examples(direction: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for line in (FIXTURES / f"openapi-examples.ga.{direction}.jsonl").read_text().splitlines():
        record = json.loads(line)
        for i, example in enumerate(record.get("examples") or [record["example"]]):
            out.append((f"{record['type']}#{i}", _unelided(example)))
    return out


def _canonical(value: Any, event_type: str = "", key: str = "") -> Any:
    """What "equal, nulls aside" means for a spec example.

    Left out: ``null`` values (the live server sends them for absent fields), the constant
    ``object`` tags, ``obfuscation`` (random padding the service adds to deltas) and the
    beta-era ``format`` key on an audio part. Normalized: the legacy part names ``text`` /
    ``audio`` inside items to the GA ``output_text`` / ``output_audio`` that the codec emits,
    whitespace around ``type``, and base64 fields to their decoded bytes (several examples
    hold placeholders such as ``"Base64EncodedAudioData"``).
    """
    if isinstance(value, dict):
        event_type = str(value.get("type", event_type)).strip()
        out = {}
        for k, v in value.items():
            if v is None or k in ("object", "obfuscation", "format"):
                continue
            out[k] = _canonical(v, event_type, k)
        if key == "content" or "role" in value or event_type in ("text", "audio"):
            out["type"] = {"text": "output_text", "audio": "output_audio"}.get(
                out.get("type", ""), out.get("type")
            )
        return out
    if isinstance(value, list):
        return [_canonical(v, event_type, key) for v in value]
    if key == "type" and isinstance(value, str):
        return value.strip()
    if isinstance(value, str) and (
        key == "audio" or (key, event_type) == ("delta", "response.output_audio.delta")
    ):
        return b64decode(value)
    return value


def _content_part_event(event: dict[str, Any]) -> bool:
    return event.get("type", "").startswith("response.content_part.")


@pytest.mark.parametrize(("name", "example"), _examples("server"), ids=lambda v: str(v)[:60])
def test_spec_server_examples(name: str, example: dict[str, Any]) -> None:
    (message,) = codec.decode_server(orjson.dumps(example))
    assert not isinstance(message, m.RawServerMessage | m.InvalidServerMessage), message
    assert message.raw == example
    (frame,) = codec.encode_server(message)
    again = orjson.loads(frame)
    if _content_part_event(example):
        assert again["part"]["type"] == example["part"]["type"]  # GA keeps text/audio here
    assert _canonical(again) == _canonical(example)


@pytest.mark.parametrize(("name", "example"), _examples("client"), ids=lambda v: str(v)[:60])
def test_spec_client_examples(name: str, example: dict[str, Any]) -> None:
    (message,) = codec.decode_client(orjson.dumps(example))
    assert not isinstance(message, m.RawClientMessage)
    (frame,) = codec.encode_client(message)
    assert _canonical(orjson.loads(frame)) == _canonical(example)


def test_spec_examples_cover_every_event() -> None:
    assert len(_examples("server")) == 46
    assert len({n.split("#")[0] for n, _ in _examples("client")}) == 11


# --- live-wire tolerance -----------------------------------------------------------------------


def test_live_wire_quirks_decode() -> None:
    frame = {
        "type": "response.output_audio_transcript.delta",
        "event_id": "event_1",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
        "delta": "Hel",
        "obfuscation": "aLxx0jTEci",
        "some_future_field": {"x": 1},
    }
    (message,) = codec.decode_server(orjson.dumps(frame))
    assert message == m.ResponseOutputAudioTranscriptDelta(
        message_id="event_1",
        response_id="resp_1",
        item_id="item_1",
        output_index=0,
        content_index=0,
        delta="Hel",
    )
    assert message.raw["obfuscation"] == "aLxx0jTEci"


def test_null_means_off_where_the_service_says_so() -> None:
    frame = {
        "type": "session.updated",
        "session": {
            "type": "realtime",
            "tracing": None,
            "audio": {"input": {"turn_detection": None, "transcription": None}},
        },
    }
    (message,) = codec.decode_server(orjson.dumps(frame))
    assert isinstance(message, m.SessionUpdated)
    assert message.session.turn_detection is m.DISABLED
    assert message.session.input_transcription is m.DISABLED
    assert message.session.noise_reduction is None
    assert message.session.openai is None


def test_urlsafe_unpadded_base64_audio() -> None:
    pcm = bytes([0xFB, 0xFF, 0x00, 0x10, 0xFE])
    frame = {
        "type": "response.output_audio.delta",
        "response_id": "r",
        "item_id": "i",
        "output_index": 0,
        "content_index": 0,
        "delta": "-_8AEP4",
    }
    (message,) = codec.decode_server(orjson.dumps(frame))
    assert isinstance(message, m.ResponseOutputAudioDelta)
    assert message.delta == pcm


def test_unknown_event_is_kept_raw() -> None:
    frame = b'{"type":"response.reasoning.delta","event_id":"e","delta":"hm"}'
    (message,) = codec.decode_server(frame)
    assert message == m.RawServerMessage(
        type="response.reasoning.delta",
        payload={"type": "response.reasoning.delta", "event_id": "e", "delta": "hm"},
    )
    assert codec.encode_server(message) == [frame.decode()]


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        ("[1, 2]", "not an object"),
        ('{"event_id": "e"}', "no string 'type'"),
        ('{"type": 7}', "no string 'type'"),
        ('{"type": "response.output_audio.delta", "delta": "AAAA"}', "required field missing"),
        ('{"type": "conversation.item.deleted", "item_id": 5}', "expected str (item_id)"),
        ('{"type": "response.done", "response": []}', "expected Response (response)"),
    ],
)
def test_bad_server_frames_become_invalid_messages(frame: str | bytes, reason: str) -> None:
    (message,) = codec.decode_server(frame)
    assert isinstance(message, m.InvalidServerMessage)
    assert message.frame == frame
    assert reason in message.reason


@settings(max_examples=500)
@given(st.binary() | st.text() | rts.json_values.map(lambda v: orjson.dumps(v)))
def test_decode_server_never_raises(frame: str | bytes) -> None:
    messages = codec.decode_server(frame)
    assert len(messages) == 1


@settings(max_examples=300)
@given(
    st.sampled_from(sorted(_SERVER := {n.split("#")[0] for n, _ in _examples("server")})),
    st.dictionaries(st.sampled_from(["item_id", "response_id", "delta", "item", "response",
                                     "session", "error", "part", "output_index"]),
                    rts.json_values, max_size=4),
)  # fmt: skip
def test_known_events_with_random_fields_never_raise(
    event_type: str, fields: dict[str, Any]
) -> None:
    (message,) = codec.decode_server(orjson.dumps({"type": event_type, **fields}))
    assert isinstance(message, m.ServerMessage)


# --- the client direction's errors (what rtsession.local reports) ------------------------------


@pytest.mark.parametrize(
    ("frame", "code", "param", "event_id"),
    [
        ("{", "invalid_json", None, None),
        ('{"event_id": "e1"}', "missing_required_parameter", "type", "e1"),
        ('{"type": "foo.bar", "event_id": "e2"}', "invalid_value", "type", "e2"),
        (
            '{"type": "conversation.item.truncate", "event_id": "e3", "item_id": "i", '
            '"content_index": 0}',
            "missing_required_parameter",
            "audio_end_ms",
            "e3",
        ),
        (
            '{"type": "conversation.item.delete", "event_id": "e4", "item_id": 12}',
            "invalid_type",
            "item_id",
            "e4",
        ),
    ],
)
def test_decode_client_errors(
    frame: str, code: str, param: str | None, event_id: str | None
) -> None:
    with pytest.raises(DecodeError) as info:
        codec.decode_client(frame)
    assert (info.value.code, info.value.param, info.value.event_id) == (code, param, event_id)


def test_decode_client_rejects_bad_session_values() -> None:
    session = {"type": "realtime", "audio": {"output": {"speed": "fast"}}}
    frame = orjson.dumps({"type": "session.update", "session": session})
    with pytest.raises(DecodeError, match="expected a number"):
        codec.decode_client(frame)


# --- what the app cannot send ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (
            m.ConversationItemCreate(
                item=m.MessageItem(role="user", content=(m.OutputText(text="hi"),))
            ),
            "user message cannot carry OutputText",
        ),
        (
            m.ConversationItemCreate(
                item=m.MessageItem(role="system", content=(m.InputAudio(audio=b"\0\0"),))
            ),
            "system message cannot carry InputAudio",
        ),
        (
            m.SessionUpdate(session=m.SessionOptions(kind="transcription", voice="marin")),
            "transcription session cannot set voice",
        ),
        (m.InputAudioBufferAppend(audio=b"\0\0", message_id="\ud800"), "cannot serialize"),
    ],
)
def test_encode_client_rejects_invalid_messages(message: m.ClientMessage, match: str) -> None:
    with pytest.raises(EncodeError, match=match):
        codec.encode_client(message)


def test_server_messages_are_not_client_events() -> None:
    with pytest.raises(EncodeError, match="not an OpenAI GA client event"):
        codec.encode_client(m.InputAudioBufferCleared())  # type: ignore[arg-type]


def test_raw_client_message_is_sent_as_is() -> None:
    payload = {"type": "session.update", "session": {"type": "realtime", "future": 1}}
    (frame,) = codec.encode_client(m.RawClientMessage(payload=payload))
    assert orjson.loads(frame) == payload


def test_audio_is_base64_on_the_wire_only() -> None:
    pcm = bytes(range(256)) * 4
    (frame,) = codec.encode_client(m.InputAudioBufferAppend(audio=pcm, message_id="a1"))
    wire = orjson.loads(frame)
    assert wire == {"type": "input_audio_buffer.append", "event_id": "a1", "audio": wire["audio"]}
    import base64

    assert base64.b64decode(wire["audio"]) == pcm


def test_docs_map_every_message_class() -> None:
    page = (Path(__file__).parents[1] / "docs" / "messages.md").read_text()
    for cls in [*CLIENT_TYPES, *SERVER_TYPES]:
        assert f"`{cls.__name__}`" in page, cls


def test_docs_list_the_messages_without_a_ga_event() -> None:
    page = (Path(__file__).parents[1] / "docs" / "messages.md").read_text()
    for cls in (
        m.GoAway,
        m.SessionResumptionUpdate,
        m.ToolCallCancellation,
        m.UsageMetadata,
        m.Reconnected,
        m.PlaybackInterrupted,
    ):
        assert f"`{cls.__name__}`" in page, cls
