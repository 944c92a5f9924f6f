"""``rtsession.wire._frames`` knows where every wire format puts audio (for logging and
recording, which read frames, not messages): checked against the codecs themselves. Every
message the codecs encode with audio in it, in both directions and every dialect, has exactly
that audio at the places ``audio_fields`` finds."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import attrs
import orjson
import pytest
from hypothesis import given, settings, strategies as st

from rtsession import EncodeError, messages as m
from rtsession.testing.strategies import client_messages, server_messages
from rtsession.wire import Codec
from rtsession.wire._frames import audio_fields, get_path
from rtsession.wire.gemini import GeminiCodec
from rtsession.wire.openai import OpenAICodec
from rtsession.wire.openai_beta import OpenAIBetaCodec

pcm = st.binary(min_size=2, max_size=64).filter(lambda b: len(b) % 2 == 0)
with_audio = st.one_of(
    st.builds(m.InputAudioBufferAppend, audio=pcm),
    st.builds(
        m.ResponseOutputAudioDelta,
        response_id=st.just("r"),
        item_id=st.just("i"),
        output_index=st.just(0),
        content_index=st.just(0),
        delta=pcm,
    ),
    st.builds(
        lambda audio: m.ConversationItemCreate(
            item=m.MessageItem(role="user", content=(m.InputAudio(audio=audio),))
        ),
        pcm,
    ),
    st.builds(
        lambda audio: m.ConversationItemRetrieved(
            item=m.MessageItem(
                id="i", role="assistant", content=(m.OutputAudio(audio=audio, transcript="t"),)
            )
        ),
        pcm,
    ),
)
"""Messages sure to carry audio, in each place a format can put it."""

OPENAI = [pytest.param(OpenAICodec, id="ga"), pytest.param(OpenAIBetaCodec, id="beta")]


def audio_in(obj: object) -> Iterator[bytes]:
    """Every non-empty audio payload a message holds, nested parts included."""
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        if isinstance(value, bytes) and value and field.name in ("audio", "delta"):
            yield value
        for item in value if isinstance(value, tuple) else (value,):
            if attrs.has(type(item)):
                yield from audio_in(item)


def audio_found(frames: list[str | bytes]) -> list[bytes]:
    found = []
    for frame in frames:
        value = orjson.loads(frame)
        for field in audio_fields(value):
            found.append(base64.b64decode(get_path(value, field.path)))
    return [audio for audio in found if audio]


def check_openai(codec: type[Codec], message: m.Message, *, carried: bool = False) -> None:
    """The audio the frames module finds in the encoded frames is the message's; with
    ``carried``, the dialect must carry the message."""
    encoder = codec()
    try:
        if isinstance(message, m.ClientMessage):
            frames = encoder.encode_client(message)
        else:
            frames = encoder.encode_server(message)
    except EncodeError:
        assert not carried
        return  # a message this dialect cannot carry has no frame to read
    assert sorted(audio_found(frames)) == sorted(audio_in(message))


@pytest.mark.parametrize("codec", OPENAI)
@settings(max_examples=300, deadline=None)
@given(message=st.one_of(client_messages(), server_messages()))
def test_no_audio_is_found_where_openai_puts_none(codec: type[Codec], message: m.Message) -> None:
    check_openai(codec, message)


@pytest.mark.parametrize("codec", OPENAI)
@settings(max_examples=200, deadline=None)
@given(message=with_audio)
def test_openai_audio_is_where_the_frames_module_looks(
    codec: type[Codec], message: m.Message
) -> None:
    assert list(audio_in(message))
    check_openai(codec, message, carried=True)


@given(audio=st.binary(min_size=2, max_size=400).filter(lambda b: len(b) % 2 == 0))
def test_gemini_audio_is_where_the_frames_module_looks(audio: bytes) -> None:
    client = GeminiCodec(model="m")
    options = m.SessionOptions(model="m", input_audio_format=m.AudioFormat(rate=16_000))
    client.encode_client(m.SessionUpdate(session=options))
    sent = client.encode_client(m.InputAudioBufferAppend(audio=audio))
    assert audio_found(sent) == [audio]
    server = GeminiCodec()
    server.decode_client(orjson.dumps({"setup": {"model": "models/m"}}).decode())
    delta = m.ResponseOutputAudioDelta(
        response_id="r", item_id="i", output_index=0, content_index=0, delta=audio
    )
    assert audio_found(server.encode_server(delta)) == [audio]
