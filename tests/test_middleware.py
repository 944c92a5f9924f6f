"""rtsession.middleware: the stage toolkit (observe, Relay) and the ResponseGate."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

from rtsession import messages as m
from rtsession.middleware import (
    Link,
    Relay,
    ResponseGate,
    Stage,
    StageChannels,
    StageContext,
    observe,
    run_relay,
)
from rtsession.session import open_session
from rtsession.testing import AppInbox, FakeProvider, response_events

CREATED = m.SessionCreated(session=m.SessionOptions(), session_id="sess_1")
ACTIVE = "conversation_already_has_active_response"


def created(response_id: str) -> m.ResponseCreated:
    return m.ResponseCreated(response=m.Response(id=response_id, status="in_progress"))


def done(response_id: str, status: m.ResponseStatus = "completed") -> m.ResponseDone:
    return m.ResponseDone(response=m.Response(id=response_id, status=status))


def creates_sent(fake: FakeProvider) -> list[str | None]:
    return [msg.message_id for msg in fake.received if isinstance(msg, m.ResponseCreate)]


# --- observe ---------------------------------------------------------------------------------


async def test_observe_sees_everything_in_order_and_forwards_it() -> None:
    client_seen: list[m.ClientMessage] = []
    server_seen: list[m.ServerMessage] = []

    fake = FakeProvider([CREATED, *response_events("resp_1")])
    stage = observe(on_client=client_seen.append, on_server=server_seen.append)
    with trio.fail_after(5):
        async with open_session(fake, middleware=[stage], transport=fake) as session:
            await session.send(m.InputAudioBufferCommit(message_id="a"))
            await session.send(m.ResponseCreate(message_id="b"))
            received = [await session.receive_channel.receive() for _ in range(3)]
            await fake.receive_of(m.ResponseCreate)
    assert [type(message) for message in received] == [
        m.SessionCreated,
        m.ResponseCreated,
        m.ResponseDone,
    ]
    assert server_seen == received
    assert tuple(client_seen) == fake.received


async def test_observers_run_in_middleware_order_before_the_next_hop() -> None:
    log: list[str] = []
    fake = FakeProvider()

    def observer(name: str) -> Stage:
        return observe(
            on_client=lambda _: log.append(f"{name} client, provider has {len(fake.received)}"),
            on_server=lambda _: log.append(f"{name} server"),
        )

    outer, inner = observer("outer"), observer("inner")
    with trio.fail_after(5):
        async with open_session(fake, middleware=[outer, inner], transport=fake) as session:
            await session.send(m.InputAudioBufferClear())
            await fake.receive()
            fake.send_nowait(CREATED)
            await session.receive_channel.receive()
    assert log == [
        "outer client, provider has 0",
        "inner client, provider has 0",
        "inner server",
        "outer server",
    ]


class CallbackError(Exception):
    pass


async def test_a_failing_callback_ends_the_session() -> None:
    def explode(message: m.ServerMessage) -> None:
        raise CallbackError(type(message).__name__)

    fake = FakeProvider([CREATED])
    with trio.fail_after(5), pytest.raises(CallbackError, match="SessionCreated"):
        async with open_session(fake, middleware=[observe(on_server=explode)], transport=fake):
            await trio.sleep_forever()


# --- Relay -----------------------------------------------------------------------------------


class MuteAndMark(Relay):
    """Drops output audio, marks commits, and starts a child task per clear."""

    def __init__(self, link: Link, stage: MuteAndMarkStage) -> None:
        super().__init__(link)
        self._stage = stage

    async def client_message(self, message: m.ClientMessage) -> None:
        if isinstance(message, m.InputAudioBufferClear):
            self.link.nursery.start_soon(self._stage.linger)
        await self.link.to_provider(attrs.evolve(message, message_id="marked"))

    async def server_message(self, message: m.ServerMessage) -> None:
        if isinstance(message, m.ResponseOutputAudioDelta):
            self._stage.muted += 1
            return
        await super().server_message(message)


@attrs.define(eq=False)
class MuteAndMarkStage:
    muted: int = 0
    lingering: int = 0
    cancelled: int = 0

    async def run(self, context: StageContext, channels: StageChannels) -> None:
        await run_relay(lambda link: MuteAndMark(link, self), context, channels)

    async def linger(self) -> None:
        self.lingering += 1
        try:
            await trio.sleep_forever()
        finally:
            self.cancelled += 1


async def test_relay_consumes_transforms_and_its_children_end_with_the_session() -> None:
    delta = m.ResponseOutputAudioDelta(
        response_id="r", item_id="i", output_index=0, content_index=0, delta=b"\x00\x00"
    )
    stage = MuteAndMarkStage()
    fake = FakeProvider([delta, delta, CREATED])
    with trio.fail_after(5):
        async with open_session(fake, middleware=[stage], transport=fake) as session:
            assert await session.receive_channel.receive() == CREATED
            await session.send(m.InputAudioBufferClear())
            assert await fake.receive() == m.InputAudioBufferClear(message_id="marked")
            assert stage.lingering == 1
    assert (stage.muted, stage.cancelled) == (2, 1)


# --- ResponseGate ----------------------------------------------------------------------------


async def test_gate_holds_a_create_while_a_response_is_active(nursery: trio.Nursery) -> None:
    fake, app = FakeProvider(), AppInbox()
    with trio.fail_after(5):
        async with open_session(fake, middleware=[ResponseGate()], transport=fake) as session:
            nursery.start_soon(app.drain, session)
            await session.send(m.ResponseCreate(message_id="first"))
            await fake.receive_of(m.ResponseCreate)
            await session.send(m.ResponseCreate(message_id="second"))  # before response.created
            fake.send_nowait(created("resp_1"))
            await app.receive_of(m.ResponseCreated)
            await session.send(m.ResponseCreate(message_id="third"))
            await trio.testing.wait_all_tasks_blocked()
            assert creates_sent(fake) == ["first"]
            fake.send_nowait(done("resp_1"))
            assert (await fake.receive_of(m.ResponseCreate)).message_id == "second"
            await trio.testing.wait_all_tasks_blocked()
            assert creates_sent(fake) == ["first", "second"]
            fake.send_nowait(created("resp_2"), done("resp_2"))
            assert (await fake.receive_of(m.ResponseCreate)).message_id == "third"


async def test_gate_waits_for_a_response_server_vad_started(nursery: trio.Nursery) -> None:
    fake, app = FakeProvider(), AppInbox()
    with trio.fail_after(5):
        async with open_session(fake, middleware=[ResponseGate()], transport=fake) as session:
            nursery.start_soon(app.drain, session)
            fake.send_nowait(m.InputAudioBufferCommitted(item_id="item_1"), created("resp_vad"))
            await app.receive_of(m.ResponseCreated)
            await session.send(m.ResponseCreate(message_id="mine"))
            await trio.testing.wait_all_tasks_blocked()
            assert creates_sent(fake) == []
            fake.send_nowait(done("resp_vad"))
            assert (await fake.receive_of(m.ResponseCreate)).message_id == "mine"


async def test_gate_retries_a_create_that_collided_on_the_wire(nursery: trio.Nursery) -> None:
    """Server VAD starts a response while the gate's request is in flight: the server
    rejects the request; the gate hides the error and retries after that response."""

    def reply(message: m.ClientMessage) -> list[m.ServerMessage]:
        if isinstance(message, m.ResponseCreate) and len(creates_sent(fake)) == 1:
            error = m.Error(
                type="invalid_request_error",
                code=ACTIVE,
                message="Conversation already has an active response",
                client_message_id=message.message_id,
            )
            return [created("resp_vad"), error]
        return []

    fake, app = FakeProvider(reply=reply), AppInbox()
    with trio.fail_after(5):
        async with open_session(fake, middleware=[ResponseGate()], transport=fake) as session:
            nursery.start_soon(app.drain, session)
            await session.send(m.ResponseCreate())
            first = await fake.receive_of(m.ResponseCreate)
            assert first.message_id is not None
            await app.receive_of(m.ResponseCreated)
            await trio.testing.wait_all_tasks_blocked()
            assert len(creates_sent(fake)) == 1
            fake.send_nowait(done("resp_vad"))
            assert await fake.receive_of(m.ResponseCreate) == first
            await app.receive_of(m.ResponseDone)
    assert app.received == (created("resp_vad"), done("resp_vad"))  # no error


async def test_gate_passes_other_errors_on_and_releases(nursery: trio.Nursery) -> None:
    def reply(message: m.ClientMessage) -> list[m.ServerMessage]:
        if isinstance(message, m.ResponseCreate) and message.message_id == "bad":
            error = m.Error(type="invalid_request_error", message="nope", client_message_id="bad")
            return [error]
        return []

    fake, app = FakeProvider(reply=reply), AppInbox()
    with trio.fail_after(5):
        async with open_session(fake, middleware=[ResponseGate()], transport=fake) as session:
            nursery.start_soon(app.drain, session)
            await session.send(m.ResponseCreate(message_id="bad"))
            error = await app.receive_of(m.Error)
            assert error.client_message_id == "bad"
            await session.send(m.ResponseCreate(message_id="good"))
            assert (await fake.receive_of(m.ResponseCreate)).message_id == "bad"
            assert (await fake.receive_of(m.ResponseCreate)).message_id == "good"


async def test_gate_never_holds_out_of_band_requests(nursery: trio.Nursery) -> None:
    fake, app = FakeProvider([created("resp_1")]), AppInbox()
    with trio.fail_after(5):
        async with open_session(fake, middleware=[ResponseGate()], transport=fake) as session:
            nursery.start_soon(app.drain, session)
            await app.receive_of(m.ResponseCreated)
            await session.send(m.ResponseCreate(message_id="oob", conversation="none"))
            assert (await fake.receive_of(m.ResponseCreate)).message_id == "oob"
            await session.send(m.ResponseCreate(message_id="in band"))
            fake.send_nowait(created("resp_oob"), done("resp_1"))
            await app.receive_of(m.ResponseDone)
            await trio.testing.wait_all_tasks_blocked()
            assert creates_sent(fake) == ["oob"]  # the out-of-band response is still active
            fake.send_nowait(done("resp_oob"))
            assert (await fake.receive_of(m.ResponseCreate)).message_id == "in band"


async def test_gate_forwards_everything_else() -> None:
    fake = FakeProvider([CREATED, *response_events("resp_1")])
    with trio.fail_after(5):
        async with open_session(fake, middleware=[ResponseGate()], transport=fake) as session:
            await session.send(m.InputAudioBufferCommit(message_id="c"))
            assert await fake.receive() == m.InputAudioBufferCommit(message_id="c")
            seen = [await session.receive_channel.receive() for _ in range(3)]
    assert seen == [CREATED, *response_events("resp_1")]
