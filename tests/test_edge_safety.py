"""Two failures of the issue "Nothing invalid reaches the socket, nothing secret reaches a log":
a reused audio buffer corrupting what was sent, and credentials in websockets' DEBUG log."""

from __future__ import annotations

import logging

import pytest
import trio

from rtsession import EncodeError, messages as m
from rtsession.local import open_local_server, protocol_only_engines
from rtsession.middleware import observe
from rtsession.providers import GeminiLive, OpenAIRealtime, Provider
from rtsession.session import open_session
from rtsession.testing import FakeProvider
from rtsession.transport import WebsocketsTrioTransport


async def test_a_reused_buffer_does_not_change_what_was_sent() -> None:
    """An app that refills its bytearray after ``send()`` returns had 500 of 500 frames carry
    the new bytes (with any middleware, the message waited in a channel, unencoded)."""
    fake = FakeProvider([m.SessionCreated(session=m.SessionOptions())])
    buffer = bytearray(960)
    with trio.fail_after(10):
        async with open_session(fake, middleware=[observe()], transport=fake) as session:
            for n in range(50):
                buffer[:] = bytes([n]) * 960
                await session.send(m.InputAudioBufferAppend(audio=buffer))
            buffer[:] = bytes([255]) * 960
            sent = [await fake.receive_of(m.InputAudioBufferAppend) for _ in range(50)]
    assert [a.audio for a in sent] == [bytes([n]) * 960 for n in range(50)]
    assert m.InputAudioBufferAppend(audio=memoryview(b"ab")).audio == b"ab"


SECRETS = {"openai": "sk-test-SECRET-0123456789", "gemini": "AIzaSECRET0123456789"}


@pytest.mark.parametrize("side", ["openai", "gemini"])
async def test_websockets_debug_logs_carry_no_credentials(
    side: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With WebsocketsTrioTransport and DEBUG logging, ``websockets.client`` printed
    ``Authorization: Bearer <key>`` (and Gemini's ``?key=``) on every connection."""
    caplog.set_level(logging.DEBUG)
    secret = SECRETS[side]
    async with open_local_server(engines=protocol_only_engines()) as server:
        provider: Provider = (
            OpenAIRealtime(base_url=server.base_url, api_key=secret)
            if side == "openai"
            else GeminiLive(base_url=server.url, api_key=secret)
        )
        transport = WebsocketsTrioTransport()
        async with open_session(provider, m.SessionOptions(), transport=transport):
            pass
    handshake = [r for r in caplog.records if r.name == "websockets.client"]
    assert handshake  # the library did log the handshake
    assert any("<redacted>" in r.getMessage() for r in handshake)
    assert not [r for r in caplog.records if secret in r.getMessage()]


@pytest.mark.parametrize("size", [1, 3, 961])
async def test_odd_length_pcm16_is_refused_before_the_socket(size: int) -> None:
    fake = FakeProvider([m.SessionCreated(session=m.SessionOptions())])
    async with open_session(fake, transport=fake) as session:
        with pytest.raises(EncodeError, match=f"holds {size} bytes: PCM16"):
            await session.send(m.InputAudioBufferAppend(audio=bytes(size)))
        await session.send(m.InputAudioBufferAppend(audio=bytes(size + 1)))
        sent = await fake.receive_of(m.InputAudioBufferAppend)
    assert len(sent.audio) == size + 1  # the refused one never reached the fake


async def test_g711_audio_may_have_any_length() -> None:
    ulaw = m.SessionOptions(input_audio_format=m.AudioFormat(type="audio/pcmu"))
    fake = FakeProvider([m.SessionCreated(session=ulaw)])
    async with open_session(fake, ulaw, transport=fake) as session:
        await session.send(m.InputAudioBufferAppend(audio=bytes(3)))
        sent = await fake.receive_of(m.InputAudioBufferAppend)
    assert len(sent.audio) == 3


@pytest.mark.parametrize("payload", ["x", [], None])
def test_a_raw_client_message_is_a_json_object(payload: object) -> None:
    with pytest.raises(ValueError, match="must be a JSON object"):
        m.RawClientMessage(payload=payload)  # type: ignore[arg-type]


@pytest.mark.parametrize("payload", [{"no": "type"}, {"type": 5}])
async def test_a_raw_openai_event_needs_its_type(payload: dict[str, object]) -> None:
    fake = FakeProvider([m.SessionCreated(session=m.SessionOptions())])
    async with open_session(fake, transport=fake) as session:
        with pytest.raises(EncodeError, match="needs a string 'type'"):
            await session.send(m.RawClientMessage(payload=payload))
