"""The local server speaks the telephony formats: a session configured for ``audio/pcmu`` or
``audio/pcma`` (8 kHz G.711, as the OpenAI service takes them) runs end to end, offline, with
real speech in and real speech out, on the GA, beta and Azure sides."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio

from rtsession import messages as m
from rtsession.audio import (
    pcm16_to_alaw,
    pcm16_to_ulaw,
    read_wav,
    resample,
    sample,
)
from rtsession.local import LocalServer, open_local_server
from rtsession.local._engines import EspeakNgTTS
from rtsession.providers import AzureOpenAIRealtime, OpenAIRealtime, Provider
from rtsession.session import open_session

pytestmark = pytest.mark.slow

ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "audio/pcmu": pcm16_to_ulaw,
    "audio/pcma": pcm16_to_alaw,
}


def phone_speech(encode: Callable[[bytes], bytes]) -> bytes:
    """The spoken weather question as a phone line carries it, with 1.2 s of silence after."""
    pcm, rate = read_wav(sample("weather-question"))
    return encode(resample(pcm, rate, 8000) + bytes(2 * 9600))


def providers(server: LocalServer) -> dict[str, Provider]:
    return {
        "ga": OpenAIRealtime(base_url=server.base_url, api_key="local"),
        "beta": OpenAIRealtime(base_url=server.base_url, api_key="local", dialect="beta"),
        "azure": AzureOpenAIRealtime(f"http://127.0.0.1:{server.port}", "d", api_key="local"),
    }


@pytest.mark.parametrize("side", ["ga", "beta", "azure"])
@pytest.mark.parametrize("fmt", ["audio/pcmu", "audio/pcma"])
async def test_a_g711_session_hears_and_answers_in_g711(side: str, fmt: str) -> None:
    encode = ENCODERS[fmt]
    g711 = m.AudioFormat(type=fmt)  # type: ignore[arg-type]
    options = m.SessionOptions(
        input_audio_format=g711,
        output_audio_format=g711,
        input_transcription=m.InputTranscription(language="en"),
        turn_detection=m.ServerVad(silence_duration_ms=500, create_response=True),
    )
    reply = bytearray()
    heard = answer = ""
    async with open_local_server() as server:
        provider = providers(server)[side]
        async with open_session(provider, options) as session:
            speech = phone_speech(encode)
            for start in range(0, len(speech), 160):  # 20 ms of G.711 at 8 kHz
                await session.send(m.InputAudioBufferAppend(audio=speech[start : start + 160]))
            with trio.fail_after(30):
                async for event in session:
                    if isinstance(event, m.SessionUpdated):
                        assert event.session.output_audio_format == g711
                    elif isinstance(event, m.ConversationItemInputAudioTranscriptionCompleted):
                        heard = event.transcript
                    elif isinstance(event, m.ResponseOutputAudioDelta):
                        reply += event.delta
                    elif isinstance(event, m.ResponseOutputAudioTranscriptDone):
                        answer = event.transcript
                    elif isinstance(event, m.ResponseDone):
                        break
    # telephone bandwidth (300-3400 Hz) costs the small offline recogniser a word or two
    said = {"what", "is", "the", "weather", "in", "paris", "today"}
    assert len(said & set(heard.lower().rstrip(".").split())) >= 4, heard
    # the reply is G.711 of the spoken answer: the server's speech engine at 8 kHz, companded
    assert answer
    assert bytes(reply) == encode(EspeakNgTTS().synthesize(answer, 8000))
    assert 1.0 < len(reply) / 8000 < 10.0  # one byte per sample
