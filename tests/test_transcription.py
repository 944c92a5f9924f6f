"""Transcription sessions (``SessionOptions(kind="transcription")``): input audio in,
transcription events out, no responses. Against ``rtsession.local`` on the GA, beta and Azure
dialects (protocol-only engines), the providers' connection URLs, Gemini's refusal, and the
official SDK as an oracle of the wire."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from _events import until
from _sdk import run_sdk_script
from _speech import tone
from rtsession import EncodeError, messages as m
from rtsession.local import LocalServer, open_local_server, protocol_only_engines
from rtsession.providers import AzureOpenAIRealtime, GeminiLive, OpenAIRealtime, Provider
from rtsession.session import open_session

RATE = 24_000
TRANSCRIBE = m.SessionOptions(
    kind="transcription",
    input_transcription=m.InputTranscription(model="gpt-4o-transcribe", language="en"),
    turn_detection=m.ServerVad(silence_duration_ms=300),
)
# 1.2 s of tone between silences: the protocol-only STT hears a 1.5-2 s turn as a question
SPEECH = bytes(RATE) + tone(1.2, RATE) + bytes(2 * RATE)


def openai_ga(server: LocalServer) -> Provider:
    return OpenAIRealtime(base_url=server.base_url, api_key="local")


def openai_beta(server: LocalServer) -> Provider:
    return OpenAIRealtime(base_url=server.base_url, api_key="local", dialect="beta")


def azure_preview(server: LocalServer) -> Provider:
    return AzureOpenAIRealtime(
        server.url, "gpt-realtime", api_key="local", api_version="2025-04-01-preview"
    )


PROVIDERS = [
    pytest.param(openai_ga, id="ga"),
    pytest.param(openai_beta, id="beta"),
    pytest.param(azure_preview, id="azure-preview"),
]


def types(events: list[m.ServerMessage]) -> list[str]:
    return [type(e).__name__ for e in events if not isinstance(e, m.RawServerMessage)]


@pytest.mark.parametrize("make", PROVIDERS)
async def test_a_transcription_session_transcribes_speech_and_never_answers(
    make: Callable[[LocalServer], Provider],
) -> None:
    async with (
        open_local_server(engines=protocol_only_engines()) as local,
        open_session(make(local), TRANSCRIBE) as session,
    ):
        await until(session, m.SessionUpdated)
        assert session.options.kind == "transcription"
        assert session.options.input_transcription == TRANSCRIBE.input_transcription
        for start in range(0, len(SPEECH), 2 * RATE // 50):
            await session.send(m.InputAudioBufferAppend(audio=SPEECH[start : start + 960]))
        events = await until(session, m.ConversationItemInputAudioTranscriptionCompleted)
        deltas = [
            e for e in events if isinstance(e, m.ConversationItemInputAudioTranscriptionDelta)
        ]
        assert [t for t in types(events) if not t.endswith("Delta")][:3] == [
            "InputAudioBufferSpeechStarted",
            "InputAudioBufferSpeechStopped",
            "InputAudioBufferCommitted",
        ]
        done = events[-1]
        assert isinstance(done, m.ConversationItemInputAudioTranscriptionCompleted)
        assert done.transcript == "What is the weather in paris today?"
        assert "".join(d.delta for d in deltas) == done.transcript
        # no response follows; asking for one is refused, and the session goes on
        await session.send(m.ResponseCreate())
        after = await until(session, m.Error)
        assert not [e for e in after if isinstance(e, m.ResponseCreated)]
        error = after[-1]
        assert isinstance(error, m.Error)
        assert error.code == "invalid_value"
        assert "transcription session" in error.message
        await session.send(m.InputAudioBufferClear())
        assert types(await until(session, m.InputAudioBufferCleared)) == ["InputAudioBufferCleared"]


async def test_a_conversation_session_cannot_become_a_transcription_session() -> None:
    """The kind is chosen when the connection opens (the service's ``intent``); an update
    that changes it is refused and the options stay as they were."""
    async with (
        open_local_server(engines=protocol_only_engines()) as local,
        open_session(openai_ga(local)) as session,
    ):
        await until(session, m.SessionCreated)
        before = session.options
        await session.update(TRANSCRIBE)
        error = (await until(session, m.Error))[-1]
        assert isinstance(error, m.Error)
        assert error.param == "session.type"
        assert session.options == before


def test_the_openai_providers_dial_the_transcription_intent() -> None:
    ga = OpenAIRealtime(api_key="sk-test")
    assert ga.connect_request("conversation").url == (
        "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    )
    assert ga.connect_request("transcription").url == (
        "wss://api.openai.com/v1/realtime?intent=transcription"
    )
    azure = AzureOpenAIRealtime("https://x.openai.azure.com", "gpt-realtime", api_key="k")
    assert azure.connect_request("transcription").url == (
        "wss://x.openai.azure.com/openai/v1/realtime?intent=transcription"
    )
    preview = AzureOpenAIRealtime(
        "https://x.openai.azure.com", "gpt-realtime", api_key="k", api_version="2025-04-01-preview"
    )
    assert preview.connect_request("transcription").url == (
        "wss://x.openai.azure.com/openai/realtime?api-version=2025-04-01-preview"
        "&intent=transcription"
    )


async def test_gemini_refuses_a_transcription_session_when_it_opens() -> None:
    async with open_local_server(engines=protocol_only_engines()) as local:
        provider = GeminiLive(api_key="local", base_url=local.url)
        with pytest.raises(EncodeError, match="no transcription-only session"):
            async with open_session(provider, TRANSCRIBE):
                pass  # pragma: no cover


async def test_the_official_sdk_holds_a_transcription_session() -> None:
    """The openai SDK (asyncio, in a subprocess) with ``?intent=transcription``: every frame
    validates against its models, and the turn is transcribed without a response."""
    async with open_local_server(engines=protocol_only_engines()) as local:
        lines = await run_sdk_script("openai_transcription.py", local.base_url)
    assert [line["type"] for line in lines if not line["type"].endswith(".delta")] == [
        "session.created",
        "session.updated",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.completed",
        "error",
    ]
    assert lines[0]["session_type"] == "transcription"
    assert lines[-2]["transcript"] == "What is the weather in paris today?"
