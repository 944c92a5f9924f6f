"""Server audio that is not valid base64 arrives as an InvalidServerMessage with its frame,
never as silently wrong audio (a lenient decoder made ``"!!!!"`` empty audio and
``"AA==AA=="`` one byte)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import orjson
import pytest
import trio

from rtsession import messages as m
from rtsession.audio import Resampler
from rtsession.session import open_session
from rtsession.testing import FakeProvider
from rtsession.wire import Codec
from rtsession.wire.gemini import GeminiCodec
from rtsession.wire.openai import OpenAICodec
from rtsession.wire.openai_beta import OpenAIBetaCodec

BAD = ["!!!!", "AA==AA==", "AAAA*", "AA AA"]


def openai_delta(event: str, audio: str) -> str:
    return orjson.dumps(
        {
            "type": event,
            "event_id": "e1",
            "response_id": "r1",
            "item_id": "i1",
            "output_index": 0,
            "content_index": 0,
            "delta": audio,
        }
    ).decode()


@pytest.mark.parametrize("audio", BAD)
@pytest.mark.parametrize(
    ("codec", "event"),
    [
        (OpenAICodec, "response.output_audio.delta"),
        (OpenAIBetaCodec, "response.audio.delta"),
    ],
)
def test_openai_audio_that_is_not_base64_is_invalid(codec: type, event: str, audio: str) -> None:
    frame = openai_delta(event, audio)
    (message,) = codec().decode_server(frame)
    assert isinstance(message, m.InvalidServerMessage), message
    assert message.frame == frame
    assert "delta" in message.reason


def test_openai_audio_that_is_base64_still_decodes_with_or_without_padding() -> None:
    for audio, pcm in [("AAAA", b"\0\0\0"), ("AAA", b"\0\0"), ("AQI=", b"\x01\x02")]:
        (message,) = OpenAICodec().decode_server(openai_delta("response.output_audio.delta", audio))
        assert isinstance(message, m.ResponseOutputAudioDelta)
        assert message.delta == pcm


@pytest.mark.parametrize("audio", BAD)
def test_gemini_audio_that_is_not_base64_is_invalid(audio: str) -> None:
    codec = GeminiCodec()
    codec.decode_server(orjson.dumps({"setupComplete": {}}))
    blob = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": audio}}
    frame = orjson.dumps({"serverContent": {"modelTurn": {"parts": [blob]}}})
    messages = codec.decode_server(frame)
    assert [type(x) for x in messages] == [m.InvalidServerMessage], messages


@pytest.mark.parametrize(
    ("output", "delta", "whole"),
    [
        (m.AudioFormat(type="audio/pcm", rate=24000), "AAAA", False),  # 3 bytes of PCM16
        (m.AudioFormat(type="audio/pcm", rate=24000), "AAAAAA==", True),  # 4 bytes
        (m.AudioFormat(type="audio/pcmu"), "AAAA", True),  # 3 one-byte samples
    ],
)
async def test_server_audio_that_is_not_whole_samples_is_invalid(
    output: m.AudioFormat, delta: str, whole: bool
) -> None:
    """The session knows the output format the codec does not: a PCM16 delta of an odd
    number of bytes reaches the app as an InvalidServerMessage with its frame."""
    fake = FakeProvider([m.SessionCreated(session=m.SessionOptions(output_audio_format=output))])
    frame = openai_delta("response.output_audio.delta", delta)
    async with open_session(fake, transport=fake) as session:
        await session.receive_channel.receive()  # SessionCreated: the format in force
        fake.send_frame_nowait(frame)
        with trio.fail_after(5):
            message = await session.receive_channel.receive()
    if whole:
        assert isinstance(message, m.ResponseOutputAudioDelta)
    else:
        assert isinstance(message, m.InvalidServerMessage)
        assert message.frame == frame
        assert message.reason == "response audio of 3 bytes is not whole 2-byte samples"


def gemini() -> GeminiCodec:
    return GeminiCodec(model="m", resampler=Resampler)


@pytest.mark.parametrize(
    ("codec", "options"),
    [
        (OpenAICodec, None),
        (gemini, m.SessionOptions(model="m", input_audio_format=m.AudioFormat(rate=16000))),
        (gemini, m.SessionOptions(model="m", input_audio_format=m.AudioFormat(rate=24000))),
    ],
    ids=["openai", "gemini-16k", "gemini-24k-resampled"],
)
def test_a_large_append_is_encoded_within_three_times_its_size(
    codec: Callable[..., Codec], options: m.SessionOptions | None
) -> None:
    """A JSON serializer grows its buffer to many times a multi-MB string (20x the audio
    was measured); the append frame is written around the base64 instead, and a resampler
    converts a long buffer in slices (its float copies were twice the audio)."""
    encoder = codec()
    if options is not None:
        encoder.encode_client(m.SessionUpdate(session=options))
    audio = bytes(range(256)) * (8 * 2**20 // 256)  # 8 MiB
    message = m.InputAudioBufferAppend(audio=audio, message_id="e1")
    tracemalloc.start()
    try:
        (frame,) = encoder.encode_client(message)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * len(audio)
    rate = options.input_audio_format.rate if options and options.input_audio_format else None
    sent = len(audio) * 16_000 // rate if rate else len(audio)  # Gemini takes 16 kHz
    assert len(frame) > sent * 4 // 3 * 99 // 100  # a resampler holds back its last ~40 ms
