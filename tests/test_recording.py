"""RecordingTransport, ReplayTransport and ``rtsession replay``: record a loopback session,
replay it against the same client code, catch what differs."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import trio
import trio.testing

from _servers import RealtimeServer, closed_port, serve_realtime
from rtsession import ConnectError, SessionClosedError, messages as m
from rtsession.cli import main
from rtsession.local import open_local_server, protocol_only_engines
from rtsession.providers import OpenAIRealtime
from rtsession.session import Session, open_session
from rtsession.testing import ReplayMismatch, ReplayTransport
from rtsession.transport import RecordingTransport, TrioWebsocketTransport

KEY = "sk-recording-secret-0123456789"
MCP_TOKEN = "mcp-bearer-token-abcdefgh"
AUDIO = bytes(range(256)) * 4  # 1024 bytes: 21.3 ms at 24 kHz PCM16
REPLY_AUDIO = bytes(range(255, -1, -1)) * 8  # 2048 bytes
OPTIONS = m.SessionOptions(
    instructions="Be brief.",
    tools=(
        m.FunctionTool(name="get_weather", parameters={"type": "object"}),
        m.McpTool(server_label="crm", server_url="https://mcp.example", authorization=MCP_TOKEN),
    ),
)

Agent = Callable[[Session], Awaitable[list[str]]]


def weather_server() -> RealtimeServer:
    """A tiny scripted Realtime API: the first response calls get_weather, the second (after
    the function output) speaks."""
    created = 0

    def reply(event: dict[str, Any]) -> list[dict[str, Any]]:
        nonlocal created
        if event["type"] == "session.update":
            return [{"type": "session.updated", "event_id": "ev_u", "session": event["session"]}]
        if event["type"] != "response.create":
            return []
        created += 1
        rid = f"resp_{created}"
        response = {"id": rid, "object": "realtime.response", "status": "in_progress"}
        done = {**response, "status": "completed", "usage": {"input_tokens": 9}}
        if created == 1:
            call = {
                "type": "function_call", "id": "item_c", "call_id": "call_1",
                "name": "get_weather", "arguments": '{"city": "Paris"}', "status": "completed",
            }  # fmt: skip
            middle = [
                {"type": "response.output_item.done", "event_id": "ev_c", "response_id": rid,
                 "output_index": 0, "item": call},
            ]  # fmt: skip
        else:
            ids = {"response_id": rid, "item_id": "item_a", "output_index": 0, "content_index": 0}
            middle = [
                {"type": "response.output_audio.delta", "event_id": "ev_a",
                 "delta": base64.b64encode(REPLY_AUDIO).decode(), **ids},
            ]  # fmt: skip
        return [
            {"type": "response.created", "event_id": f"ev_{rid}", "response": response},
            *middle,
            {"type": "response.done", "event_id": f"ev_{rid}_d", "response": done},
        ]

    return RealtimeServer(reply=reply)


def weather_agent(
    question: str = "Weather in Paris?", audio: bytes = AUDIO, message_id: str | None = None
) -> Agent:
    """The client code under test: ask, speak, run the tool, listen to the answer; returns
    the types of the server messages it saw."""

    async def agent(session: Session) -> list[str]:
        item = m.MessageItem(role="user", content=(m.InputText(text=question),))
        await session.send(m.ConversationItemCreate(item=item, message_id=message_id))
        await session.send(m.InputAudioBufferAppend(audio=audio))
        await session.send(m.ResponseCreate())
        seen: list[str] = []
        async for event in session:
            seen.append(type(event).__name__)
            if isinstance(event, m.ResponseOutputItemDone) and isinstance(
                event.item, m.FunctionCallItem
            ):
                output = m.FunctionCallOutputItem(call_id="call_1", output='{"temperature": 21}')
                await session.send(m.ConversationItemCreate(item=output))
                await session.send(m.ResponseCreate())
            if isinstance(event, m.ResponseDone) and event.response.id == "resp_2":
                break
        return seen

    return agent


async def record(
    nursery: trio.Nursery, path: Path, agent: Agent, *, max_audio_ms: float | None = None
) -> list[str]:
    server = await serve_realtime(nursery, weather_server())
    provider = OpenAIRealtime(api_key=KEY, base_url=server.http_url)
    recorder = RecordingTransport(TrioWebsocketTransport(), path, max_audio_ms=max_audio_ms)
    with trio.fail_after(10):
        async with open_session(provider, OPTIONS, transport=recorder) as session:
            return await agent(session)


async def replay(path: Path | list[str], agent: Agent, **kwargs: Any) -> list[str]:
    transport = ReplayTransport(path, **kwargs)
    provider = OpenAIRealtime(api_key="sk-another-key-for-replay")  # never dialed
    with trio.fail_after(10):
        async with open_session(provider, OPTIONS, transport=transport) as session:
            seen = await agent(session)
    transport.assert_complete()
    return seen


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- recording -------------------------------------------------------------------------------


async def test_recording_holds_every_frame_both_ways(nursery: trio.Nursery, tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    await record(nursery, path, weather_agent())
    records = lines(path)
    connect, *frames, close = records
    assert connect["kind"] == "connect"
    assert connect["version"] == 1
    assert connect["url"].startswith("ws://127.0.0.1:")
    assert connect["url"].endswith("/v1/realtime?model=gpt-realtime")
    assert connect["headers"] == ["Authorization"]
    assert connect["service"] == "OpenAI"
    assert connect["max_audio_ms"] is None
    assert close == {"kind": "close", "t_ms": close["t_ms"], "by": "client", "code": 1000,
                     "reason": ""}  # fmt: skip
    client = [f["json"]["type"] for f in frames if f["from"] == "client"]
    assert client == [
        "session.update",
        "conversation.item.create",
        "input_audio_buffer.append",
        "response.create",
        "conversation.item.create",
        "response.create",
    ]
    server = [f["json"]["type"] for f in frames if f["from"] == "server"]
    assert server[0] == "session.created"
    assert server.count("response.done") == 2
    times = [record["t_ms"] for record in records]
    assert times == sorted(times)
    append = next(f for f in frames if f["json"]["type"] == "input_audio_buffer.append")
    assert base64.b64decode(append["json"]["audio"]) == AUDIO
    assert (append["audio_bytes"], append["audio_ms"]) == (1024, 21.333)
    delta = next(f for f in frames if f["json"]["type"] == "response.output_audio.delta")
    assert (delta["audio_bytes"], delta["audio_ms"]) == (2048, 42.667)


async def test_secrets_are_scrubbed(nursery: trio.Nursery, tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    await record(nursery, path, weather_agent())
    text = path.read_text()
    assert KEY not in text
    assert MCP_TOKEN not in text
    update = next(r for r in lines(path) if r.get("json", {}).get("type") == "session.update")
    assert update["json"]["session"]["tools"][1]["authorization"] == "<redacted>"


async def test_audio_can_be_shortened(nursery: trio.Nursery, tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    await record(nursery, path, weather_agent(), max_audio_ms=10)
    records = lines(path)
    assert records[0]["max_audio_ms"] == 10
    append = next(
        r for r in records if r.get("json", {}).get("type") == "input_audio_buffer.append"
    )
    assert base64.b64decode(append["json"]["audio"]) == AUDIO[:480]  # 10 ms at 24 kHz
    assert append["audio_bytes"] == 1024
    delta = next(
        r for r in records if r.get("json", {}).get("type") == "response.output_audio.delta"
    )
    assert base64.b64decode(delta["json"]["delta"]) == REPLY_AUDIO[:480]


async def test_a_failed_connect_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    provider = OpenAIRealtime(api_key=KEY, base_url=f"http://127.0.0.1:{closed_port()}/v1")
    with trio.fail_after(5), pytest.raises(ConnectError):
        async with open_session(
            provider, transport=RecordingTransport(TrioWebsocketTransport(), path)
        ):
            pass  # pragma: no cover
    assert not path.exists()


async def test_recording_to_an_open_file(nursery: trio.Nursery, tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    with path.open("w", encoding="utf-8") as file:
        server = await serve_realtime(nursery, weather_server())
        provider = OpenAIRealtime(api_key=KEY, base_url=server.http_url)
        recorder = RecordingTransport(TrioWebsocketTransport(), file)
        with trio.fail_after(10):
            async with open_session(provider, OPTIONS, transport=recorder) as session:
                await weather_agent()(session)
        assert not file.closed  # the caller's file stays open, flushed
        assert lines(path)[-1]["kind"] == "close"


# --- replay ----------------------------------------------------------------------------------


async def test_replay_reproduces_the_session(nursery: trio.Nursery, tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    live = await record(nursery, path, weather_agent())
    assert await replay(path, weather_agent()) == live
    assert await replay(path, weather_agent()) == live  # deterministic


async def test_event_ids_are_ignored_by_default(nursery: trio.Nursery, tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    await record(nursery, path, weather_agent(message_id="evt_live_1"))
    await replay(path, weather_agent(message_id="evt_other_2"))
    with pytest.raises(ReplayMismatch) as info:
        await replay(path, weather_agent(message_id="evt_other_2"), ignore=())
    assert info.value.path == "event_id"


async def test_a_different_frame_is_a_mismatch(nursery: trio.Nursery, tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    await record(nursery, path, weather_agent())
    with pytest.raises(ReplayMismatch) as info:
        await replay(path, weather_agent(question="Weather in Rome?"))
    error = info.value
    assert (error.index, error.path) == (2, "item.content[0].text")
    assert (error.expected, error.actual) == ("Weather in Paris?", "Weather in Rome?")
    assert error.line == 4  # connect, session.created / session.update, then this frame
    assert str(error) == (
        "client frame 2 of 6 (recording line 4, conversation.item.create) differs at "
        "item.content[0].text: expected 'Weather in Paris?', got 'Weather in Rome?'"
    )


async def test_missing_frames_are_caught(nursery: trio.Nursery, tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    await record(nursery, path, weather_agent())

    async def gives_up(session: Session) -> list[str]:
        item = m.MessageItem(role="user", content=(m.InputText(text="Weather in Paris?"),))
        await session.send(m.ConversationItemCreate(item=item))
        return []

    with pytest.raises(ReplayMismatch, match=r"the client sent 2 of 6 recorded frames") as info:
        await replay(path, gives_up)
    assert info.value.index == 3


async def test_an_extra_frame_is_a_mismatch(nursery: trio.Nursery, tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    await record(nursery, path, weather_agent())

    async def chatty(session: Session) -> list[str]:
        seen = await weather_agent()(session)
        await session.send(m.InputAudioBufferClear())
        return seen

    with pytest.raises(ReplayMismatch, match=r"does not have .*input_audio_buffer\.clear"):
        await replay(path, chatty)


async def test_shortened_audio_is_compared_as_far_as_it_was_kept(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    path = tmp_path / "session.jsonl"
    await record(nursery, path, weather_agent(), max_audio_ms=10)
    await replay(path, weather_agent())
    await replay(path, weather_agent(audio=AUDIO[:480] + b"\x00" * 544))  # differs after 10 ms
    with pytest.raises(ReplayMismatch) as info:
        await replay(path, weather_agent(audio=b"\x00\x00" + AUDIO[2:]))
    assert info.value.path == "audio"


async def test_whole_audio_is_compared_whole(nursery: trio.Nursery, tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    await record(nursery, path, weather_agent())
    with pytest.raises(ReplayMismatch) as info:
        await replay(path, weather_agent(audio=AUDIO[:-2] + b"\x00\x00"))
    assert info.value.path == "audio"


SCRIPT = [
    {"kind": "connect", "version": 1, "t_ms": 0.0, "url": "wss://example/v1/realtime",
     "headers": ["Authorization"], "service": "OpenAI", "max_audio_ms": None,
     "started_at": "2026-01-01T00:00:00.000+00:00"},
    {"kind": "frame", "t_ms": 5.0, "from": "server", "frame": "text",
     "json": {"type": "conversation.created", "event_id": "ev_1"}},
    {"kind": "frame", "t_ms": 10.0, "from": "client", "frame": "text",
     "json": {"type": "response.create"}},
    {"kind": "frame", "t_ms": 1500.0, "from": "server", "frame": "text",
     "json": {"type": "response.created", "event_id": "ev_2", "response": {"id": "resp_1"}}},
    {"kind": "close", "t_ms": 2000.0, "by": "server", "code": 4000, "reason": "expired"},
]  # fmt: skip


def script_lines() -> list[str]:
    return [orjson.dumps(record).decode() for record in SCRIPT]


async def answer_once(session: Session) -> tuple[list[tuple[str, float]], SessionClosedError]:
    start = trio.current_time()
    seen: list[tuple[str, float]] = []
    await session.send(m.ResponseCreate())
    try:
        async for event in session:
            seen.append((type(event).__name__, trio.current_time() - start))
    except SessionClosedError as exc:  # the recorded 4000 is an abnormal end
        iterating = exc
    with pytest.raises(SessionClosedError) as info:
        await session.send(m.ResponseCreate())
    assert iterating.code == info.value.code
    return seen, info.value


async def test_replay_follows_causality_and_the_server_close() -> None:
    transport = ReplayTransport(script_lines())
    with trio.fail_after(5):
        async with open_session(OpenAIRealtime(api_key="x" * 10), transport=transport) as s:
            seen, closed = await answer_once(s)
    assert [name for name, _ in seen] == ["ConversationCreated", "ResponseCreated"]
    assert (closed.code, closed.reason) == (4000, "expired")
    transport.assert_complete()


async def test_paced_replay_keeps_the_recorded_timing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    transport = ReplayTransport(script_lines(), paced=True)
    with trio.fail_after(5):
        async with open_session(OpenAIRealtime(api_key="x" * 10), transport=transport) as s:
            seen, _ = await answer_once(s)
    assert seen == [
        ("ConversationCreated", pytest.approx(0.005)),
        ("ResponseCreated", pytest.approx(1.5)),
    ]


async def test_a_replay_serves_one_connection() -> None:
    transport = ReplayTransport(script_lines())
    with pytest.raises(ReplayMismatch, match="never connected"):
        transport.assert_complete()
    async with open_session(OpenAIRealtime(api_key="x" * 10), transport=transport) as session:
        await answer_once(session)
    with pytest.raises(RuntimeError, match="one connection"):
        async with open_session(OpenAIRealtime(api_key="x" * 10), transport=transport):
            pass


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "empty recording"),
        ('{"kind": "frame"}', "line 1: .*connect"),
        (orjson.dumps(SCRIPT[0]).decode() + "\nnot json", "line 2"),
        (orjson.dumps({**SCRIPT[0], "version": 9}).decode(), "version 9"),
    ],
)
def test_a_bad_recording_is_rejected(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        ReplayTransport(text.splitlines())


# --- against rtsession.local ------------------------------------------------------------------

LOCAL_OPTIONS = m.SessionOptions(
    output_modalities=("text",),
    tools=(
        m.FunctionTool(
            name="get_weather",
            description="Get the current weather for a city.",
            parameters={
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
        ),
    ),
)


async def local_agent(session: Session) -> list[str]:
    """Ask for the weather, answer the function call, collect the texts of two responses."""
    item = m.MessageItem(role="user", content=(m.InputText(text="What's the weather in Paris?"),))
    await session.send(m.ConversationItemCreate(item=item))
    await session.send(m.ResponseCreate())
    texts: list[str] = []
    responses = 0
    async for event in session:
        if isinstance(event, m.ResponseOutputItemDone) and isinstance(
            event.item, m.FunctionCallItem
        ):
            assert event.item.call_id is not None
            result = json.dumps({"temperature": 21, "condition": "sunny"})
            output = m.FunctionCallOutputItem(call_id=event.item.call_id, output=result)
            await session.send(m.ConversationItemCreate(item=output))
            await session.send(m.ResponseCreate())
        elif isinstance(event, m.ResponseOutputTextDone):
            texts.append(event.text)
        elif isinstance(event, m.ResponseDone):
            responses += 1
            if responses == 2:
                break
    return texts


async def test_record_then_replay_against_the_local_server(tmp_path: Path) -> None:
    path = tmp_path / "local.jsonl"
    with trio.fail_after(30):
        async with open_local_server(engines=protocol_only_engines()) as local:
            provider = OpenAIRealtime(api_key=KEY, base_url=local.base_url)
            recorder = RecordingTransport(TrioWebsocketTransport(), path)
            async with open_session(provider, LOCAL_OPTIONS, transport=recorder) as session:
                live = await local_agent(session)
    assert live == ["It is sunny and 21 degrees in Paris."]
    assert KEY not in path.read_text()
    transport = ReplayTransport(path)
    with trio.fail_after(10):
        async with open_session(
            OpenAIRealtime(api_key="unused-key"), LOCAL_OPTIONS, transport=transport
        ) as session:
            assert await local_agent(session) == live
    transport.assert_complete()


# --- the replay command ----------------------------------------------------------------------


async def test_replay_command_prints_a_timeline(
    nursery: trio.Nursery, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "session.jsonl"
    await record(nursery, path, weather_agent(), max_audio_ms=10)
    assert main(["replay", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("OpenAI ws://127.0.0.1:")
    assert "headers: Authorization; audio: first 10 ms of each frame kept" in out[1]
    body = "\n".join(out)
    assert KEY not in body
    append = next(line for line in out if "input_audio_buffer.append" in line)
    assert append.split()[1:] == ["client", "input_audio_buffer.append", "audio", "1024", "B",
                                  "21.3", "ms"]  # fmt: skip
    call = next(line for line in out if "response.output_item.done" in line)
    assert "response_id=resp_1 item.id=item_c item.type=function_call" in call
    assert "item.call_id=call_1 item.name=get_weather" in call
    assert out[-3].split()[1:] == ["client", "close", "code=1000"]
    assert out[-1].startswith("14 frames in ")
    assert out[-1].endswith(
        "6 from the client (21 ms of audio), 8 from the server (43 ms of audio)"
    )


def test_replay_command_reports_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(tmp_path / "missing.jsonl")]) == 1
    assert "missing.jsonl" in capsys.readouterr().err
