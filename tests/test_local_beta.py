"""rtsession.local speaking the OpenAI beta dialect: on ``/v1/realtime`` with
``OpenAI-Beta: realtime=v1``, and on the Azure preview path ``/openai/realtime``.

The state machine is the GA one; the beta side reports its messages as the beta service does
(``rtsession/local/_beta.py``). Clients: rtsession's own providers (``OpenAIRealtime(dialect=
"beta")``, ``AzureOpenAIRealtime(api_version=...)``), a raw trio-websocket client, and the
official SDK's beta client in a subprocess (``tests/sdk_clients/openai_beta_turns.py``).
"""

from __future__ import annotations

import importlib.resources
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import pytest
import trio
import trio_websocket

from _events import until
from _sdk import run_sdk_script
from rtsession import audio, messages as m
from rtsession.local import (
    LocalServer,
    default_engines,
    open_local_server,
    protocol_only_engines,
)
from rtsession.providers import AzureOpenAIRealtime, OpenAIRealtime, Provider
from rtsession.session import Session, open_session
from test_local_server import handshake

RATE = 24000
TIMEOUT = 10  # seconds per exchange
PREVIEW = "2025-04-01-preview"
BETA_HEADER = (b"OpenAI-Beta", b"realtime=v1")
WEATHER = m.FunctionTool(
    name="get_weather",
    description="The current weather in a city.",
    parameters={"type": "object", "properties": {"location": {"type": "string"}}},
)

ProviderFactory = Callable[[LocalServer], Provider]


def openai_beta(server: LocalServer) -> Provider:
    return OpenAIRealtime(dialect="beta", base_url=server.base_url, api_key="x")


def azure_preview(server: LocalServer) -> Provider:
    return AzureOpenAIRealtime(
        endpoint=f"http://127.0.0.1:{server.port}",
        deployment="d",
        api_key="x",
        api_version=PREVIEW,
    )


BETA_PROVIDERS = [pytest.param(openai_beta, id="openai"), pytest.param(azure_preview, id="azure")]


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    async with open_local_server(engines=protocol_only_engines()) as local:
        yield local


def tone(ms: int) -> bytes:
    """A 440 Hz tone at -12 dBFS: speech to the protocol-only VAD."""
    t = np.arange(ms * RATE // 1000) / RATE
    return audio.array_to_pcm16(0.25 * np.sin(2 * np.pi * 440 * t))


async def say(session: Session, text: str) -> None:
    item = m.MessageItem(role="user", content=(m.InputText(text=text),))
    await session.send(m.ConversationItemCreate(item=item))


async def send_audio(session: Session, pcm: bytes) -> None:
    for chunk in audio.iter_chunks(pcm, RATE):
        await session.send(m.InputAudioBufferAppend(audio=chunk))


async def converse(provider: Provider) -> dict[str, list[m.ServerMessage]]:
    """One app scenario, per turn: setup, a text turn, an audio turn (1.2 s of tone, which the
    protocol-only engines hear as a question about the weather in Paris) and a function call."""
    async with open_session(provider, m.SessionOptions(output_modalities=("text",))) as session:
        turns = {"setup": await until(session, m.SessionUpdated)}
        await say(session, "Hello there!")
        await session.send(m.ResponseCreate())
        turns["text"] = await until(session, m.RateLimitsUpdated)
        await session.update(m.SessionOptions(output_modalities=("audio",)))
        await send_audio(session, bytes(RATE) + tone(1200) + bytes(2 * RATE))
        turns["audio"] = await until(session, m.RateLimitsUpdated)
        await say(session, "What's the weather in Paris?")
        await session.send(m.ResponseCreate(output_modalities=("text",), tools=(WEATHER,)))
        turns["tool"] = await until(session, m.RateLimitsUpdated)
    return turns


def as_beta(types: list[type[m.ServerMessage]]) -> list[type[m.ServerMessage]]:
    """GA message types as the beta dialect reports them: items are acknowledged by one
    ``ConversationItemCreated`` instead of ``ConversationItemAdded`` and ``...Done``
    (docs/openai-dialects.md, "Item lifecycle")."""
    return [
        m.ConversationItemCreated if t is m.ConversationItemAdded else t
        for t in types
        if t is not m.ConversationItemDone
    ]


def one(messages: list[m.ServerMessage], cls: type[Any]) -> Any:
    (found,) = [e for e in messages if isinstance(e, cls)]
    return found


# --- routing ---------------------------------------------------------------------------------


async def test_routing_selects_the_beta_dialect(server: LocalServer) -> None:
    azure = f"/openai/realtime?api-version={PREVIEW}&deployment=d"
    assert await handshake(server, "/v1/realtime?model=m", "OpenAI-Beta: realtime=v1") == 101
    assert await handshake(server, "/v1/realtime?model=m", "OpenAI-Beta: realtime=v2") == 400
    assert await handshake(server, azure) == 101
    assert await handshake(server, azure, "OpenAI-Beta: realtime=v1") == 101
    # Azure GA must not get the header (openai-realtime.md section 4)
    assert await handshake(server, "/openai/v1/realtime?model=d", "OpenAI-Beta: realtime=v1") == 400


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/v1/realtime?model=gpt-4o-realtime-preview", "gpt-4o-realtime-preview"),
        (f"/openai/realtime?api-version={PREVIEW}&deployment=my-deploy", "my-deploy"),
    ],
)
async def test_the_beta_session_object_is_flat(server: LocalServer, path: str, model: str) -> None:
    with trio.fail_after(TIMEOUT):
        async with trio_websocket.open_websocket_url(
            server.url + path, extra_headers=[BETA_HEADER]
        ) as ws:
            created = json.loads(await ws.get_message())
    assert created["type"] == "session.created"
    session = created["session"]
    assert session["model"] == model
    assert session["modalities"] == ["audio"]
    assert session["input_audio_format"] == session["output_audio_format"] == "pcm16"
    assert session["turn_detection"]["type"] == "server_vad"
    assert not {"type", "audio", "output_modalities", "truncation"} & session.keys()


# --- sessions through rtsession's providers ----------------------------------------------------


@pytest.mark.parametrize("beta_provider", BETA_PROVIDERS)
async def test_the_same_scenario_on_ga_and_beta(
    server: LocalServer, beta_provider: ProviderFactory
) -> None:
    ga = await converse(OpenAIRealtime(base_url=server.base_url, api_key="x"))
    beta = await converse(beta_provider(server))
    for turn, messages in beta.items():
        assert [type(e) for e in messages] == as_beta([type(e) for e in ga[turn]]), turn
        assert not [e for e in messages if isinstance(e, m.Error | m.InvalidServerMessage)]
    assert one(beta["text"], m.ResponseOutputTextDone).text == "Hello! How can I help you today?"
    spoken = one(beta["audio"], m.ResponseOutputAudioTranscriptDone).transcript
    assert spoken == "It is sunny and 21 degrees in Paris."
    # beta's function_call_arguments.done has no name; the output item has it
    arguments = one(beta["tool"], m.ResponseFunctionCallArgumentsDone)
    assert (arguments.name, arguments.arguments) == (None, '{"location":"Paris"}')
    assert one(beta["tool"], m.ResponseOutputItemDone).item.name == "get_weather"
    assert one(ga["tool"], m.ResponseFunctionCallArgumentsDone).name == "get_weather"
    # beta usage has no image or cached-token details
    usage = one(beta["text"], m.ResponseDone).response.usage
    assert usage.input_tokens > 0
    assert usage.cached_tokens == 0
    assert (usage.input_image_tokens, usage.cached_text_tokens) == (None, None)


async def test_what_the_beta_dialect_cannot_carry_is_left_out(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An image (which beta decodes but cannot send back) makes the item's
    ``conversation.item.created`` unsendable: it is left out and the connection goes on."""
    image = {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}
    item = {"type": "message", "role": "user", "content": [image]}
    with trio.fail_after(TIMEOUT):
        async with trio_websocket.open_websocket_url(
            server.url + "/v1/realtime?model=m", extra_headers=[BETA_HEADER]
        ) as ws:
            assert json.loads(await ws.get_message())["type"] == "session.created"
            await ws.send_message(json.dumps({"type": "conversation.item.create", "item": item}))
            await ws.send_message(json.dumps({"type": "session.update", "session": {}}))
            assert json.loads(await ws.get_message())["type"] == "session.updated"
    assert "left out ConversationItemCreated" in caplog.text
    assert [r.levelno for r in caplog.records if "left out" in r.message] == [logging.WARNING]


# --- the real speech engines -----------------------------------------------------------------


@pytest.fixture(scope="module")
def real_engines() -> Any:
    return default_engines()  # fails loudly without the local extra


async def test_a_spoken_question_on_azure_preview(real_engines: Any) -> None:
    """The bundled flite clip, "What is the weather in Paris today", through the real VAD,
    speech-to-text and text-to-speech, on the Azure preview (beta) dialect."""
    clip = importlib.resources.files("rtsession") / "_data" / "weather-question_flite_16k.wav"
    with importlib.resources.as_file(clip) as path:
        pcm, rate = audio.read_wav(path)
    speech = audio.resample(pcm, rate, RATE)
    transcription = m.SessionOptions(input_transcription=m.InputTranscription(model="whisper-1"))
    async with (
        open_local_server(engines=real_engines) as local,
        open_session(azure_preview(local), transcription) as session,
    ):
        await until(session, m.SessionUpdated)
        await send_audio(session, bytes(RATE) + speech + bytes(2 * RATE))
        events = await until(session, m.RateLimitsUpdated)
    heard = one(events, m.ConversationItemInputAudioTranscriptionCompleted).transcript
    assert heard == "What is the weather in paris today?"
    spoken = one(events, m.ResponseOutputAudioTranscriptDone).transcript
    assert spoken == "It is sunny and 21 degrees in Paris."
    assert sum(len(e.delta) for e in events if isinstance(e, m.ResponseOutputAudioDelta)) > RATE


# --- the official SDK's beta client --------------------------------------------------------------


def shape(lines: list[dict[str, Any]]) -> list[str]:
    """Event types in order, each run of deltas folded into one ``"deltas"``."""
    out: list[str] = []
    for line in lines:
        kind = "deltas" if line["type"].endswith(".delta") else line["type"]
        if not (kind == "deltas" and out and out[-1] == "deltas"):
            out.append(kind)
    return out


def response_shape(*parts: str) -> list[str]:
    return [
        "response.created",
        "response.output_item.added",
        "conversation.item.created",
        *parts,
        "response.output_item.done",
        "response.done",
        "rate_limits.updated",
    ]


@pytest.mark.parametrize("kind", ["openai", "azure"])
async def test_the_official_sdk_beta_client(kind: str) -> None:
    async with open_local_server(engines=protocol_only_engines()) as local:
        url = local.websocket_base_url if kind == "openai" else f"http://127.0.0.1:{local.port}"
        lines = await run_sdk_script("openai_beta_turns.py", kind, url)
    turns = {t: [line for line in lines if line["turn"] == t] for t in ("setup", "audio", "text")}
    tool = [line for line in lines if line["turn"] == "tool"]
    assert shape(turns["setup"]) == ["session.created", "session.updated"]
    assert shape(turns["audio"]) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.created",
        *response_shape(
            "response.content_part.added",
            "deltas",
            "response.audio.done",
            "response.audio_transcript.done",
            "response.content_part.done",
        ),
    ]
    assert shape(turns["text"]) == [
        "conversation.item.created",
        *response_shape(
            "response.content_part.added",
            "deltas",
            "response.text.done",
            "response.content_part.done",
        ),
    ]
    assert shape(tool) == [
        "conversation.item.created",
        *response_shape("deltas", "response.function_call_arguments.done"),
    ]
    (spoken,) = [line["transcript"] for line in turns["audio"] if "transcript" in line]
    assert spoken == "It is sunny and 21 degrees in Paris."
    (text,) = [line["text"] for line in turns["text"] if "text" in line]
    assert text == "Hello! How can I help you today?"
    (arguments,) = [line["arguments"] for line in tool if "arguments" in line]
    assert arguments == '{"location":"Paris"}'
