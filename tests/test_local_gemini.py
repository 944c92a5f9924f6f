"""``rtsession.local`` speaking Gemini Live: its paths, the setup, turns in text and audio,
resumption handles, ``send_go_away``, TLS, a session switch over real sockets, and
``rtsession demo --provider gemini-local``.

The protocol-only engines do no speech work: speech is detected by energy and "transcribed" by
its duration, the reply spoken as a tone (docs/local-server.md).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio_websocket

from _servers import trusted_tls
from _speech import tone
from rtsession import Reconnect, SessionClosedError, messages as m
from rtsession.audio import bytes_to_ms
from rtsession.local import LocalServer, open_local_server, protocol_only_engines
from rtsession.local._routing import GEMINI_PATHS
from rtsession.providers import GeminiLive, OpenAIRealtime, Provider, VertexGeminiLive
from rtsession.session import Session, open_session
from rtsession.testing import AppInbox
from rtsession.wire.gemini import GeminiCodec
from rtsession.wire.openai import OpenAICodec

TIMEOUT = 20  # seconds per test with sockets
WEATHER = m.FunctionTool(
    name="get_weather",
    description="The current weather in a city.",
    parameters={"type": "object", "properties": {"location": {"type": "string"}}},
)
RESUMABLE = m.GeminiSessionOptions(session_resumption=m.SessionResumption(transparent=True))
TEXT = m.SessionOptions(output_modalities=("text",), gemini=RESUMABLE)


@asynccontextmanager
async def local_server(**kwargs: Any) -> AsyncIterator[LocalServer]:
    with trio.fail_after(TIMEOUT):
        async with open_local_server(engines=protocol_only_engines(), **kwargs) as server:
            yield server


def gemini(server: LocalServer) -> GeminiLive:
    return GeminiLive(base_url=server.url, api_key="local")


def user(text: str) -> m.ConversationItemCreate:
    return m.ConversationItemCreate(
        item=m.MessageItem(role="user", content=(m.InputText(text=text),))
    )


async def until_done(session: Session, into: list[m.ServerMessage]) -> m.ResponseDone:
    """Collect messages up to the next ``ResponseDone`` that ends a response."""
    async for event in session:
        into.append(event)
        if isinstance(event, m.ResponseDone):
            return event
    raise AssertionError("the session ended")


async def text_turn(session: Session, text: str | None, into: list[m.ServerMessage]) -> str:
    """Ask (``None``: just ``ResponseCreate``), answer a function call with sunny weather; the
    reply's text."""
    if text is not None:
        await session.send(user(text))
    await session.send(m.ResponseCreate())
    while True:
        done = await until_done(session, into)
        calls = [i for i in done.response.output if isinstance(i, m.FunctionCallItem)]
        if not calls:
            break
        output = json.dumps({"temperature": 21, "condition": "sunny"})
        result = m.FunctionCallOutputItem(call_id=calls[0].call_id or "", output=output)
        await session.send(m.ConversationItemCreate(item=result))
        await session.send(m.ResponseCreate())
    (reply,) = [e for e in into if isinstance(e, m.ResponseOutputTextDone)][-1:]
    return reply.text


# --- paths and the setup -----------------------------------------------------------------------


@pytest.mark.parametrize("path", GEMINI_PATHS)
async def test_every_gemini_path_answers_a_setup(path: str) -> None:
    async with (
        local_server() as server,
        trio_websocket.open_websocket_url(server.url + path) as ws,
    ):
        await ws.send_message(json.dumps({"setup": {"model": "models/gemini-live"}}))
        answer = json.loads(await ws.get_message())
    assert answer == {"setupComplete": {"sessionId": "sess_0001000001"}}


async def test_anything_before_the_setup_closes_the_connection() -> None:
    async with local_server() as server, open_session(gemini(server)) as session:
        await session.send(m.RawClientMessage(payload={"realtimeInput": {"text": "hi"}}))
        inbox = AppInbox()
        await inbox.drain(session)
        with pytest.raises(SessionClosedError) as error:
            await session.send(m.ResponseCreate())
    assert inbox.received == ()
    assert inbox.error is not None
    assert inbox.error.code == 1007
    assert error.value.code == 1007
    assert error.value.reason == "The first message must be a setup."


async def test_an_unknown_handle_closes_the_connection() -> None:
    async with local_server() as server:
        options = attrs_resume(TEXT, "sess_0009000001.1")
        async with open_session(gemini(server), options) as session:
            inbox = AppInbox()
            await inbox.drain(session)  # until the server closes
            assert inbox.error is not None
            with pytest.raises(SessionClosedError) as error:
                await session.send(m.ResponseCreate())
    assert error.value.code == 1007
    assert "Unknown session resumption handle" in error.value.reason


def attrs_resume(options: m.SessionOptions, handle: str) -> m.SessionOptions:
    resumption = m.SessionResumption(handle=handle, transparent=True)
    return m.SessionOptions(
        output_modalities=options.output_modalities,
        tools=options.tools,
        gemini=m.GeminiSessionOptions(session_resumption=resumption),
    )


# --- turns -------------------------------------------------------------------------------------


def _normalized(events: list[m.ServerMessage]) -> list[tuple[str, ...]]:
    """The events both wire formats carry, as (type, response, item) with ids numbered in the
    order they first appear, so two runs compare whatever their ids."""
    common = OpenAICodec.server_types & GeminiCodec.server_types
    names: dict[str, str] = {}

    def name(value: str | None, kind: str) -> str:
        if value is None:
            return "-"
        return names.setdefault(value, f"{kind}{sum(v[0] == kind for v in names.values()) + 1}")

    out: list[tuple[str, ...]] = []
    for event in events:
        if type(event) not in common:
            continue
        response = getattr(event, "response_id", None) or getattr(
            getattr(event, "response", None), "id", None
        )
        item = getattr(event, "item_id", None) or getattr(getattr(event, "item", None), "id", None)
        out.append((type(event).__name__, name(response, "r"), name(item, "i")))
    return out


async def _scenario(provider: Provider) -> tuple[list[m.ServerMessage], list[str]]:
    events: list[m.ServerMessage] = []
    options = m.SessionOptions(output_modalities=("text",), tools=(WEATHER,))
    async with open_session(provider, options) as session:
        replies = [
            await text_turn(session, "What's the weather in Paris?", events),
            await text_turn(session, "thanks", events),
        ]
    return events, replies


async def test_the_same_app_sees_the_same_events_on_openai_and_on_gemini() -> None:
    async with local_server() as server:
        openai_events, openai_replies = await _scenario(
            OpenAIRealtime(base_url=server.base_url, api_key="local")
        )
        gemini_events, gemini_replies = await _scenario(gemini(server))
    assert _normalized(gemini_events) == _normalized(openai_events)
    assert (
        gemini_replies
        == openai_replies
        == [
            "It is sunny and 21 degrees in Paris.",
            "You are welcome.",
        ]
    )
    calls = [
        [
            (e.name, e.arguments)
            for e in events
            if isinstance(e, m.ResponseFunctionCallArgumentsDone)
        ]
        for events in (openai_events, gemini_events)
    ]
    assert calls[0] == calls[1] == [("get_weather", '{"location":"Paris"}')]


async def test_an_audio_turn_takes_16_khz_and_speaks_24_khz() -> None:
    rate = 16000
    options = m.SessionOptions(input_transcription=m.InputTranscription())
    events: list[m.ServerMessage] = []
    async with local_server() as server, open_session(gemini(server), options) as session:
        audio = bytes(rate) + tone(1.2, rate) + bytes(2 * rate)
        for i in range(0, len(audio), rate // 25):
            await session.send(m.InputAudioBufferAppend(audio=audio[i : i + rate // 25]))
        done = await until_done(session, events)
    kinds = [type(e) for e in events]
    assert kinds.index(m.InputAudioBufferSpeechStarted) < kinds.index(
        m.InputAudioBufferSpeechStopped
    )
    (heard,) = [
        e for e in events if isinstance(e, m.ConversationItemInputAudioTranscriptionCompleted)
    ]
    assert heard.transcript.strip() == "What is the weather in paris today?"
    (spoken,) = [e for e in events if isinstance(e, m.ResponseOutputAudioTranscriptDone)]
    assert spoken.transcript == "It is sunny and 21 degrees in Paris."
    pcm = b"".join(e.delta for e in events if isinstance(e, m.ResponseOutputAudioDelta))
    assert bytes_to_ms(len(pcm), 24000) == 60 * len(spoken.transcript)  # the tone TTS, at 24 kHz
    assert done.response.status == "completed"


@pytest.mark.parametrize(
    ("turn_detection", "end"),
    [(m.DISABLED, {"activityEnd": {}}), (None, {"audioStreamEnd": True})],
)
async def test_the_end_of_a_turn_is_answered(
    turn_detection: m.TurnDetection | None, end: dict[str, Any]
) -> None:
    """Push-to-talk (``activityEnd``) and the end of the audio stream in the middle of speech
    (``audioStreamEnd``): the client's commit, which Gemini answers without being asked."""
    rate = 16000
    options = m.SessionOptions(output_modalities=("text",), turn_detection=turn_detection)
    events: list[m.ServerMessage] = []
    async with local_server() as server, open_session(gemini(server), options) as session:
        audio = bytes(rate // 2) + tone(1.2, rate)
        for i in range(0, len(audio), rate // 25):
            await session.send(m.InputAudioBufferAppend(audio=audio[i : i + rate // 25]))
        await session.send(m.InputAudioBufferCommit())
        await session.send(m.ResponseCreate())  # as on OpenAI; Gemini needs no request
        await until_done(session, events)
        nothing_to_end = m.RawClientMessage(payload={"realtimeInput": end})
        await session.send(nothing_to_end)  # no error, no answer
        await session.send(user("thanks"))
        await session.send(m.ResponseCreate())
        await until_done(session, events)
    replies = [e.text for e in events if isinstance(e, m.ResponseOutputTextDone)]
    assert replies == ["It is sunny and 21 degrees in Paris.", "You are welcome."]


# --- resumption --------------------------------------------------------------------------------


async def test_resumption_updates_follow_the_setup_and_each_turn() -> None:
    events: list[m.ServerMessage] = []
    options = m.SessionOptions(output_modalities=("text",), tools=(WEATHER,), gemini=RESUMABLE)
    async with local_server() as server, open_session(gemini(server), options) as session:
        await text_turn(session, "What's the weather in Paris?", events)
        await until_first(session, m.SessionResumptionUpdate, events)  # after the answer
    updates = [e for e in events if isinstance(e, m.SessionResumptionUpdate)]
    # after the setup; after the tool call (not resumable: the call has no output yet); after
    # the answer to it
    assert [(u.resumable, u.handle is not None) for u in updates] == [
        (True, True),
        (False, False),
        (True, True),
    ]
    # frames: setup (0), the question (1), ResponseCreate (2), the tool response (3)
    assert [u.last_consumed_client_message_index for u in updates] == [0, 2, 3]
    assert events.index(updates[1]) > [type(e) for e in events].index(m.ResponseDone)


async def test_a_handle_resumes_the_conversation() -> None:
    async with local_server() as server:
        events: list[m.ServerMessage] = []
        async with open_session(gemini(server), TEXT) as session:
            assert await text_turn(session, "hello", events) == "Hello! How can I help you today?"
            await until_first(session, m.SessionResumptionUpdate, events)  # after the answer
        handle = [e for e in events if isinstance(e, m.SessionResumptionUpdate)][-1].handle
        assert handle is not None
        async with open_session(gemini(server), attrs_resume(TEXT, handle)) as session:
            resumed = await text_turn(session, None, [])
        async with open_session(gemini(server), TEXT) as session:
            fresh = await text_turn(session, None, [])
    # the last item decides the reply: the assistant's answer, or nothing at all
    assert resumed == "Is there anything else I can help you with?"
    assert fresh == "Hello! How can I help you today?"


async def test_send_go_away_tells_gemini_clients_then_closes() -> None:
    events: list[m.ServerMessage] = []
    async with local_server() as server:
        async with open_session(gemini(server), TEXT) as session:
            await until_first(session, m.SessionResumptionUpdate, events)
            assert await server.send_go_away(300) == 1
            started = trio.current_time()
            inbox = AppInbox()
            await inbox.drain(session)
            events += inbox.received
            assert inbox.error is not None  # 1001 is not a normal end
            closed_after = trio.current_time() - started
            with pytest.raises(SessionClosedError) as error:
                await session.send(m.ResponseCreate())
        assert await server.send_go_away() == 0  # nobody left
    assert [type(e) for e in events[-2:]] == [m.SessionResumptionUpdate, m.GoAway]
    assert events[-1] == m.GoAway(time_left_ms=300)
    assert error.value.code == 1001
    assert 0.3 <= closed_after < 5


async def test_send_go_away_closes_openai_clients_without_a_message() -> None:
    async with local_server() as server:
        provider = OpenAIRealtime(base_url=server.base_url, api_key="local")
        async with open_session(provider) as session:
            await until_first(session, m.SessionCreated, [])
            await server.send_go_away(100)
            inbox = AppInbox()
            await inbox.drain(session)
            rest = list(inbox.received)
            assert inbox.error is not None
            with pytest.raises(SessionClosedError) as error:
                await session.send(m.ResponseCreate())
    assert rest == []
    assert error.value.code == 1001


async def until_first(session: Session, cls: type[Any], into: list[m.ServerMessage]) -> Any:
    async for event in session:
        into.append(event)
        if isinstance(event, cls):
            return event
    raise AssertionError("the session ended")


@pytest.mark.parametrize("flavour", ["gemini", "vertex"])
async def test_a_session_moves_to_a_new_connection_on_go_away(flavour: str) -> None:
    async with local_server() as server:
        provider: Provider = (
            gemini(server)
            if flavour == "gemini"
            else VertexGeminiLive(project="p", token_provider=lambda: "token", base_url=server.url)
        )
        events: list[m.ServerMessage] = []
        options = m.SessionOptions(output_modalities=("text",), tools=(WEATHER,))
        async with open_session(provider, options, reconnect=Reconnect()) as session:
            first = await text_turn(session, "What's the weather in Paris?", events)
            await server.send_go_away(5_000)
            reconnected = await until_first(session, m.Reconnected, events)
            second = await text_turn(session, None, events)
            third = await text_turn(session, "And the weather in Rome?", events)
            statistics = session.statistics()
    assert first == "It is sunny and 21 degrees in Paris."
    assert (reconnected.restored, reconnected.seamless, reconnected.reason) == (
        True,
        True,
        "go_away",
    )
    assert reconnected.session_id != reconnected.previous_session_id
    assert second == "Is there anything else I can help you with?"  # the conversation went on
    assert third == "It is sunny and 21 degrees in Rome."
    assert statistics.connections == 2
    done = [e.response for e in events if isinstance(e, m.ResponseDone)]
    assert len({r.id for r in done}) == len(done) == 5  # two tool calls, three answers
    calls = [i.call_id for r in done for i in r.output if isinstance(i, m.FunctionCallItem)]
    assert len(calls) == len(set(calls)) == 2


# --- TLS and the demo --------------------------------------------------------------------------


async def test_gemini_over_tls(tmp_path: Path) -> None:
    tls = trusted_tls(tmp_path)
    async with local_server(ssl_context=tls.server) as server:
        assert server.url.startswith("wss://")
        provider = GeminiLive(base_url=server.url, api_key="local", ssl_context=tls.client)
        async with open_session(provider, TEXT) as session:
            assert await text_turn(session, "thanks", []) == "You are welcome."
