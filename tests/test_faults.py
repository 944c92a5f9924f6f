"""The fault matrix, socket side: each fault of a peer or the network, through
``open_session``, on both transports (trio-websocket and websockets.trio).

The server is raw wsproto (``_servers.WireServer``), so a test decides byte by byte what the
peer does: reset the TCP connection, close it without a close frame, close with a code,
go silent, ping in the middle of our close handshake. The switch-side faults (``goAway``
during a tool call or a switch, a new connection refused or closing during a switch) are in
``test_provider_end.py``; cancellation at every checkpoint of connecting is at the end here.

Times are virtual where time matters (``lazy_clock``: it jumps only after 50 ms of real
idleness, so loopback I/O is never skipped past).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing
from wsproto.events import CloseConnection, Message, Ping

from _servers import WireLink, serve_wire, silent
from rtsession import OpenAIRealtime, SessionClosedError, messages as m, open_session
from rtsession.session import CloseReason
from rtsession.testing import AppInbox
from rtsession.transport import (
    CLOSE_TIMEOUT,
    Transport,
    TrioWebsocketTransport,
    WebsocketsTrioTransport,
)

MakeTransport = Callable[..., Transport]


@pytest.fixture(
    params=[
        pytest.param(TrioWebsocketTransport, id="trio-websocket"),
        pytest.param(WebsocketsTrioTransport, id="websockets"),
    ]
)
def make_transport(request: pytest.FixtureRequest) -> MakeTransport:
    maker: MakeTransport = request.param
    return maker


def provider(port: int) -> OpenAIRealtime:
    return OpenAIRealtime(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-fault-0123456789")


async def fault_reset(link: WireLink) -> None:
    """TCP reset: SO_LINGER 0, then close (an RST instead of a FIN)."""
    link.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    await link.stream.aclose()


async def fault_fin(link: WireLink) -> None:
    """The TCP connection ends without a WebSocket close frame."""
    await link.stream.aclose()


def fault_close(code: int, reason: str) -> Callable[[WireLink], Any]:
    async def close(link: WireLink) -> None:
        await link.send(CloseConnection(code=code, reason=reason))
        await link.next_event()  # the client's answer

    return close


async def fault_ping_during_close(link: WireLink) -> None:
    """When the client starts its close handshake, ping it before answering the close."""
    while True:
        event = await link.next_event()
        if event is None:
            return
        if isinstance(event, CloseConnection):
            await link.stream.send_all(b"\x89\x04late")  # a ping frame (wsproto refuses now)
            await link.send(event.response())
            await link.stream.aclose()
            return


async def run_until_end(port: int, transport: Transport) -> tuple[AppInbox, SessionClosedError]:
    """Open a session, read until it ends, then try to send."""
    inbox = AppInbox()
    async with open_session(provider(port), transport=transport) as session:
        await inbox.drain(session)
        with pytest.raises(SessionClosedError) as sending:
            await session.send(m.ResponseCreate())
        assert session.close_reason is not None
    return inbox, sending.value


@pytest.mark.parametrize(
    ("fault", "code", "closed_by"),
    [
        pytest.param(fault_reset, 1006, "network", id="tcp-reset"),
        pytest.param(fault_fin, 1006, "network", id="fin"),
        pytest.param(fault_close(1011, "internal error"), 1011, "server", id="close-1011"),
        pytest.param(fault_close(1007, "bad frame"), 1007, "server", id="close-1007"),
    ],
)
async def test_an_abnormal_end_is_raised_with_its_code(
    nursery: trio.Nursery,
    make_transport: MakeTransport,
    fault: Callable[[WireLink], Any],
    code: int,
    closed_by: str,
) -> None:
    server = await serve_wire(nursery, fault)
    with trio.fail_after(5):
        inbox, sending = await run_until_end(server.port, make_transport())
    assert [type(e) for e in inbox.received] == [m.SessionCreated]  # delivered before the end
    assert inbox.error is not None
    for error in (inbox.error, sending):
        assert (error.code, error.closed_by) == (code, closed_by)


async def test_a_silent_peer_ends_the_session_by_keepalive(
    nursery: trio.Nursery, make_transport: MakeTransport, lazy_clock: trio.testing.MockClock
) -> None:
    server = await serve_wire(nursery, silent)
    started = trio.current_time()
    with trio.fail_after(120):
        inbox, sending = await run_until_end(
            server.port, make_transport(ping_interval=20, ping_timeout=20)
        )
    noticed = trio.current_time() - started
    assert inbox.error is not None
    for error in (inbox.error, sending):
        assert (error.code, error.closed_by) == (1011, "network")
        assert "keepalive" in error.reason
    assert 40 <= noticed <= 40 + 2 * CLOSE_TIMEOUT + 1


async def test_pings_answered_keep_a_quiet_session_open(
    nursery: trio.Nursery, make_transport: MakeTransport, lazy_clock: trio.testing.MockClock
) -> None:
    """The server sends nothing for two minutes but answers pings: the session stays
    open."""

    async def answer_pings(link: WireLink) -> None:
        while (event := await link.next_event()) is not None:
            if isinstance(event, Ping):
                await link.send(event.response())
            elif isinstance(event, CloseConnection):
                await link.send(event.response())
                return

    server = await serve_wire(nursery, answer_pings)
    async with open_session(provider(server.port), transport=make_transport(ping_interval=5)) as s:
        await trio.sleep(120)
        await s.send(m.ResponseCreate())
        assert s.close_reason is None
    assert s.close_reason == CloseReason(1000, "", "client")


async def test_pings_can_be_turned_off(
    nursery: trio.Nursery, make_transport: MakeTransport, lazy_clock: trio.testing.MockClock
) -> None:
    server = await serve_wire(nursery, silent)
    async with open_session(
        provider(server.port), transport=make_transport(ping_interval=None)
    ) as session:
        await trio.sleep(600)
        assert session.close_reason is None
    pings = []
    while True:
        try:
            pings.append(server.events.receive_nowait())
        except trio.WouldBlock:
            break
    assert not [event for event in pings if isinstance(event, Ping)]


async def test_a_ping_during_our_close_never_fails_a_normal_exit(
    nursery: trio.Nursery, make_transport: MakeTransport, lazy_clock: trio.testing.MockClock
) -> None:
    server = await serve_wire(nursery, fault_ping_during_close)
    with trio.fail_after(5):
        async with open_session(provider(server.port), transport=make_transport()) as session:
            await session.send(m.ResponseCreate())
            started = trio.current_time()
    assert trio.current_time() - started < CLOSE_TIMEOUT  # the peer's close frame was taken
    assert session.close_reason == CloseReason(1000, "", "client")


async def test_invalid_transport_settings_are_refused(make_transport: MakeTransport) -> None:
    for bad in ({"ping_interval": 0}, {"ping_interval": -1}, {"ping_timeout": 0}):
        with pytest.raises(ValueError, match="ping"):
            make_transport(**bad)


# --- cancellation at every checkpoint of connecting ---------------------------------------


class CancelAtStep(trio.abc.Instrument):
    """Cancels ``scope`` at the ``step``-th scheduling point of the run: just before, or
    just after, a task step."""

    def __init__(self, step: int, scope: trio.CancelScope) -> None:
        self.step = step
        self.steps = 0
        self.scope = scope

    def _tick(self) -> None:
        self.steps += 1
        if self.steps == self.step:
            self.scope.cancel()

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self._tick()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        self._tick()


async def greet_and_wait(link: WireLink) -> None:
    """A well-behaved server that never hangs up by itself."""
    while (event := await link.next_event()) is not None:
        if isinstance(event, CloseConnection):
            await link.send(event.response())
            return
        if isinstance(event, Message):
            continue


@pytest.mark.slow
async def test_cancellation_at_every_checkpoint_of_connecting_is_a_plain_cancellation(
    nursery: trio.Nursery, make_transport: MakeTransport
) -> None:
    """Cancel ``open_session`` at each task step from the first until one where the block
    was already entered: each time the cancellation takes effect at once (the server never
    hangs up by itself) and is a plain ``Cancelled``, never a ``SessionClosedError``."""
    server = await serve_wire(nursery, greet_and_wait)
    step = 0
    entered = False
    while not entered:
        step += 1
        with trio.fail_after(5), trio.CancelScope() as scope:
            instrument = CancelAtStep(step, scope)
            trio.lowlevel.add_instrument(instrument)
            try:
                async with open_session(provider(server.port), transport=make_transport()):
                    entered = True
            finally:
                trio.lowlevel.remove_instrument(instrument)
        assert scope.cancelled_caught or entered, step
    assert step > 10  # the handshake really was walked through
