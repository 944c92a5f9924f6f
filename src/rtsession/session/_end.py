"""The provider end of a session: the writer, one reader per connection, and switching.

Every decision is the :class:`~._ledger.Ledger`'s; this module only does the I/O around it.
The same end serves sessions with and without ``resumption``: without it there is one
connection and no supervisor.

- **The writer** alone writes to connections: it takes client messages off the end of the
  middleware chain, asks the ledger what to write, encodes and sends; a switch hands it the
  cut-over (the new connection's setup, the re-sent frames), which it runs between two
  messages. Meanwhile it takes no message, so the whole chain, up to the app's ``send``,
  waits: nothing piles up during a switch.
- **A reader per connection** decodes frames and delivers what the ledger passes on.
- **The supervisor** (``resumption=True``) switches connections on ``GoAway`` or at
  ``max_connection_age``: it dials, waits for a point where the old connection has nothing
  in progress, then has the writer cut over (make before break). ``docs/sessions.md`` ("The provider
  end") states the guarantees.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Final, final

import attrs
import trio

from .._errors import ConnectError, SessionClosedError
from ..messages import (
    ClientMessage,
    Reconnected,
    ReconnectReason,
    ServerMessage,
    SessionCreated,
    SessionUpdated,
)
from ..providers import Provider, ResumableProvider
from ..transport import Connection, Transport
from ..wire import Codec, Frame
from ._ledger import Cutover, Ledger, Leg, LegState, no_connection
from ._send_channel import SendHub
from ._state import SessionState

__all__ = ["RECONNECT_TIMEOUT", "SETTLE_TIMEOUT", "ProviderEnd"]

logger = logging.getLogger("rtsession.session")

RECONNECT_TIMEOUT: Final = 10.0
"""Seconds a switch gives a new connection to open and to answer its setup
(``SessionCreated``) before the attempt counts as failed."""
SETTLE_TIMEOUT: Final = 10.0
"""Seconds a switch waits for the old connection to reach a point with nothing in progress,
when no ``GoAway.time_left_ms`` bounds the wait; then it switches anyway."""


@final
class ProviderEnd:
    """The writer, the readers and (with ``resumption``) the switch supervisor.

    Args:
        provider: the session's provider; a :class:`ResumableProvider` resumes by handle.
        transport: opens new connections for switches.
        state: the session's shared state (options, how it ended, statistics).
        hub: the app-side send channel's hub (validates with the current codec).
        connection: the first connection, open.
        codec: its codec.
        inbox: client messages from the end of the middleware chain.
        outbox: server messages toward the chain.
        resumption: switch connections on ``GoAway`` / at ``max_connection_age``.
        max_connection_age: seconds; ``None``: only on ``GoAway``.
    """

    def __init__(
        self,
        *,
        provider: Provider,
        transport: Transport,
        state: SessionState,
        hub: SendHub,
        connection: Connection,
        codec: Codec,
        inbox: trio.MemoryReceiveChannel[ClientMessage],
        outbox: trio.MemorySendChannel[ServerMessage],
        resumption: bool,
        max_connection_age: float | None,
    ) -> None:
        self._provider = provider
        self._resumable = provider if isinstance(provider, ResumableProvider) else None
        self._transport = transport
        self._state = state
        self._hub = hub
        self._inbox = inbox
        self._outbox = outbox
        self._resumption = resumption
        self._max_age = math.inf if max_connection_age is None else max_connection_age
        resume = (
            self._resumable.resumable_options
            if resumption and self._resumable is not None
            else None
        )
        self.ledger = Ledger(codec, trio.current_time(), resume=resume, switching=resumption)
        state.ledger = self.ledger
        self._connections: dict[int, Connection] = {1: connection}
        self._reading: dict[int, Leg] = {}
        self._handover: _Handover | None = None
        self._waiting: trio.CancelScope | None = None  # the writer's wait for a message
        self._changed = trio.Event()
        self._writing = False
        self._stopping = False
        self._intake = trio.CancelScope()
        self._switches = trio.CancelScope()
        self._nursery: trio.Nursery  # the session's, from start()
        self.finished = trio.Event()

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, nursery: trio.Nursery) -> None:
        """Start the writer, the first connection's reader and, with ``resumption``, the
        switch supervisor."""
        self._nursery = nursery
        nursery.start_soon(self._write_all, name="rtsession writer")
        self._start_reader(self.ledger.current)
        if self._resumption:
            nursery.start_soon(self._supervise, name="rtsession switches")

    def stop(self) -> None:
        """Stop switching, and stop writing: at once when idle, else after the message
        being written (cancelling a socket write midway could leave half a frame)."""
        self._stopping = True
        self._switches.cancel(reason="session closing")
        if not self._writing:
            self._intake.cancel(reason="session closing")

    async def aclose(self) -> None:
        """Close every open connection at once: the close frame, then at most the
        transport's close timeout for each peer's, all in parallel."""
        async with trio.open_nursery() as nursery:
            for connection in self._connections.values():
                nursery.start_soon(connection.aclose)
        self._connections.clear()

    # --- the writer --------------------------------------------------------------------------

    async def _write_all(self) -> None:
        try:
            with self._intake:
                while True:
                    handover = self._handover
                    if handover is not None:  # a switch's cut-over, run between messages
                        self._handover = None
                        handover.result = await handover.job()
                        handover.done.set()
                        continue
                    # A message whose sender is already waiting is taken without the yield
                    # ``receive`` adds (docs/benchmarks/METHOD.md, tuning 2); the socket
                    # write checkpoints, so the loop cannot spin.
                    try:
                        message = self._inbox.receive_nowait()
                    except trio.WouldBlock:
                        with trio.CancelScope() as waiting:
                            self._waiting = waiting
                            try:
                                message = await self._inbox.receive()
                            except trio.EndOfChannel:
                                break
                            finally:
                                self._waiting = None
                        if waiting.cancelled_caught:
                            continue  # woken for a handover; nothing was taken
                    except trio.EndOfChannel:
                        break
                    self._writing = True
                    await self._write(message)
                    self._writing = False
                    if self._stopping:
                        break
        finally:
            self.finished.set()

    async def _write(self, message: ClientMessage) -> None:
        outgoing = self.ledger.client(message)
        if outgoing is not None:
            leg = self.ledger.current
            await self._send(leg, leg.codec.encode_client(outgoing))
        if self.ledger.changed:
            self._wake()

    async def _in_writer(
        self, job: Callable[[], Awaitable[tuple[Cutover, bool]]]
    ) -> tuple[Cutover, bool]:
        """Run ``job`` in the writer task, between two client messages (the writer alone
        writes to connections), and return its result."""
        handover = _Handover(job)
        self._handover = handover
        if self._waiting is not None:
            self._waiting.cancel()
        await handover.done.wait()
        assert handover.result is not None
        return handover.result

    async def _send(self, leg: Leg, frames: list[Frame]) -> None:
        """Write ``frames`` on ``leg`` (noted as not yet consumed); stop at a closed one."""
        connection = self._connections.get(leg.number)
        for frame in self.ledger.wrote(leg, frames):
            if connection is None or leg.state is LegState.CLOSED:
                return
            try:
                await connection.send(frame)
            except SessionClosedError as exc:
                self._closed(leg, exc)
                return

    # --- the readers -------------------------------------------------------------------------

    def _start_reader(self, leg: Leg) -> None:
        self._reading[leg.number] = leg
        self._nursery.start_soon(self._read, leg, name=f"rtsession reader {leg.number}")

    async def _read(self, leg: Leg) -> None:
        """Receive, decode and deliver one connection's messages until it closes."""
        connection = self._connections[leg.number]
        ledger, state, outbox = self.ledger, self._state, self._outbox
        conversation = state.conversation
        try:
            while True:
                try:
                    frame = await connection.receive()
                except SessionClosedError as exc:
                    self._closed(leg, exc)
                    return
                for decoded in leg.codec.decode_server(frame):
                    message = ledger.server(leg, decoded)
                    if message is None:
                        continue
                    if isinstance(message, SessionCreated | SessionUpdated | Reconnected):
                        state.options = message.session
                    else:
                        conversation.observe(message)
                    # When the next hop is already waiting, hand the message over without
                    # the yield ``send`` adds (docs/benchmarks/METHOD.md, tuning 1); every
                    # frame still checkpoints in ``connection.receive()``.
                    try:
                        outbox.send_nowait(message)
                    except trio.WouldBlock:
                        await self._deliver(message)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        pass
                if ledger.changed:
                    self._wake()
        finally:
            del self._reading[leg.number]
            self._end_stream()

    async def _deliver(self, message: ServerMessage) -> None:
        """Pass ``message`` toward the app; if the app side stopped listening, drop it and
        keep serving the socket (pings, the close handshake)."""
        try:  # noqa: SIM105 -- a try costs nothing here, suppress() a call
            await self._outbox.send(message)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    # --- endings -----------------------------------------------------------------------------

    def _closed(self, leg: Leg, error: SessionClosedError) -> None:
        # The connection stays in _connections: aclose() still ends its transport's tasks.
        self.ledger.closed(leg, error)
        self._end_stream()
        self._wake()

    def _end(self, error: SessionClosedError) -> None:
        self.ledger.end(error)
        self._end_stream()

    def _end_stream(self) -> None:
        """Once the session is over: sends fail at once, and the app's stream ends as soon
        as every reader that may still deliver has delivered what it received before the
        close."""
        ended = self.ledger.ended
        if ended is None:
            return
        self._state.mark_closed(ended)
        if all(leg.state is LegState.DRAINING for leg in self._reading.values()):
            self._outbox.close()

    def _wake(self) -> None:
        """Tell the supervisor the ledger changed."""
        self.ledger.changed = False
        self._changed.set()
        self._changed = trio.Event()

    async def _until(self, condition: Callable[[], bool], deadline: float) -> bool:
        """Wait until ``condition()`` holds or ``deadline``; returns whether it held."""
        while not condition():
            with trio.move_on_at(deadline):
                await self._changed.wait()
            if trio.current_time() >= deadline:
                return bool(condition())
        return True

    # --- switching ---------------------------------------------------------------------------

    async def _supervise(self) -> None:
        with self._switches:
            while self.ledger.ended is None:
                leg = self.ledger.current
                if leg.state is LegState.STAYING:
                    await self._until(partial(_gone, leg), math.inf)
                    continue
                with trio.move_on_at(leg.opened_at + self._max_age) as aged:
                    await self._until(partial(_alarmed, leg), math.inf)
                reason: ReconnectReason = (
                    "max_connection_age" if aged.cancelled_caught else "go_away"
                )
                if not self.ledger.told_to_go(leg):
                    return  # closed without notice: the ledger has ended the session
                await self._switch(leg, reason)

    async def _switch(self, old: Leg, reason: ReconnectReason) -> None:
        """Move the session off ``old``: dial, wait until ``old`` is settled (or gone, or
        the server's deadline), then cut over."""
        time_left_ms = None if old.go_away is None else old.go_away.time_left_ms
        settle_by = trio.current_time() + (
            SETTLE_TIMEOUT if time_left_ms is None else time_left_ms / 1000
        )
        connection = await self._dial()
        if connection is None:
            if self.ledger.no_new_connection(old, reason):
                self._end_stream()
            else:
                old.opened_at = trio.current_time()
            return
        await self._until(
            lambda: old.state is LegState.CLOSED or self.ledger.settled(old), settle_by
        )
        fresh = False
        while True:
            cutover, switched = await self._in_writer(
                partial(self._cut_over, old, connection, reason, fresh)
            )
            if switched:
                return
            if not self.ledger.next_step(cutover):
                self._end_stream()
                return
            fresh = True
            connection = await self._dial()
            if connection is None:
                self._end(no_connection())
                return

    async def _dial(self) -> Connection | None:
        with trio.move_on_after(RECONNECT_TIMEOUT):
            try:
                return await self._transport.connect(
                    self._nursery, self._provider.connect_request()
                )
            except ConnectError as exc:
                logger.warning("could not open a new connection: %s", exc)
                return None
        logger.warning("could not open a new connection within %s s", RECONNECT_TIMEOUT)
        return None

    async def _cut_over(
        self, old: Leg, connection: Connection, reason: ReconnectReason, fresh: bool
    ) -> tuple[Cutover, bool]:
        """In the writer: retire ``old`` and take over with ``connection``."""
        cutover = self.ledger.cut_over(
            old, self._next_codec(old.codec), trio.current_time(), reason, fresh=fresh
        )
        self._retire(old)
        self._hub.use_codec(cutover.new.codec)
        return cutover, await self._take_over(cutover, connection)

    async def _take_over(self, cutover: Cutover, connection: Connection) -> bool:
        """Set up the new connection and, once it answers, re-send what the old one had
        not consumed. ``False`` if it closed or did not answer in time."""
        new = cutover.new
        for message in cutover.close_out:
            await self._deliver(message)
        self._connections[new.number] = connection
        self._start_reader(new)
        if cutover.setup is not None:
            await self._send(new, new.codec.encode_client(cutover.setup))
        answered = await self._until(
            lambda: new.state is not LegState.OPENING,
            trio.current_time() + RECONNECT_TIMEOUT,
        )
        if not answered or new.state is not LegState.LIVE:
            logger.warning("the new connection did not accept the session's setup")
            self.ledger.opening_failed(cutover)
            self._retire(new)
            return False
        self.ledger.opened(cutover)
        await self._send(new, list(cutover.resend))
        return True

    def _next_codec(self, previous: Codec) -> Codec:
        if self._resumable is not None:
            return self._resumable.next_codec(previous)
        return self._provider.make_codec()

    def _retire(self, leg: Leg) -> None:
        """Close a connection that is no longer used, in the background."""
        connection = self._connections.pop(leg.number, None)
        if connection is not None:
            self._nursery.start_soon(connection.aclose, name="rtsession drain")


@attrs.define(eq=False)
class _Handover:
    """A switch's cut-over, waiting for the writer to run it."""

    job: Callable[[], Awaitable[tuple[Cutover, bool]]]
    done: trio.Event = attrs.Factory(trio.Event)
    result: tuple[Cutover, bool] | None = None


def _gone(leg: Leg) -> bool:
    return leg.state is LegState.CLOSED


def _alarmed(leg: Leg) -> bool:
    """Told to go, or gone."""
    return leg.go_away is not None or leg.state is LegState.CLOSED
