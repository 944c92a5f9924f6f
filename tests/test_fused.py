"""Fused stages: synchronous middleware run inside the session's own tasks (no task hop),
mixed with task stages under one ordering and shutdown contract."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import pytest
import trio
import trio.testing
from hypothesis import given, settings, strategies as st

from rtsession import messages as m
from rtsession.middleware import (
    FunctionInvocation,
    FusedLink,
    FusedRelay,
    Link,
    Logging,
    Middleware,
    OpenTelemetry,
    Relay,
    RelayMaker,
    ResponseGate,
    StageChannels,
    StageContext,
    observe,
    run_relay,
)
from rtsession.session import open_session
from rtsession.testing import FakeProvider

CREATED = m.SessionCreated(session=m.SessionOptions(), session_id="sess_1")
SPEECH = m.InputAudioBufferSpeechStarted(audio_start_ms=0, item_id="item_1")


def delta(n: int) -> m.ResponseOutputAudioDelta:
    return m.ResponseOutputAudioDelta(
        response_id="resp_1", item_id="item_1", output_index=0, content_index=0, delta=b"\0" * n
    )


class TaskStage:
    """A task stage that forwards everything: the one-hop reference."""

    async def run(self, context: StageContext, channels: StageChannels) -> None:
        await run_relay(Relay, context, channels)


class Fused:
    """A fused stage made of the given relay."""

    def __init__(self, maker: RelayMaker) -> None:
        self._maker = maker

    def fuse(self) -> Sequence[RelayMaker]:
        return (self._maker,)


class Steps(trio.abc.Instrument):
    def __init__(self) -> None:
        self.count = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if not task.name.startswith("trio."):  # not trio's own (run_sync_soon, signals)
            self.count += 1


async def task_steps(middleware: Sequence[Middleware], rounds: int = 50) -> int:
    """Task steps the run takes for ``rounds`` client and server messages, one at a time."""
    fake = FakeProvider([CREATED])
    steps = Steps()
    async with open_session(fake, middleware=middleware, transport=fake) as session:
        await session.receive_channel.receive()
        await session.send(m.InputAudioBufferClear())  # FunctionInvocation's first send adds one
        while not fake.received:
            await fake.receive()
        trio.lowlevel.add_instrument(steps)
        for n in range(rounds):
            await session.send(m.InputAudioBufferAppend(audio=b"\0\0"))
            await fake.receive()
            fake.send_nowait(delta(2 * (n + 1)))
            await session.receive_channel.receive()
        trio.lowlevel.remove_instrument(steps)
    return steps.count


async def test_fused_stages_add_no_task_hops() -> None:
    """The issue: every stage was a task, so every message paid a hop per stage. Fused
    stages (observe, Logging, OpenTelemetry, ResponseGate, FunctionInvocation) cost the
    session no task step at all; a task stage still does."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    def fused() -> Sequence[Middleware]:
        return (
            FunctionInvocation([]),
            observe(on_server=lambda _: None),
            OpenTelemetry(tracer_provider=TracerProvider(), meter_provider=MeterProvider()),
            ResponseGate(),
            Logging(),
        )

    async def per_50_rounds(middleware: Callable[[], Sequence[Middleware]]) -> int:
        return await task_steps(middleware(), 100) - await task_steps(middleware(), 50)

    # trio shuffles each batch of runnable tasks, so a run may take a step more or less
    none = await per_50_rounds(tuple)
    assert abs(await per_50_rounds(fused) - none) <= 3
    assert await per_50_rounds(lambda: (TaskStage(),)) >= none + 2 * 50 - 3  # one per message


class Trace(FusedRelay):
    """Logs what it sees as ``name client X`` / ``name server X``."""

    def __init__(self, log: list[str], name: str, link: FusedLink) -> None:
        super().__init__(link)
        self._log = log
        self._name = name

    def client_message(self, message: m.ClientMessage) -> m.ClientMessage:
        self._log.append(f"{self._name} client {type(message).__name__}")
        return message

    def server_message(self, message: m.ServerMessage) -> m.ServerMessage:
        self._log.append(f"{self._name} server {type(message).__name__}")
        return message


class TaskTrace(Relay):
    def __init__(self, log: list[str], link: Link) -> None:
        super().__init__(link)
        self._log = log

    async def client_message(self, message: m.ClientMessage) -> None:
        self._log.append(f"task client {type(message).__name__}")
        await self.link.to_provider(message)

    async def server_message(self, message: m.ServerMessage) -> None:
        self._log.append(f"task server {type(message).__name__}")
        await self.link.to_app(message)


class TaskTraceStage:
    def __init__(self, log: list[str]) -> None:
        self._log = log

    async def run(self, context: StageContext, channels: StageChannels) -> None:
        await run_relay(partial(TaskTrace, self._log), context, channels)


def trace(log: list[str], name: str) -> Fused:
    return Fused(partial(Trace, log, name))


async def test_fused_and_task_stages_mix_in_list_order() -> None:
    log: list[str] = []
    fake = FakeProvider()
    middleware: list[Middleware] = [
        trace(log, "a"),
        trace(log, "b"),
        TaskTraceStage(log),
        trace(log, "c"),
    ]
    with trio.fail_after(5):
        async with open_session(fake, middleware=middleware, transport=fake) as session:
            await session.send(m.InputAudioBufferClear())
            await fake.receive()
            fake.send_nowait(CREATED)
            await session.receive_channel.receive()
    assert log == [
        "a client InputAudioBufferClear",
        "b client InputAudioBufferClear",
        "task client InputAudioBufferClear",
        "c client InputAudioBufferClear",
        "c server SessionCreated",
        "task server SessionCreated",
        "b server SessionCreated",
        "a server SessionCreated",
    ]


class Answer(FusedRelay):
    """On each SpeechStarted: tells the app (before the event) and asks for a response
    (toward the provider); drops InputAudioBufferClear; turns Commit into Commit + Clear."""

    def server_message(self, message: m.ServerMessage) -> m.ServerMessage | None:
        if isinstance(message, m.InputAudioBufferSpeechStarted):
            self.link.to_app(m.InputAudioBufferCleared(message_id="note"))
            self.link.to_provider(m.ResponseCreate(message_id="asked"))
        return message

    def client_message(self, message: m.ClientMessage) -> m.ClientMessage | None:
        if isinstance(message, m.InputAudioBufferClear):
            return None
        if isinstance(message, m.InputAudioBufferCommit):
            self.link.to_provider(message)
            return m.InputAudioBufferClear(message_id="after")
        return message


@pytest.mark.parametrize("around", ["fused", "task"])
async def test_a_hook_sends_either_way_through_the_stages_after_it(around: str) -> None:
    """What a hook sends goes through the stages beyond it in that direction (in the
    consumer's order, also when it is injected from the server side), before the message
    it returns; a hook returning None drops the message."""
    log: list[str] = []
    fake = FakeProvider([SPEECH])
    before = trace(log, "app-side") if around == "fused" else TaskTraceStage(log)
    middleware = [before, Fused(Answer), trace(log, "provider-side")]
    with trio.fail_after(5):
        async with open_session(fake, middleware=middleware, transport=fake) as session:
            note = await session.receive_channel.receive()
            speech = await session.receive_channel.receive()
            asked = await fake.receive()
            await session.send(m.InputAudioBufferClear(message_id="dropped"))
            await session.send(m.InputAudioBufferCommit(message_id="commit"))
            commit, after = await fake.receive(), await fake.receive()
    assert (note.message_id, speech) == ("note", SPEECH)
    assert asked == m.ResponseCreate(message_id="asked")
    assert (commit.message_id, after.message_id) == ("commit", "after")
    assert fake.received == (asked, commit, after)
    provider_side = [line for line in log if line.startswith("provider-side")]
    assert provider_side == [
        "provider-side server InputAudioBufferSpeechStarted",
        "provider-side client ResponseCreate",
        "provider-side client InputAudioBufferCommit",
        "provider-side client InputAudioBufferClear",
    ]


class Later(FusedRelay):
    """Starts a child task per Commit that, after a second, tells both sides."""

    def client_message(self, message: m.ClientMessage) -> m.ClientMessage:
        if isinstance(message, m.InputAudioBufferCommit):
            self.link.nursery.start_soon(self._later)
        return message

    async def _later(self) -> None:
        await trio.sleep(1)
        sent = await self.link.run_sync(self._tell, "later")
        assert sent == "later"

    def _tell(self, id: str) -> str:
        self.link.to_app(m.InputAudioBufferCleared(message_id=id))
        self.link.to_provider(m.InputAudioBufferClear(message_id=id))
        return id


async def test_a_child_task_acts_through_run_sync(autojump_clock: trio.testing.MockClock) -> None:
    log: list[str] = []
    fake = FakeProvider()
    middleware = [trace(log, "app-side"), Fused(Later), trace(log, "provider-side")]
    async with open_session(fake, middleware=middleware, transport=fake) as session:
        await session.send(m.InputAudioBufferCommit())
        await fake.receive()
        started = trio.current_time()
        cleared = await session.receive_channel.receive()
        clear = await fake.receive()
        assert trio.current_time() - started == pytest.approx(1)
    assert cleared == m.InputAudioBufferCleared(message_id="later")
    assert clear == m.InputAudioBufferClear(message_id="later")
    assert "app-side server InputAudioBufferCleared" in log
    assert "provider-side client InputAudioBufferClear" in log


class Outside(FusedRelay):
    def client_message(self, message: m.ClientMessage) -> m.ClientMessage:
        self.link.nursery.start_soon(self._send)
        return message

    async def _send(self) -> None:
        self.link.to_app(m.InputAudioBufferCleared())


async def test_sending_outside_a_hook_is_an_error() -> None:
    async def send_once() -> None:
        fake = FakeProvider()
        async with open_session(fake, middleware=[Fused(Outside)], transport=fake) as session:
            await session.send(m.InputAudioBufferCommit())
            await trio.sleep_forever()

    with trio.fail_after(5), pytest.raises(RuntimeError, match="run_sync"):
        await send_once()


class Closing(FusedRelay):
    def __init__(self, closed: list[str], link: FusedLink) -> None:
        super().__init__(link)
        self._closed = closed

    def server_message(self, message: m.ServerMessage) -> m.ServerMessage:
        if isinstance(message, m.Error):
            raise LookupError(message.message)
        return message

    def close(self) -> None:
        self._closed.append("closed")


async def test_close_runs_once_when_the_server_and_the_app_have_ended() -> None:
    closed: list[str] = []
    fake = FakeProvider([CREATED])
    async with open_session(fake, middleware=[Fused(partial(Closing, closed))], transport=fake):
        fake.close()
        await trio.testing.wait_all_tasks_blocked()
        assert closed == []  # the app side is still open
    assert closed == ["closed"]


async def test_an_exception_from_a_hook_ends_the_session_and_close_still_runs() -> None:
    closed: list[str] = []
    fake = FakeProvider([m.Error(type="server_error", message="boom")])
    with trio.fail_after(5), pytest.raises(LookupError, match="boom"):
        async with open_session(fake, middleware=[Fused(partial(Closing, closed))], transport=fake):
            await trio.sleep_forever()
    assert closed == ["closed"]


async def test_sends_accepted_before_the_block_ends_pass_the_fused_stages() -> None:
    log: list[str] = []
    fake = FakeProvider()
    async with open_session(
        fake, middleware=[trace(log, "a"), trace(log, "b")], transport=fake
    ) as s:
        for _ in range(3):
            await s.send(m.InputAudioBufferCommit())
    assert [type(msg) for msg in fake.received] == [m.InputAudioBufferCommit] * 3
    assert log.count("b client InputAudioBufferCommit") == 3


def test_observe_takes_synchronous_callbacks_only() -> None:
    async def callback(message: m.ServerMessage) -> None:
        pass

    with pytest.raises(TypeError, match="synchronous"):
        observe(on_server=callback)


async def test_an_observe_callback_returning_an_awaitable_ends_the_session() -> None:
    async def later() -> None:
        pass

    fake = FakeProvider([CREATED])
    stage = observe(on_server=lambda _: later())
    with trio.fail_after(5), pytest.raises(TypeError, match="returned an awaitable"):
        async with open_session(fake, middleware=[stage], transport=fake):
            await trio.sleep_forever()


# --- fused or task: the same messages in the same order -------------------------------------

Rule = dict[str, list[str]]
"""What a stage does with a message whose id starts with the key: it sends on one message
per suffix, in order (``[]`` drops it); other messages go on as they are."""


def _outputs(rule: Rule, stage: int, message_id: str | None) -> list[str]:
    id = message_id or ""
    suffixes = rule.get(id[:1])
    return [id] if suffixes is None else [f"{id}/{stage}{suffix}" for suffix in suffixes]


class RuleRelay(FusedRelay):
    """A fused stage following its rules: every id but the last is sent through the link,
    the last is returned."""

    def __init__(self, stage: int, client: Rule, server: Rule, link: FusedLink) -> None:
        super().__init__(link)
        self._stage, self._client, self._server = stage, client, server

    def client_message(self, message: m.ClientMessage) -> m.ClientMessage | None:
        ids = _outputs(self._client, self._stage, message.message_id)
        for id in ids[:-1]:
            self.link.to_provider(m.InputAudioBufferClear(message_id=id))
        return m.InputAudioBufferClear(message_id=ids[-1]) if ids else None

    def server_message(self, message: m.ServerMessage) -> m.ServerMessage | None:
        ids = _outputs(self._server, self._stage, message.message_id)
        for id in ids[:-1]:
            self.link.to_app(m.InputAudioBufferCleared(message_id=id))
        return m.InputAudioBufferCleared(message_id=ids[-1]) if ids else None


class RuleTaskRelay(Relay):
    """The same rules as a task stage: the reference."""

    def __init__(self, stage: int, client: Rule, server: Rule, link: Link) -> None:
        super().__init__(link)
        self._stage, self._client, self._server = stage, client, server

    async def client_message(self, message: m.ClientMessage) -> None:
        for id in _outputs(self._client, self._stage, message.message_id):
            await self.link.to_provider(m.InputAudioBufferClear(message_id=id))

    async def server_message(self, message: m.ServerMessage) -> None:
        for id in _outputs(self._server, self._stage, message.message_id):
            await self.link.to_app(m.InputAudioBufferCleared(message_id=id))


class RuleTaskStage:
    def __init__(self, stage: int, client: Rule, server: Rule) -> None:
        self._relay = partial(RuleTaskRelay, stage, client, server)

    async def run(self, context: StageContext, channels: StageChannels) -> None:
        await run_relay(self._relay, context, channels)


def _stage(fused: bool, stage: int, client: Rule, server: Rule) -> Middleware:
    if fused:
        return Fused(partial(RuleRelay, stage, client, server))
    return RuleTaskStage(stage, client, server)


_RULE = st.dictionaries(
    st.sampled_from("abc"), st.lists(st.sampled_from("xyz"), max_size=3), max_size=3
)


async def _through(
    middleware: Sequence[Middleware], sent: list[str]
) -> tuple[list[str | None], list[str | None]]:
    fake = FakeProvider()
    received: list[str | None] = []
    async with (
        open_session(fake, middleware=middleware, transport=fake) as session,
        trio.open_nursery() as nursery,
    ):

        async def read() -> None:
            async for event in session:
                received.append(event.message_id)

        nursery.start_soon(read)
        for id in sent:
            await session.send(m.InputAudioBufferClear(message_id=id))
            fake.send_nowait(m.InputAudioBufferCleared(message_id=id))
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    return [msg.message_id for msg in fake.received], received


@given(
    kinds=st.lists(st.booleans(), min_size=1, max_size=4),
    rules=st.lists(st.tuples(_RULE, _RULE), min_size=4, max_size=4),
    sent=st.lists(st.sampled_from(["a", "b", "c"]), max_size=5),
)
@settings(max_examples=60)
async def test_fused_stages_pass_the_same_messages_in_the_same_order_as_task_stages(
    kinds: list[bool], rules: list[tuple[Rule, Rule]], sent: list[str]
) -> None:
    """Any mix of fused and task stages, each dropping, changing and multiplying messages
    either way, delivers what the same stages as tasks deliver, in the same order."""
    mixed = [_stage(fused, i, *rules[i]) for i, fused in enumerate(kinds)]
    tasks = [_stage(False, i, *rules[i]) for i in range(len(kinds))]
    with trio.fail_after(10):
        assert await _through(mixed, sent) == await _through(tasks, sent)
