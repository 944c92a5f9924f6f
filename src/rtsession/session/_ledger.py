"""The provider end's ledger: every decision about a session's connections, without I/O.

The provider end (``._end``) does the I/O: one writer, one reader per connection, and
with a ``Reconnect`` policy a switch supervisor. Each of them reports
what happened here and does what the ledger answers. The ledger imports no trio and is
tested synchronously, transition by transition (``tests/test_ledger.py``), like
``rtsession.local.ServerSession``.

A connection is a ``Leg``; its ``LegState`` is the one fact that says what it is
for::

    OPENING --SessionCreated--> LIVE --GoAway / age--> GOING --cut over--> DRAINING --> CLOSED
       |                          |                      |  no new connection: STAYING --> CLOSED
       +--closed / no answer------+----closed------------+------------------------------> CLOSED

A current connection that closes with a failure the policy retries stays current while
CLOSED, until a new connection takes over. The session is over (``Ledger.ended``) when
the current connection is closed and no switch will follow; from then on sends fail and the
app's stream ends.

A new connection continues the conversation by handle when the provider resumes sessions
and a handle is valid, else by replaying ``Session.conversation`` (``._conversation.replay``)
and then the input audio appended since the last commit.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Iterable
from typing import Final, TypeAlias, final

import attrs

from .._errors import ConnectError, SessionClosedError
from ..messages import (
    ClientMessage,
    ConversationItem,
    ConversationItemAdded,
    ConversationItemCreate,
    ConversationItemCreated,
    ConversationItemDone,
    FunctionCallItem,
    FunctionCallOutputItem,
    GoAway,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCleared,
    InputAudioBufferCommit,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStopped,
    MessageItem,
    Reconnected,
    ReconnectReason,
    Response,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
    ResponseOutputItemDone,
    ResponseStatusDetails,
    ServerMessage,
    SessionCreated,
    SessionOptions,
    SessionResumptionUpdate,
    SessionUpdate,
    ToolCallCancellation,
    UsageMetadata,
    merge_options,
)
from ..wire import Codec, Frame
from ._conversation import replay
from ._reconnect import Reconnect
from ._responses import OpenResponses

__all__ = ["Cutover", "Ended", "Leg", "LegState", "Ledger", "Resume", "no_connection"]

Ended: TypeAlias = SessionClosedError | ConnectError
"""Why a session ended: its last connection's close, or the refused handshake of the
reconnection that would have replaced it."""

Resume = Callable[[SessionOptions, "str | None"], SessionOptions]
"""A resumable provider's ``resumable_options``: the options for one connection, resuming
the handle given (``None``: a fresh session that asks for handles)."""

_QUIET: Final = (GoAway, SessionResumptionUpdate, UsageMetadata)
"""Server messages that do not move the session's state past a resumption handle."""
_ACKNOWLEDGED: Final = (ConversationItemAdded, ConversationItemCreated, ConversationItemDone)
"""How a server acknowledges an item the client created."""
_COMMITTED: Final = (
    InputAudioBufferCommitted,
    InputAudioBufferCleared,
    InputAudioBufferSpeechStopped,
)
"""Server messages after which the input audio appended so far is no longer the server's
uncommitted buffer (Gemini Live reports only the end of speech)."""


class LegState(enum.Enum):
    """What one connection of the session is for."""

    OPENING = "opening"
    """Dialed for a switch: its setup is out, its ``SessionCreated`` has not come."""
    LIVE = "live"
    """The current connection."""
    GOING = "going"
    """Current, but told to go (``GoAway`` or ``max_connection_age``): a switch is under way."""
    STAYING = "staying"
    """Current and told to go, but no new connection could be opened: the session ends
    with it (or, after ``max_connection_age``, tries again one age later)."""
    DRAINING = "draining"
    """Replaced by a newer connection: what it still sends is dropped; it is being closed."""
    CLOSED = "closed"
    """Gone, closed by either side."""


_CURRENT: Final = frozenset({LegState.LIVE, LegState.GOING, LegState.STAYING})


@attrs.define(eq=False)
class Leg:
    """One connection, as the ledger knows it.

    Attributes:
        number: 1 for the session's first connection, then one more per connection opened
            (a unique id; ``Reconnected.connection`` counts only those that took over).
        codec: its codec (per connection).
        state: what it is for.
        opened_at: when it was opened, in the I/O side's clock (seconds).
        sent: client frames written to it so far (the next frame's index; 0 is the setup).
        unconsumed: ``(index, frame)`` of the frames the service may not have consumed,
            oldest first (``last_consumed_client_message_index`` counts the same way).
        handle: the latest resumable handle it gave.
        after_handle: server messages that moved the state on since that handle.
        calls: function calls this connection's service knows.
        calls_after_handle: those among them that arrived after the handle (a session
            resumed from the handle does not know them).
        configured: a ``SessionUpdate`` went out on it (the first is the setup).
        go_away: the server's ``GoAway``, once it came.
        session_id: its ``SessionCreated.session_id``.
        error: why it closed.
        closed_at: when it stopped carrying the session (it closed, or a switch retired
            it), in the I/O side's clock (seconds).
        announce: for a connection opened by a switch, what its ``SessionCreated`` becomes.
        replayed: the ids of the items replayed to it; the server's acknowledgements of
            them (``conversation.item.added`` / ``.created`` / ``.done``) are not delivered
            again.
    """

    number: int
    codec: Codec
    state: LegState
    opened_at: float
    sent: int = 0
    unconsumed: deque[tuple[int, Frame]] = attrs.Factory(deque)
    handle: str | None = None
    after_handle: int = 0
    calls: set[str] = attrs.Factory(set)
    calls_after_handle: set[str] = attrs.Factory(set)
    configured: bool = False
    go_away: GoAway | None = None
    session_id: str | None = None
    error: SessionClosedError | None = None
    closed_at: float | None = None
    announce: Callable[[SessionCreated], Reconnected] | None = None
    replayed: frozenset[str] = frozenset()


@attrs.frozen
class Cutover:
    """What the I/O side does to move the session onto a new connection.

    Attributes:
        new: the new connection's leg (``OPENING``, now current).
        setup: the message that configures it, or ``None`` (a provider without resumption
            that the app never configured).
        handle: the resumption handle the setup resumes, or ``None`` for a fresh session.
        resend: by handle, the frames to send again once the setup is answered.
        replay: without a handle, the conversation's items, sent once the setup is answered.
        then: without a handle, the messages sent after the replay: the input audio
            appended since the last commit, then what the old connection could not take.
        close_out: what ends, for the app, what the old connection left open; delivered
            before anything from the new one.
    """

    new: Leg
    setup: SessionUpdate | None
    handle: str | None
    resend: tuple[Frame, ...]
    replay: tuple[ConversationItemCreate, ...]
    then: tuple[ClientMessage, ...]
    close_out: tuple[ServerMessage, ...]


@final
class Ledger:
    """The decisions of one session's provider end.

    Args:
        codec: the first connection's codec.
        clock: the I/O side's clock (seconds); the first connection opens now.
        resume: the provider's ``resumable_options`` when it resumes by handle, else
            ``None`` (a switch then starts a fresh session and replays the conversation).
        reconnect: the policy: the session moves to a new connection when told to go, at
            ``max_connection_age``, and after failures it retries. ``None``: the first
            connection's close ends the session.
    """

    def __init__(
        self,
        codec: Codec,
        clock: Callable[[], float],
        *,
        resume: Resume | None,
        reconnect: Reconnect | None,
    ) -> None:
        self.clock = clock
        self.current = Leg(1, codec, LegState.LIVE, clock())
        self._opened = 1
        self.resume = resume
        self.reconnect = reconnect
        self._held: deque[InputAudioBufferAppend] = deque()
        self._held_bytes = 0
        self._spoken: dict[str, bytes] = {}  # user audio by item id, to replay as audio
        self._spoken_bytes = 0
        self._unsent: list[ClientMessage] = []
        self.options: SessionOptions | None = None
        self.responses = OpenResponses()
        self.calls: set[str] = set()
        self.void_calls: set[str] = set()
        self.ended: Ended | None = None
        self.connections = 1
        self.resent_client_frames = 0
        self.dropped_server_messages = 0
        self.dropped_client_messages = 0
        self.changed = False
        self.unanswered_since: float | None = None
        """When the app added a user message with no response asked for or started since
        (the clock's seconds), for a debug hint: text turns are not answered by themselves."""

    # --- client side -------------------------------------------------------------------------

    def client(self, message: ClientMessage) -> ClientMessage | None:
        """What to write on the current connection for ``message``: the message, the setup
        asking for resumption handles, or ``None`` when it must not be sent (the output of a
        call a switch cancelled: the current connection does not know it)."""
        leg = self.current
        if isinstance(message, InputAudioBufferAppend):
            if self.reconnect is not None:
                self._hold(message, self.reconnect.held_audio_bytes)
        elif isinstance(message, InputAudioBufferCommit | InputAudioBufferClear):
            self._release_audio()
        elif isinstance(message, ResponseCreate):
            self.unanswered_since = None
            if message.conversation == "none":
                self.responses.requested_out_of_band()
        elif isinstance(message, SessionUpdate):
            self.options = (
                message.session
                if self.options is None
                else merge_options(self.options, message.session)
            )
            if not leg.configured and self.resume is not None:
                message = attrs.evolve(message, session=self.resume(message.session, None))
            leg.configured = True
        elif isinstance(message, ConversationItemCreate) and isinstance(
            message.item, FunctionCallOutputItem
        ):
            call_id = message.item.call_id
            if call_id in self.void_calls:
                self.dropped_client_messages += 1
                return None
            self.calls.discard(call_id)
            self.changed = True
        elif (
            isinstance(message, ConversationItemCreate)
            and isinstance(message.item, MessageItem)
            and message.item.role == "user"
            and self.unanswered_since is None
        ):
            self.unanswered_since = self.clock()
        return message

    def _hold(self, append: InputAudioBufferAppend, limit: int) -> None:
        """Keep ``append`` until the audio is committed, within ``limit`` bytes."""
        self._held.append(append)
        self._held_bytes += len(append.audio)
        while self._held_bytes > limit:
            self._held_bytes -= len(self._held.popleft().audio)

    def _keep_spoken(self, item_id: str) -> None:
        """With ``replay_audio_bytes``, keep the audio committed as ``item_id``, within the
        bound (the oldest turns go first)."""
        limit = 0 if self.reconnect is None else self.reconnect.replay_audio_bytes
        if not limit or not self._held:
            return
        audio = b"".join(append.audio for append in self._held)
        self._spoken[item_id] = audio
        self._spoken_bytes += len(audio)
        while self._spoken_bytes > limit:
            self._spoken_bytes -= len(self._spoken.pop(next(iter(self._spoken))))

    def _release_audio(self) -> None:
        self._held.clear()
        self._held_bytes = 0

    def unsent(self, message: ClientMessage) -> None:
        """``message`` (as ``client`` answered) could not be written: the current
        connection is gone. A replay sends it after the conversation; input audio is
        already held, and options are merged into the new connection's setup."""
        if not isinstance(message, InputAudioBufferAppend | SessionUpdate):
            self._unsent.append(message)

    def wrote(self, leg: Leg, frames: Iterable[Frame]) -> list[Frame]:
        """Note ``frames`` as written to ``leg`` (not yet consumed); returns them."""
        batch = list(frames)
        leg.unconsumed.extend(enumerate(batch, leg.sent))
        leg.sent += len(batch)
        return batch

    # --- server side -------------------------------------------------------------------------

    def server(self, leg: Leg, message: ServerMessage) -> ServerMessage | None:
        """Note ``message`` from ``leg``; the message to deliver, or ``None`` to drop it
        (it came from a replaced connection)."""
        if leg.state is LegState.DRAINING:
            self.dropped_server_messages += 1
            return None
        if leg.replayed and isinstance(message, _ACKNOWLEDGED) and message.item.id in leg.replayed:
            return None
        if isinstance(message, SessionCreated):
            leg.session_id = message.session_id
            if leg.state is LegState.OPENING:
                leg.state = LegState.LIVE
                self.changed = True
            if leg.announce is not None:
                return leg.announce(message)
            return message
        if isinstance(message, SessionResumptionUpdate):
            self._resumption_update(leg, message)
            return message
        if isinstance(message, GoAway):
            leg.go_away = message
            self.changed = True
        elif isinstance(message, ResponseCreated):
            self.responses.created(message.response.id)
            self.unanswered_since = None
        elif isinstance(message, ResponseDone):
            self.responses.done(message.response.id)
            self.changed = True
        elif isinstance(message, ResponseOutputItemDone) and isinstance(
            message.item, FunctionCallItem
        ):
            call_id = message.item.call_id
            if call_id is not None:
                self.calls.add(call_id)
                leg.calls.add(call_id)
                leg.calls_after_handle.add(call_id)
        elif isinstance(message, ToolCallCancellation):
            self.calls.difference_update(message.call_ids)
            self.changed = True
        elif isinstance(message, _COMMITTED):
            if isinstance(message, InputAudioBufferCommitted):
                self._keep_spoken(message.item_id)
            self._release_audio()
        if not isinstance(message, _QUIET):
            leg.after_handle += 1
        return message

    def _resumption_update(self, leg: Leg, update: SessionResumptionUpdate) -> None:
        if update.resumable is False or not update.handle:
            leg.after_handle += 1
            return
        leg.handle, leg.after_handle = update.handle, 0
        leg.calls_after_handle.clear()
        index = update.last_consumed_client_message_index
        while leg.unconsumed and (index is None or leg.unconsumed[0][0] <= index):
            leg.unconsumed.popleft()
        self.changed = True

    # --- endings -----------------------------------------------------------------------------

    def closed(self, leg: Leg, error: SessionClosedError) -> bool:
        """``leg`` closed (seen by its reader, or a write that failed). Returns whether the
        session is now over: the current connection is gone and no switch will follow."""
        if leg.state is LegState.CLOSED:
            return False
        was = leg.state
        leg.state, leg.error = LegState.CLOSED, error
        if leg.closed_at is None:
            leg.closed_at = self.clock()
        self.changed = True
        if leg is self.current and was in (LegState.LIVE, LegState.STAYING):
            if was is LegState.LIVE and self.recovers(leg):
                return False  # the supervisor moves the session to a new connection
            return self.end(error)
        return False

    def recovers(self, leg: Leg) -> bool:
        """Whether the session outlives ``leg``'s close: there is a policy, and ``leg`` was
        told to go before it closed or failed in a way the policy retries."""
        policy = self.reconnect
        if policy is None:
            return False
        return leg.go_away is not None or (leg.error is not None and policy.retries(leg.error))

    def end(self, error: Ended) -> bool:
        """The session is over (the first reason wins). Returns ``True``."""
        if self.ended is None:
            self.ended = error
        return True

    # --- switching ---------------------------------------------------------------------------

    def told_to_go(self, leg: Leg) -> bool:
        """A switch away from ``leg`` starts (its ``GoAway``, it reached
        ``max_connection_age``, or it failed and the session recovers). Returns ``False``
        when there is nothing to switch from."""
        if leg is not self.current or self.ended is not None:
            return False
        if leg.state is LegState.LIVE:
            leg.state = LegState.GOING
            return True
        return leg.state is LegState.CLOSED and self.recovers(leg)

    def no_new_connection(self, leg: Leg, reason: ReconnectReason, error: Ended) -> bool:
        """No new connection could be opened for the switch away from ``leg`` (``error``
        is the last attempt's). Returns whether the session is over: it is when ``leg`` is
        gone; else it stays on ``leg``, until ``leg`` closes after a ``GoAway``, or for
        another age after ``max_connection_age``."""
        if leg.state is LegState.CLOSED:
            return self.end(error)
        leg.state = LegState.STAYING if reason == "go_away" else LegState.LIVE
        return False

    def settled(self, leg: Leg) -> bool:
        """Whether ``leg`` can be left without losing or repeating anything: no response
        or call open and, when resuming, a handle with nothing after it."""
        if self.responses or self.calls:
            return False
        return self.resume is None or (leg.handle is not None and leg.after_handle == 0)

    def cut_over(
        self,
        old: Leg,
        codec: Codec,
        reason: ReconnectReason,
        conversation: Iterable[ConversationItem],
        *,
        fresh: bool = False,
    ) -> Cutover:
        """Retire ``old`` and make a new ``OPENING`` leg current. It resumes ``old``'s
        handle unless ``fresh`` (or the provider has no resumption); without a handle it
        gets ``conversation`` replayed, as far as ``codec`` can carry it.

        Calls the new connection does not know (they came after the handle, or they are
        not replayed) are cancelled for the app (``ToolCallCancellation``); their
        outputs are never sent. Unless ``old`` was settled, open responses end with
        ``ResponseDone`` (``incomplete``, reason ``"reconnected"``).
        """
        now = self.clock()
        seamless = old.state is not LegState.CLOSED and self.settled(old)
        if old.closed_at is None:
            old.closed_at = now
        outage_from = old.closed_at
        handle = None if fresh or self.resume is None else old.handle
        if handle is not None:
            resend = tuple(frame for _, frame in old.unconsumed)
            items: tuple[ConversationItemCreate, ...] = ()
            then: tuple[ClientMessage, ...] = ()
            known = old.calls - old.calls_after_handle
        else:
            resend = ()
            items = tuple(replay(conversation, self.calls, codec.check_client, self._spoken))
            then = (*self._held, *self._unsent)
            known = self.calls.intersection(
                c.item.call_id for c in items if isinstance(c.item, FunctionCallItem)
            )
        if old.state is not LegState.CLOSED:
            old.state = LegState.DRAINING
        self._opened += 1
        new = Leg(self._opened, codec, LegState.OPENING, now, calls=set(known))
        new.replayed = frozenset(c.item.id for c in items if c.item.id is not None)
        connection = self.connections + 1
        close_out: list[ServerMessage] = []
        void = sorted(self.calls - known, key=str)
        if void:
            close_out.append(ToolCallCancellation(call_ids=tuple(void)))
            self.calls.difference_update(void)
            self.void_calls.update(void)
        if not seamless:
            details = ResponseStatusDetails(type="incomplete", reason="reconnected")
            close_out += [
                ResponseDone(response=Response(id=id, status="incomplete", status_details=details))
                for id in sorted(self.responses.release_all(), key=str)
            ]
        setup = self._setup(new, handle)
        close_code = None
        if reason == "connection_lost" and old.error is not None:
            close_code = 1006 if old.error.code is None else old.error.code
        clock = self.clock

        def announce(created: SessionCreated) -> Reconnected:
            return Reconnected(
                restored=handle is not None or bool(items),
                seamless=seamless,
                reason=reason,
                connection=connection,
                session=created.session,
                session_id=created.session_id,
                previous_session_id=old.session_id,
                resent=len(resend) + len(then),
                replayed=len(items),
                outage_ms=(clock() - outage_from) * 1000,
                close_code=close_code,
                raw=created.raw,
            )

        new.announce = announce
        self.current = new
        return Cutover(new, setup, handle, resend, items, then, tuple(close_out))

    def _setup(self, leg: Leg, handle: str | None) -> SessionUpdate | None:
        options = self.options
        if self.resume is not None:
            options = self.resume(options or SessionOptions(), handle)
        if options is None:
            return None
        leg.configured = True
        return SessionUpdate(session=options)

    def opened(self, cutover: Cutover) -> None:
        """The new connection answered its setup: count it and what is sent again."""
        self.connections += 1
        self.resent_client_frames += len(cutover.resend) + len(cutover.then)
        self._unsent.clear()

    def opening_failed(self, cutover: Cutover) -> None:
        """The new connection closed, or did not answer its setup in time: retire it."""
        if cutover.new.state is not LegState.CLOSED:
            cutover.new.state = LegState.DRAINING


def no_connection() -> SessionClosedError:
    """The error that ends a session whose switch found no usable connection."""
    return SessionClosedError(
        "the session could not move to a new connection", code=1006, closed_by="network"
    )
