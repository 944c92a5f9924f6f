"""The provider end of a session: the writer, one reader per connection, and switching.

Every decision is the ``Ledger``'s; this module only does the I/O around it.
The same end serves sessions with and without a ``Reconnect`` policy:
without one there is one connection and no supervisor.

- **The writer** alone writes to connections: it takes client messages off the end of the
  middleware chain, asks the ledger what to write, encodes and sends; a switch hands it the
  cut-over (the new connection's setup, the re-sent frames), which it runs between two
  messages. Meanwhile, and while the current connection is gone and a new one is being
  opened, it takes no message, so the whole chain, up to the app's ``send``, waits: nothing
  piles up during a switch or an outage.
- **A reader per connection** decodes frames and delivers what the ledger passes on.
- **The supervisor** (with a policy) switches connections on ``GoAway``, at
  ``max_connection_age`` and after a failure the policy retries: it dials (with backoff),
  waits for a point where the old connection has nothing in progress (make before break,
  when it is still open), then has the writer cut over. ``docs/sessions.md`` ("The provider
  end") and ``docs/reconnect.md`` state the guarantees.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Final, Generic, Protocol, TypeVar, final

import attrs
import trio

from .._errors import ConnectError, RTSessionError, SessionClosedError
from ..messages import (
    AudioFormat,
    ClientMessage,
    InvalidServerMessage,
    Reconnected,
    ReconnectReason,
    ResponseOutputAudioDelta,
    ServerMessage,
    SessionCreated,
    SessionUpdate,
    SessionUpdated,
    merge_options,
)
from ..providers import Provider, ResumableProvider
from ..transport import Connection, Transport
from ..wire import Codec, Frame
from ._fused import ChannelSink, ServerIn
from ._ledger import Cutover, Ended, Ledger, Leg, LegState, no_connection
from ._reconnect import Reconnect
from ._send_channel import SendHub
from ._state import SessionState

__all__ = ["RECONNECT_TIMEOUT", "SETTLE_TIMEOUT", "STABLE_AFTER", "ProviderEnd"]

logger = logging.getLogger("rtsession.session")

RECONNECT_TIMEOUT: Final = 10.0
"""Seconds a reconnection attempt gives a new connection to open, and then to answer its
setup (``SessionCreated``), before the attempt counts as failed."""
HINT_AFTER: Final = 5.0
"""Seconds a user message may wait for a response before a debug hint says to ask for one."""
STABLE_AFTER: Final = 1.0
"""Seconds a connection opened by a reconnection must last before its own failure gets a
fresh set of the policy's attempts."""
SETTLE_TIMEOUT: Final = 10.0
"""Seconds a switch waits for the old connection to reach a point with nothing in progress,
when no ``GoAway.time_left_ms`` bounds the wait; then it switches anyway."""


@final
class ProviderEnd:
    """The writer, the readers and (with a reconnection policy) the switch supervisor.

    Args:
        provider: the session's provider; a ``ResumableProvider`` resumes by handle.
        transport: opens new connections for switches.
        state: the session's shared state (options, how it ended, statistics).
        hub: the app-side send channel's hub (validates with the current codec).
        connection: the first connection, open.
        codec: its codec.
        inbox: client messages from the end of the middleware chain (a memory channel, or
            the client side of fused stages).
        outbox: where server messages go toward the chain.
        reconnect: the policy, or ``None``: the first connection's close ends the session.
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
        inbox: Inbox,
        outbox: ChannelSink | ServerIn,
        reconnect: Reconnect | None,
    ) -> None:
        self._provider = provider
        self._resumable = provider if isinstance(provider, ResumableProvider) else None
        self._transport = transport
        self._state = state
        self._hub = hub
        self._inbox = inbox
        self._outbox = outbox
        self._reconnect = reconnect
        age = None if reconnect is None else reconnect.max_connection_age
        self._max_age = math.inf if age is None else age
        resume = (
            self._resumable.resumable_options
            if reconnect is not None and self._resumable is not None
            else None
        )
        self.ledger = Ledger(codec, trio.current_time, resume=resume, reconnect=reconnect)
        state.ledger = self.ledger
        self._connections: dict[int, Connection] = {1: connection}
        self._reading: dict[int, Leg] = {}
        self._handover: _Handover[Any] | None = None
        self._attempts: _Attempts | None = None  # the latest reconnection's
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
        """Start the writer, the first connection's reader and, with a policy, the switch
        supervisor."""
        self._nursery = nursery
        nursery.start_soon(self._write_all, name="rtsession writer")
        self._start_reader(self.ledger.current)
        if self._reconnect is not None:
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
                    if self._outage():  # take nothing until a new connection is current
                        with trio.CancelScope() as waiting:
                            self._waiting = waiting
                            await self._changed.wait()
                        self._waiting = None
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

    def _outage(self) -> bool:
        """The current connection is gone and the session goes on: a new one is coming."""
        ledger = self.ledger
        return ledger.current.state is LegState.CLOSED and ledger.ended is None

    async def _write(self, message: ClientMessage) -> None:
        asked = self.ledger.unanswered_since
        outgoing = self.ledger.client(message)
        if asked is None and self.ledger.unanswered_since is not None:
            self._nursery.start_soon(self._hint_unanswered, self.ledger.unanswered_since)
        if outgoing is not None:
            leg = self.ledger.current
            if not await self._send(leg, leg.codec.encode_client(outgoing)):
                self.ledger.unsent(outgoing)
            elif (
                isinstance(outgoing, SessionUpdate) and SessionUpdated not in leg.codec.server_types
            ):
                # the wire has no acknowledgement (Gemini's contextUpdate): in force once written
                self._state.options = merge_options(self._state.options, outgoing.session)
        if self.ledger.changed:
            self._wake()

    async def _hint_unanswered(self, since: float) -> None:
        """Log a debug hint when a user message stays without a response for HINT_AFTER
        seconds: a newcomer's text turn without ``ResponseCreate`` otherwise waits silently."""
        await trio.sleep_until(since + HINT_AFTER)
        if self.ledger.unanswered_since == since and self.ledger.ended is None:
            logger.debug(
                "a user message was sent %.0f s ago and no response was asked for: text turns "
                "are not answered by themselves, send ResponseCreate() (server VAD answers "
                "spoken turns only)",
                HINT_AFTER,
            )

    async def _in_writer(self, job: Callable[[], Awaitable[_T]]) -> _T:
        """Run ``job`` in the writer task, between two client messages (the writer alone
        writes to connections), and return its result."""
        handover = _Handover(job)
        self._handover = handover
        if self._waiting is not None:
            self._waiting.cancel()
        await handover.done.wait()
        return handover.result

    async def _send(self, leg: Leg, frames: list[Frame]) -> bool:
        """Write ``frames`` on ``leg`` (noted as not yet consumed); stop at a closed one.
        Returns whether every frame was written."""
        connection = self._connections.get(leg.number)
        for frame in self.ledger.wrote(leg, frames):
            if connection is None or leg.state is LegState.CLOSED:
                return False
            try:
                await connection.send(frame)
            except SessionClosedError as exc:
                self._closed(leg, exc)
                return False
        return True

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
                    message = ledger.server(leg, _whole_samples(decoded, frame, state))
                    if message is None:
                        continue
                    if isinstance(message, SessionCreated | SessionUpdated | Reconnected):
                        state.options = message.session
                    else:
                        conversation.observe(message)
                    # Without a yield when the next hop is already waiting; every frame
                    # still checkpoints in ``connection.receive()``.
                    await outbox.deliver(message)
                if ledger.changed:
                    self._wake()
        finally:
            del self._reading[leg.number]
            self._end_stream()

    # --- endings -----------------------------------------------------------------------------

    def _closed(self, leg: Leg, error: SessionClosedError) -> None:
        # The connection stays in _connections: aclose() still ends its transport's tasks.
        self.ledger.closed(leg, error)
        self._end_stream()
        self._wake()

    def _end(self, error: Ended) -> None:
        self.ledger.end(error)
        self._end_stream()
        self._wake()

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
                    "max_connection_age"
                    if aged.cancelled_caught
                    else "go_away"
                    if leg.go_away is not None
                    else "connection_lost"
                )
                if not self.ledger.told_to_go(leg):
                    return  # closed for good: the ledger has ended the session
                await self._switch(leg, reason)

    async def _switch(self, old: Leg, reason: ReconnectReason) -> None:
        """Move the session off ``old``: dial, wait until ``old`` is settled (or gone, or
        the server's deadline), then cut over."""
        assert self._reconnect is not None
        time_left_ms = None if old.go_away is None else old.go_away.time_left_ms
        settle_by = trio.current_time() + (
            SETTLE_TIMEOUT if time_left_ms is None else time_left_ms / 1000
        )
        attempts = self._attempts
        if attempts is None or not _short_lived(old):
            attempts = self._attempts = _Attempts(self._reconnect)
        elif old.error is not None:
            attempts.failed(old.error)
        connection = await self._open(attempts)
        if connection is None:
            if self.ledger.no_new_connection(old, reason, attempts.last_error()):
                self._end_stream()
                self._wake()
            else:
                old.opened_at = trio.current_time()
            return
        await self._until(
            lambda: old.state is LegState.CLOSED or self.ledger.settled(old), settle_by
        )
        await self._in_writer(partial(self._move, old, reason, connection, attempts))

    async def _open(self, attempts: _Attempts) -> Connection | None:
        """Dial until a connection opens, or the policy gives up (``attempts.error``)."""
        while await attempts.next():
            with trio.move_on_after(RECONNECT_TIMEOUT):
                try:
                    request = self._provider.connect_request(self._state.options.kind)
                    connection = await self._transport.connect(self._nursery, request)
                except ConnectError as exc:
                    logger.warning("could not open a new connection: %s", exc)
                    attempts.failed(exc)
                    continue
                else:
                    self._state.redactor = request.redactor()  # a fresh token, maybe
                    return connection
            logger.warning("could not open a new connection within %s s", RECONNECT_TIMEOUT)
            attempts.failed(no_connection())
        return None

    async def _move(
        self, old: Leg, reason: ReconnectReason, connection: Connection, attempts: _Attempts
    ) -> None:
        """In the writer: cut over to ``connection``; when it fails to take over, to a new
        one with a fresh session (a refused handle is not tried again), while the policy
        allows."""
        fresh = False
        while True:
            cutover = self.ledger.cut_over(
                old, self._next_codec(old.codec), reason, self._state.conversation, fresh=fresh
            )
            self._retire(old)
            self._hub.use_codec(cutover.new.codec)
            if await self._take_over(cutover, connection):
                return
            # A refused handle (an expired one is closed with 1007) is not a reason to
            # stop: the next attempt is a fresh session with the conversation replayed.
            attempts.failed(cutover.new.error or no_connection(), retry=cutover.handle is not None)
            fresh = True
            opened = await self._open(attempts)
            if opened is None:
                self._end(attempts.last_error())
                return
            connection = opened

    async def _take_over(self, cutover: Cutover, connection: Connection) -> bool:
        """Set up the new connection and, once it answers, send what continues the
        session on it: the frames to re-send, or the replayed conversation and what
        follows it. ``False`` if it closed or did not answer in time."""
        new = cutover.new
        for message in cutover.close_out:
            await self._outbox.deliver(message)
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
        for again in (*cutover.replay, *cutover.then):
            await self._send(new, new.codec.encode_client(again))
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


def _whole_samples(message: ServerMessage, frame: Frame, state: SessionState) -> ServerMessage:
    """``message``, or an ``InvalidServerMessage`` for reply audio that is not whole samples
    of the session's output format (which the codec does not know)."""
    if not isinstance(message, ResponseOutputAudioDelta):
        return message
    width = (state.options.output_audio_format or AudioFormat()).sample_bytes
    if len(message.delta) % width == 0:
        return message
    return InvalidServerMessage(
        frame=frame,
        reason=f"response audio of {len(message.delta)} bytes is not whole {width}-byte samples",
    )


_T = TypeVar("_T")


class Inbox(Protocol):
    """Where the writer takes client messages: a memory channel, or the client side of fused
    stages."""

    def receive_nowait(self) -> ClientMessage: ...

    async def receive(self) -> ClientMessage: ...


@attrs.define(eq=False)
class _Handover(Generic[_T]):
    """A job for the writer (a switch's cut-over), waiting for it to run."""

    job: Callable[[], Awaitable[_T]]
    done: trio.Event = attrs.Factory(trio.Event)
    result: _T = attrs.field(init=False)


@final
class _Attempts:
    """The attempts of one reconnection, under the policy: how many were made, and the last
    failure."""

    __slots__ = ("error", "made", "policy", "retry")

    def __init__(self, policy: Reconnect) -> None:
        self.policy = policy
        self.made = 0
        self.error: RTSessionError | None = None
        self.retry = True

    def failed(self, error: RTSessionError, *, retry: bool | None = None) -> None:
        """The latest attempt failed with ``error``; ``retry`` overrides the policy's
        verdict on it (``None``: the policy decides)."""
        self.error = error
        self.retry = self.policy.retries(error) if retry is None else retry

    async def next(self) -> bool:
        """Whether to make another attempt; waits the policy's backoff before it.
        Cancellation: raises ``trio.Cancelled`` during the wait, the attempt not made."""
        if self.made >= self.policy.attempts:
            return False
        if not self.retry:
            return False
        self.made += 1
        await trio.sleep(self.policy.delay(self.made))
        return True

    def last_error(self) -> Ended:
        """What ends the session when the attempts are over."""
        error = self.error
        return error if isinstance(error, ConnectError | SessionClosedError) else no_connection()


def _short_lived(leg: Leg) -> bool:
    """``leg``, opened by a reconnection, failed within STABLE_AFTER of opening: the next
    reconnection goes on counting that one's attempts (and backoff), so a server that accepts
    and at once drops every connection ends the session after the policy's attempts, not
    never."""
    closed_at = leg.closed_at
    return (
        leg.number > 1
        and closed_at is not None
        and leg.state is LegState.CLOSED
        and closed_at - leg.opened_at < STABLE_AFTER
    )


def _gone(leg: Leg) -> bool:
    return leg.state is LegState.CLOSED


def _alarmed(leg: Leg) -> bool:
    """Told to go, or gone."""
    return leg.go_away is not None or leg.state is LegState.CLOSED
