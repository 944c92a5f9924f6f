"""rtsession.middleware.FunctionInvocation: tools run beside the stream, every call answered."""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import pydantic
import pytest
import trio
import trio.testing

import rtsession
from _servers import RealtimeServer, echo_session_update, serve_realtime
from rtsession import messages as m
from rtsession.middleware import (
    FunctionInvocation,
    ToolApproval,
    ToolApprovalRequested,
    ToolCall,
    ToolFunction,
    ToolInvocationCompleted,
    ToolInvocationStarted,
)
from rtsession.providers import OpenAIRealtime
from rtsession.session import Session, open_session
from rtsession.testing import AppInbox, FakeProvider, response_events
from rtsession.wire.gemini import GeminiCodec
from rtsession.wire.openai import OpenAICodec

CANCELLED = '{"error":"The call was cancelled."}'


def call(name: str, arguments: str = "{}", call_id: str = "call_1") -> m.FunctionCallItem:
    return m.FunctionCallItem(name=name, arguments=arguments, call_id=call_id, id=f"item_{call_id}")


def delta(audio: bytes) -> m.ResponseOutputAudioDelta:
    return m.ResponseOutputAudioDelta(
        response_id="resp_1", item_id="item_a", output_index=1, content_index=0, delta=audio
    )


@asynccontextmanager
async def running(
    fake: FakeProvider,
    stage: FunctionInvocation,
    nursery: trio.Nursery,
    options: m.SessionOptions | None = None,
) -> AsyncIterator[tuple[Session, AppInbox]]:
    """A session with ``stage`` on ``fake``, its server messages read into an inbox."""
    app = AppInbox()
    async with open_session(fake, options, middleware=[stage], transport=fake) as session:
        nursery.start_soon(app.drain, session)
        yield session, app


async def read_to_the_end(fake: FakeProvider, stage: FunctionInvocation) -> None:
    async with open_session(fake, middleware=[stage], transport=fake) as session:
        async for _ in session:
            pass


def outputs(fake: FakeProvider) -> dict[str, str]:
    return {
        message.item.call_id: message.item.output
        for message in fake.received
        if isinstance(message, m.ConversationItemCreate)
        and isinstance(message.item, m.FunctionCallOutputItem)
    }


def kinds(fake: FakeProvider) -> list[str]:
    """What reached the provider: ``output:<call_id>``, ``create``, or the class name."""
    names = []
    for message in fake.received:
        if isinstance(message, m.ConversationItemCreate) and isinstance(
            message.item, m.FunctionCallOutputItem
        ):
            names.append(f"output:{message.item.call_id}")
        elif isinstance(message, m.ResponseCreate):
            names.append("create")
        else:
            names.append(type(message).__name__)
    return names


# --- ToolFunction ----------------------------------------------------------------------------


def get_weather(
    city: str,
    days: Annotated[int, pydantic.Field(ge=1, description="How many days ahead.")] = 1,
) -> str:
    """The weather forecast for a city.

    Args:
        city: the city's name, e.g. "Oslo".
    """
    return f"sunny in {city} for {days} days"


def test_tool_function_describes_the_function() -> None:
    tool = ToolFunction(get_weather)
    assert tool.name == "get_weather"
    assert tool.description is not None
    assert tool.description.startswith("The weather forecast for a city.")
    assert 'city: the city\'s name, e.g. "Oslo".' in tool.description
    assert tool.parameters["type"] == "object"
    assert tool.parameters["required"] == ["city"]
    assert tool.parameters["properties"]["city"]["type"] == "string"
    days = tool.parameters["properties"]["days"]
    assert (days["type"], days["minimum"], days["default"]) == ("integer", 1, 1)
    assert days["description"] == "How many days ahead."
    assert tool.function_tool == m.FunctionTool(
        name="get_weather", description=tool.description, parameters=tool.parameters
    )


def test_tool_function_overrides_and_errors() -> None:
    def _impl(x: int) -> int:
        return x

    custom = ToolFunction(functools.partial(_impl), name="double", description="Doubles.")
    assert (custom.name, custom.description) == ("double", "Doubles.")
    assert ToolFunction(functools.partial(_impl), name="p").description is None
    with pytest.raises(TypeError, match="name"):
        ToolFunction(functools.partial(_impl))
    with pytest.raises(TypeError, match="name"):
        ToolFunction(lambda: None)

    def spread(*values: int, **options: str) -> None: ...

    with pytest.raises(TypeError, match="'spread'"):
        ToolFunction(spread)


def test_function_invocation_options_are_checked() -> None:
    assert [t.name for t in FunctionInvocation([get_weather]).function_tools] == ["get_weather"]
    with pytest.raises(ValueError, match="two tools"):
        FunctionInvocation([get_weather, ToolFunction(get_weather)])
    for bad in ({"max_round_trips": 0}, {"max_concurrency": 0}, {"call_deadline": -1.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            FunctionInvocation([get_weather], **bad)
    with pytest.raises(ValueError, match="unknown_tools"):
        FunctionInvocation([get_weather], unknown_tools="ignore")  # type: ignore[arg-type]


# --- advertising -----------------------------------------------------------------------------


async def test_tools_join_the_apps_session_update(nursery: trio.Nursery) -> None:
    theirs = m.FunctionTool(name="get_weather", description="the app's own version")
    other = m.FunctionTool(name="other", description="kept")
    options = m.SessionOptions(instructions="hi", tools=(theirs, other))
    stage = FunctionInvocation([get_weather])
    fake = FakeProvider()
    with trio.fail_after(5):
        async with running(fake, stage, nursery, options) as (session, _app):
            first = await fake.receive_of(m.SessionUpdate)
            await session.update(m.SessionOptions(voice="marin"))
            unchanged = await fake.receive_of(m.SessionUpdate)
            await session.update(m.SessionOptions(tools=(other,)))
            replaced = await fake.receive_of(m.SessionUpdate)
    assert first.session.instructions == "hi"
    assert first.session.tools == (other, *stage.function_tools)
    assert unchanged.session.tools is None
    assert replaced.session.tools == (other, *stage.function_tools)


async def test_tools_are_announced_before_the_apps_first_message(nursery: trio.Nursery) -> None:
    stage = FunctionInvocation([get_weather])
    fake = FakeProvider()
    with trio.fail_after(5):
        async with running(fake, stage, nursery) as (session, _app):
            await session.send(m.InputAudioBufferAppend(audio=b"\x00\x00"))
            await session.send(m.InputAudioBufferCommit())
            await fake.receive_of(m.InputAudioBufferCommit)
    assert kinds(fake) == ["SessionUpdate", "InputAudioBufferAppend", "InputAudioBufferCommit"]
    update = fake.received[0]
    assert isinstance(update, m.SessionUpdate)
    assert update.session.tools == stage.function_tools


async def test_transcription_sessions_get_no_tools(nursery: trio.Nursery) -> None:
    options = m.SessionOptions(kind="transcription")
    fake = FakeProvider()
    stage = FunctionInvocation([get_weather])
    with trio.fail_after(5):
        async with running(fake, stage, nursery, options) as (session, _app):
            await session.send(m.InputAudioBufferCommit())
            await fake.receive_of(m.InputAudioBufferCommit)
    assert fake.received[0] == m.SessionUpdate(session=options)
    assert kinds(fake) == ["SessionUpdate", "InputAudioBufferCommit"]


class Point(pydantic.BaseModel):
    x: float
    y: float


# --- invocation ------------------------------------------------------------------------------


async def test_a_slow_tool_does_not_delay_the_stream(nursery: trio.Nursery) -> None:
    busy, release = trio.Event(), trio.Event()

    async def lookup(city: str) -> str:
        busy.set()
        await release.wait()
        return f"sunny in {city}"

    fake = FakeProvider(response_events("resp_1", call("lookup", '{"city": "Oslo"}')))
    with trio.fail_after(5):
        async with running(fake, FunctionInvocation([lookup]), nursery) as (_session, app):
            seen = [type(await app.receive()) for _ in range(5)]
            await busy.wait()
            fake.send_nowait(*(delta(bytes([n, 0])) for n in range(3)))
            deltas = [await app.receive() for _ in range(3)]
            assert outputs(fake) == {}  # the tool is still running, the audio got through
            release.set()
            completed = await app.receive_of(ToolInvocationCompleted)
            await fake.receive_of(m.ResponseCreate)
    assert seen == [
        m.ResponseCreated,
        m.ResponseOutputItemAdded,
        m.ResponseOutputItemDone,
        ToolInvocationStarted,
        m.ResponseDone,
    ]
    assert deltas == [delta(bytes([n, 0])) for n in range(3)]
    assert (completed.call_id, completed.outcome, completed.output) == (
        "call_1",
        "succeeded",
        "sunny in Oslo",
    )
    assert kinds(fake) == ["output:call_1", "create"]
    assert outputs(fake) == {"call_1": "sunny in Oslo"}


async def test_calls_of_one_response_run_together_then_one_create(nursery: trio.Nursery) -> None:
    arrived, everyone = 0, trio.Event()

    async def meet(who: str) -> str:
        nonlocal arrived
        arrived += 1
        if arrived == 2:
            everyone.set()
        await everyone.wait()  # only returns if both calls run at once
        return who

    calls = [call("meet", '{"who": "a"}', "c1"), call("meet", '{"who": "b"}', "c2")]
    fake = FakeProvider(response_events("resp_1", *calls))
    with trio.fail_after(5):
        async with running(fake, FunctionInvocation([meet]), nursery):
            await fake.receive_of(m.ResponseCreate)
            await trio.testing.wait_all_tasks_blocked()
    assert kinds(fake) == ["output:c1", "output:c2", "create"]
    assert outputs(fake) == {"c1": "a", "c2": "b"}


async def test_a_cancelled_response_cancels_its_tools_and_answers_them(
    nursery: trio.Nursery,
) -> None:
    busy, stopped = trio.Event(), trio.Event()

    async def wait_forever() -> str:
        busy.set()
        try:
            await trio.sleep_forever()
        finally:
            stopped.set()

    events = response_events("resp_1", call("wait_forever"), status="cancelled")
    fake = FakeProvider(events[:-1])  # everything up to the ResponseDone
    stage = FunctionInvocation([wait_forever])
    with trio.fail_after(5):
        async with running(fake, stage, nursery) as (_session, app):
            await busy.wait()
            fake.send_nowait(events[-1])
            completed = await app.receive_of(ToolInvocationCompleted)
            await fake.receive_of(m.ConversationItemCreate)
            await trio.testing.wait_all_tasks_blocked()
    assert stopped.is_set()
    assert (completed.outcome, completed.output) == ("cancelled", CANCELLED)
    assert kinds(fake) == ["output:call_1"]  # answered, and no new response


async def test_the_provider_can_cancel_a_call(nursery: trio.Nursery) -> None:
    """Gemini's ``toolCallCancellation``, through the Gemini codec on both sides: the
    cancelled call gets no answer (the service no longer knows it), the other one does."""
    busy = trio.Event()

    async def wait_forever() -> str:
        busy.set()
        await trio.sleep_forever()
        raise AssertionError

    async def quick() -> str:
        return "done"

    calls = [call("wait_forever", call_id="slow"), call("quick", call_id="fast")]
    fake = FakeProvider(response_events("resp_1", *calls), codec=GeminiCodec)
    stage = FunctionInvocation([wait_forever, quick])
    with trio.fail_after(5):
        async with running(fake, stage, nursery) as (_session, app):
            await busy.wait()
            fake.send_nowait(m.ToolCallCancellation(call_ids=("slow", "unknown")))
            completed = await app.receive_of(ToolInvocationCompleted)
            assert (completed.call_id, completed.outcome) == ("fast", "succeeded")
            completed = await app.receive_of(ToolInvocationCompleted)
            assert (completed.call_id, completed.outcome) == ("slow", "cancelled")
            await fake.receive_of(m.ConversationItemCreate)
            await trio.testing.wait_all_tasks_blocked()
    # Gemini carries a function response as an object: plain text comes back wrapped
    assert outputs(fake) == {"fast": '{"output":"done"}'}
    assert "create" not in kinds(fake)


async def test_a_call_past_its_deadline_is_stopped_and_answered(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def slow() -> str:
        await trio.sleep(100)
        return "too late"

    fake = FakeProvider(response_events("resp_1", call("slow")))
    stage = FunctionInvocation([slow], call_deadline=5)
    with trio.fail_after(50):
        async with running(fake, stage, nursery) as (_session, app):
            start = trio.current_time()
            completed = await app.receive_of(ToolInvocationCompleted)
            assert trio.current_time() - start == pytest.approx(5)
            await fake.receive_of(m.ResponseCreate)
    assert completed.outcome == "timed_out"
    assert completed.duration == pytest.approx(5)
    assert outputs(fake) == {"call_1": '{"error":"The function did not finish within 5 seconds."}'}
    assert kinds(fake) == ["output:call_1", "create"]


async def test_max_concurrency_bounds_running_tools(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    now = peak = 0

    async def work(n: int) -> int:
        nonlocal now, peak
        now += 1
        peak = max(peak, now)
        await trio.sleep(1)
        now -= 1
        return n * 10

    calls = [call("work", f'{{"n": {n}}}', f"c{n}") for n in range(3)]
    fake = FakeProvider(response_events("resp_1", *calls))
    stage = FunctionInvocation([work], max_concurrency=1)
    with trio.fail_after(50):
        async with running(fake, stage, nursery) as (_session, app):
            durations = [(await app.receive_of(ToolInvocationCompleted)).duration for _ in "abc"]
            await fake.receive_of(m.ResponseCreate)
    assert peak == 1
    assert durations == pytest.approx([1, 2, 3])
    assert outputs(fake) == {"c0": "0", "c1": "10", "c2": "20"}
    assert kinds(fake) == ["output:c0", "output:c1", "output:c2", "create"]


@pytest.mark.parametrize("new_turn", ["committed", "user message"])
async def test_round_trips_are_bounded_per_turn(new_turn: str, nursery: trio.Nursery) -> None:
    invoked = 0

    def count() -> int:
        nonlocal invoked
        invoked += 1
        return invoked

    responses = 0

    def reply(message: m.ClientMessage) -> list[m.ServerMessage]:
        """The model calls the tool again in every response it is asked for."""
        nonlocal responses
        if not isinstance(message, m.ResponseCreate):
            return []
        responses += 1
        return response_events(f"resp_{responses}", call("count", call_id=f"call_{responses}"))

    fake = FakeProvider(response_events("resp_0", call("count", call_id="call_0")), reply=reply)
    stage = FunctionInvocation([count], max_round_trips=1)
    with trio.fail_after(5):
        async with running(fake, stage, nursery) as (session, app):
            first = [(await app.receive_of(ToolInvocationCompleted)).outcome for _ in "ab"]
            await trio.testing.wait_all_tasks_blocked()
            assert kinds(fake) == ["output:call_0", "create", "output:call_1"]
            if new_turn == "committed":
                fake.send_nowait(m.InputAudioBufferCommitted(item_id="item_user"))
            else:
                user = m.MessageItem(role="user", content=(m.InputText(text="again"),))
                await session.send(m.ConversationItemCreate(item=user))
                while (await fake.receive_of(m.ConversationItemCreate)).item != user:
                    pass
            fake.send_nowait(*response_events("resp_vad", call("count", call_id="call_vad")))
            second = [(await app.receive_of(ToolInvocationCompleted)).outcome for _ in "ab"]
            await trio.testing.wait_all_tasks_blocked()
    assert first == second == ["succeeded", "over_limit"]
    assert invoked == 2
    over = '{"error":"Too many tool calls in this turn; answer the user without calling tools."}'
    assert outputs(fake)["call_1"] == outputs(fake)["call_2"] == over
    assert kinds(fake).count("create") == 2


async def test_unknown_function_is_answered_with_an_error(nursery: trio.Nursery) -> None:
    fake = FakeProvider(response_events("resp_1", call("teleport")))
    with trio.fail_after(5):
        async with running(fake, FunctionInvocation([get_weather]), nursery) as (_session, app):
            started = await app.receive_of(ToolInvocationStarted)
            completed = await app.receive_of(ToolInvocationCompleted)
            await fake.receive_of(m.ResponseCreate)
    assert started.name == completed.name == "teleport"
    assert completed.outcome == "unknown_tool"
    assert outputs(fake) == {"call_1": """{"error":"Unknown function 'teleport'."}"""}


async def test_unknown_functions_can_be_left_to_the_app(nursery: trio.Nursery) -> None:
    calls = [call("get_weather", '{"city": "Rome"}', "mine"), call("lookup", "{}", "theirs")]
    fake = FakeProvider(response_events("resp_1", *calls))
    stage = FunctionInvocation([get_weather], unknown_tools="app")
    with trio.fail_after(5):
        async with running(fake, stage, nursery) as (session, app):
            await app.receive_of(ToolInvocationCompleted)
            await trio.testing.wait_all_tasks_blocked()
            assert outputs(fake) == {}  # waits for the app's answer
            answer = m.FunctionCallOutputItem(call_id="theirs", output="from the app")
            await session.send(m.ConversationItemCreate(item=answer))
            await fake.receive_of(m.ResponseCreate)
            await trio.testing.wait_all_tasks_blocked()
    assert kinds(fake) == ["SessionUpdate", "output:theirs", "output:mine", "create"]
    assert outputs(fake) == {"theirs": "from the app", "mine": "sunny in Rome for 1 days"}


@pytest.mark.parametrize("detailed", [False, True])
async def test_tool_errors_are_generic_unless_detailed(
    nursery: trio.Nursery, detailed: bool, caplog: pytest.LogCaptureFixture
) -> None:
    async def connect_db() -> str:
        raise ValueError("password hunter2 rejected")

    fake = FakeProvider(response_events("resp_1", call("connect_db")))
    stage = FunctionInvocation([connect_db], detailed_errors=detailed)
    with trio.fail_after(5), caplog.at_level(logging.ERROR, logger="rtsession.middleware"):
        async with running(fake, stage, nursery) as (_session, app):
            completed = await app.receive_of(ToolInvocationCompleted)
            await fake.receive_of(m.ResponseCreate)
    assert completed.outcome == "failed"
    assert isinstance(completed.exception, ValueError)
    expected = "ValueError: password hunter2 rejected" if detailed else "The function failed."
    assert json.loads(outputs(fake)["call_1"]) == {"error": expected}
    [record] = [r for r in caplog.records if r.name == "rtsession.middleware"]
    assert record.exc_info is not None
    assert record.exc_info[1] is completed.exception


async def test_sync_and_async_tools(nursery: trio.Nursery) -> None:
    threads: list[int] = []

    def add(a: int, b: int) -> dict[str, int]:
        threads.append(threading.get_ident())
        return {"sum": a + b}

    async def mirror(point: Point) -> Point:
        return Point(x=-point.x, y=point.y)

    calls = [
        call("add", '{"a": 2, "b": "3"}', "c1"),
        call("mirror", '{"point": {"x": 1, "y": 2}}', "c2"),
    ]
    fake = FakeProvider(response_events("resp_1", *calls))
    with trio.fail_after(5):
        async with running(fake, FunctionInvocation([add, mirror]), nursery) as (_session, _app):
            await fake.receive_of(m.ResponseCreate)
    assert outputs(fake) == {"c1": '{"sum":5}', "c2": '{"x":-1.0,"y":2.0}'}
    assert threads != [threading.get_ident()]  # the sync tool ran in a worker thread


async def test_invalid_arguments_are_reported_to_the_model(nursery: trio.Nursery) -> None:
    calls_made = 0

    def add(a: int, b: int) -> int:
        nonlocal calls_made
        calls_made += 1
        return a + b

    calls = [call("add", '{"a": "x"}', "wrong"), call("add", "{not json", "broken")]
    fake = FakeProvider(response_events("resp_1", *calls))
    with trio.fail_after(5):
        async with running(fake, FunctionInvocation([add]), nursery) as (_session, app):
            outcomes = {
                (c := await app.receive_of(ToolInvocationCompleted)).call_id: c.outcome
                for _ in "ab"
            }
            await fake.receive_of(m.ResponseCreate)
    assert calls_made == 0
    assert outcomes == {"wrong": "invalid_arguments", "broken": "invalid_arguments"}
    wrong = json.loads(outputs(fake)["wrong"])["error"]
    assert wrong.startswith("Invalid arguments: a: ")
    assert "b: " in wrong
    assert json.loads(outputs(fake)["broken"])["error"].startswith(
        "Invalid arguments: Invalid JSON"
    )


async def test_the_follow_up_waits_for_a_response_server_vad_started(nursery: trio.Nursery) -> None:
    release = trio.Event()

    async def lookup() -> str:
        await release.wait()
        return "found"

    fake = FakeProvider(response_events("resp_1", call("lookup")))
    stage = FunctionInvocation([lookup])
    vad_created = m.ResponseCreated(response=m.Response(id="resp_vad", status="in_progress"))
    with trio.fail_after(5):
        async with running(fake, stage, nursery) as (_session, app):
            await app.receive_of(m.ResponseDone)
            fake.send_nowait(m.InputAudioBufferSpeechStarted(item_id="u", audio_start_ms=0))
            fake.send_nowait(vad_created)  # the user spoke: server VAD starts a response
            await app.receive_of(m.ResponseCreated)
            release.set()
            await fake.receive_of(m.ConversationItemCreate)
            await trio.testing.wait_all_tasks_blocked()
            assert kinds(fake) == ["output:call_1"]  # no response.create while one is active
            fake.send_nowait(m.ResponseDone(response=m.Response(id="resp_vad", status="completed")))
            await fake.receive_of(m.ResponseCreate)
    assert kinds(fake) == ["output:call_1", "create"]


# --- end to end over a loopback WebSocket ----------------------------------------------------


async def test_end_to_end_over_a_websocket(nursery: trio.Nursery) -> None:
    codec = OpenAICodec()
    weather_call = call("get_weather", '{"city": "Oslo", "days": 2}', "call_ws")

    def reply(event: dict[str, Any]) -> list[dict[str, Any]]:
        if event.get("type") != "session.update":
            return []
        frames = [
            frame
            for message in response_events("resp_ws", weather_call)
            for frame in codec.encode_server(message)
        ]
        return [*echo_session_update(event), *(json.loads(frame) for frame in frames)]

    server = await serve_realtime(nursery, RealtimeServer(reply=reply))
    provider = OpenAIRealtime(api_key="sk-test-0123456789", base_url=server.http_url)
    options = m.SessionOptions(instructions="Use tools.")
    stage = FunctionInvocation([get_weather])
    with trio.fail_after(5):
        async with open_session(provider, options, middleware=[stage]) as session:
            app = AppInbox()
            nursery.start_soon(app.drain, session)
            completed = await app.receive_of(ToolInvocationCompleted)
            frames = [await server.frames.receive() for _ in range(3)]
    update, output, create = frames
    assert update["type"] == "session.update"
    assert [tool["name"] for tool in update["session"]["tools"]] == ["get_weather"]
    assert update["session"]["tools"][0]["parameters"] == stage.function_tools[0].parameters
    assert output["type"] == "conversation.item.create"
    assert output["item"] == {
        "type": "function_call_output",
        "call_id": "call_ws",
        "output": "sunny in Oslo for 2 days",
    }
    assert create["type"] == "response.create"
    assert completed.outcome == "succeeded"


# --- parity with MEAI's FunctionInvokingRealtimeClientSession ----------------------------------


async def test_a_function_the_app_declared_itself_is_left_to_the_app(
    nursery: trio.Nursery,
) -> None:
    lookup = m.FunctionTool(name="lookup", description="The app's own.", parameters={})
    options = m.SessionOptions(tools=(lookup,))
    fake = FakeProvider(
        [m.SessionCreated(session=options), *response_events("resp_1", call("lookup"))]
    )
    stage = FunctionInvocation([get_weather])
    async with running(fake, stage, nursery, options) as (session, app):
        done = await app.receive_of(m.ResponseDone)
        await trio.testing.wait_all_tasks_blocked()
        assert [k for k in kinds(fake) if k != "SessionUpdate"] == []  # not answered "unknown"
        answer = m.FunctionCallOutputItem(call_id="call_1", output='{"hits": 3}')
        await session.send(m.ConversationItemCreate(item=answer))
        await fake.receive_of(m.ResponseCreate)  # the stage goes on once the app answered
    assert done.response.id == "resp_1"
    assert not any(isinstance(x, ToolInvocationStarted) for x in app.received)
    assert outputs(fake) == {"call_1": '{"hits": 3}'}


async def test_an_unknown_function_can_end_the_turn(nursery: trio.Nursery) -> None:
    fake = FakeProvider(
        response_events(
            "resp_1",
            call("get_weather", '{"city": "Oslo"}', call_id="call_1"),
            call("mystery", call_id="call_2"),
        )
    )
    stage = FunctionInvocation([get_weather], unknown_tools="end_turn")
    async with running(fake, stage, nursery) as (_session, app):
        completed = await app.receive_of(ToolInvocationCompleted)
        await trio.testing.wait_all_tasks_blocked()
    assert completed.name == "get_weather"
    assert [k for k in kinds(fake) if k != "SessionUpdate"] == ["output:call_1"]  # no create
    assert [s.name for s in app.received if isinstance(s, ToolInvocationStarted)] == ["get_weather"]


async def test_tools_failing_round_trip_after_round_trip_end_the_session() -> None:
    def broken(city: str) -> str:
        raise ConnectionError(f"the weather service for {city} is down")

    responses = 0

    def reply(message: m.ClientMessage) -> list[m.ServerMessage]:
        nonlocal responses
        if not isinstance(message, m.ResponseCreate):
            return []
        responses += 1
        arguments = '{"city": "Oslo"}'
        return response_events(f"resp_{responses}", call("broken", arguments, f"call_{responses}"))

    fake = FakeProvider(
        response_events("resp_0", call("broken", '{"city": "Oslo"}', "call_0")), reply=reply
    )
    stage = FunctionInvocation([broken], max_consecutive_errors=2)
    with trio.fail_after(5), pytest.raises(rtsession.ToolInvocationError) as raised:
        await read_to_the_end(fake, stage)
    assert raised.value.failures == 3
    assert "max_consecutive_errors=2" in str(raised.value)
    assert isinstance(raised.value.__cause__, ConnectionError)
    assert responses == 2  # the model got the first two errors and went on; not the third


async def test_a_round_trip_without_failure_resets_the_count(nursery: trio.Nursery) -> None:
    results = iter([ValueError("flaky"), "ok", ValueError("flaky"), "ok", ValueError("flaky")])

    def flaky() -> str:
        result = next(results)
        if isinstance(result, Exception):
            raise result
        return result

    responses = 0

    def reply(message: m.ClientMessage) -> list[m.ServerMessage]:
        nonlocal responses
        if not isinstance(message, m.ResponseCreate) or responses >= 4:
            return []
        responses += 1
        return response_events(f"resp_{responses}", call("flaky", call_id=f"call_{responses}"))

    fake = FakeProvider(response_events("resp_0", call("flaky", call_id="call_0")), reply=reply)
    stage = FunctionInvocation([flaky], max_consecutive_errors=1)
    async with running(fake, stage, nursery) as (_session, app):
        outcomes = [(await app.receive_of(ToolInvocationCompleted)).outcome for _ in range(5)]
    assert outcomes == ["failed", "succeeded", "failed", "succeeded", "failed"]


def wire_transfer(amount: int) -> str:
    """Send money."""
    return f"sent {amount}"


async def test_a_tool_that_requires_approval_runs_once_the_app_approves(
    nursery: trio.Nursery,
) -> None:
    fake = FakeProvider(response_events("resp_1", call("wire_transfer", '{"amount": 5}')))
    stage = FunctionInvocation([ToolFunction(wire_transfer, requires_approval=True)])
    async with running(fake, stage, nursery) as (session, app):
        asked = await app.receive_of(ToolApprovalRequested)
        await trio.testing.wait_all_tasks_blocked()
        assert outputs(fake) == {}  # nothing runs before the app decides
        await session.send(ToolApproval(call_id=asked.call_id, approved=True))
        completed = await app.receive_of(ToolInvocationCompleted)
        await fake.receive_of(m.ResponseCreate)
    assert (asked.name, asked.arguments) == ("wire_transfer", '{"amount": 5}')
    assert completed.outcome == "succeeded"
    assert outputs(fake) == {"call_1": "sent 5"}
    assert not any(isinstance(x, ToolApproval) for x in fake.received)  # never on the wire


async def test_a_rejected_call_answers_the_model_with_the_reason(nursery: trio.Nursery) -> None:
    ran = False

    def delete_everything() -> str:
        nonlocal ran
        ran = True
        return "done"

    fake = FakeProvider(response_events("resp_1", call("delete_everything")))
    stage = FunctionInvocation([ToolFunction(delete_everything, requires_approval=True)])
    async with running(fake, stage, nursery) as (session, app):
        asked = await app.receive_of(ToolApprovalRequested)
        await session.send(ToolApproval(call_id=asked.call_id, approved=False, reason="no way"))
        completed = await app.receive_of(ToolInvocationCompleted)
        await fake.receive_of(m.ResponseCreate)
    assert not ran
    assert completed.outcome == "rejected"
    assert outputs(fake) == {"call_1": '{"error":"The call was rejected: no way."}'}


async def test_a_call_waiting_for_approval_is_answered_when_its_response_is_cancelled(
    nursery: trio.Nursery,
) -> None:
    fake = FakeProvider(
        response_events("resp_1", call("wire_transfer", '{"amount": 5}'), status="cancelled")
    )
    stage = FunctionInvocation([ToolFunction(wire_transfer, requires_approval=True)])
    async with running(fake, stage, nursery) as (_session, app):
        completed = await app.receive_of(ToolInvocationCompleted)
        await trio.testing.wait_all_tasks_blocked()
    assert completed.outcome == "cancelled"
    assert outputs(fake) == {"call_1": CANCELLED}


async def test_an_invoker_wraps_every_call(nursery: trio.Nursery) -> None:
    def greet(name: str, greeting: str = "Hello") -> str:
        return f"{greeting}, {name}"

    seen: list[ToolCall] = []

    async def invoker(call: ToolCall, proceed: Callable[..., Awaitable[Any]]) -> Any:
        seen.append(call)
        if call.name == "forbidden":
            raise PermissionError("not for this user")
        return await proceed(greeting="Welcome")  # an argument the model does not give

    def forbidden() -> str:
        raise AssertionError("the invoker never lets it run")

    fake = FakeProvider(
        response_events(
            "resp_1",
            call("greet", '{"name": "Ada"}', call_id="call_1"),
            call("forbidden", call_id="call_2"),
        )
    )
    stage = FunctionInvocation([greet, forbidden], invoker=invoker, detailed_errors=True)
    async with running(fake, stage, nursery) as (_session, app):
        done = [await app.receive_of(ToolInvocationCompleted) for _ in "ab"]
        await fake.receive_of(m.ResponseCreate)
    assert [c.name for c in seen] == ["greet", "forbidden"]
    assert seen[0] == ToolCall(
        name="greet", call_id="call_1", response_id="resp_1", arguments='{"name": "Ada"}'
    )
    assert sorted(d.outcome for d in done) == ["failed", "succeeded"]
    assert outputs(fake) == {
        "call_1": "Welcome, Ada",
        "call_2": '{"error":"PermissionError: not for this user"}',
    }
