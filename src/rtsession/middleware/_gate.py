"""``ResponseGate``: one active response at a time, so ``response.create`` never collides."""

from __future__ import annotations

import collections
import itertools
import logging
from collections.abc import Sequence
from functools import partial
from typing import Final, final

import attrs
import trio

from ..messages import (
    ClientMessage,
    Error,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
    ServerMessage,
)
from ..session import OpenResponses
from ..session._fused import FusedLink, FusedRelay, RelayMaker

__all__ = ["ACTIVE_RESPONSE_ERROR", "ResponseGate"]

ACTIVE_RESPONSE_ERROR: Final = "conversation_already_has_active_response"
"""The OpenAI ``error.code`` for a ``response.create`` sent while a response is in progress."""

_logger = logging.getLogger("rtsession.middleware")

_WATCHED: Final = frozenset({ResponseCreated, ResponseDone, Error})
"""The server messages that change what the gate lets through."""


@final
class ResponseGate:
    """A stage that lets one conversation response be in progress at a time.

    OpenAI rejects a ``response.create`` sent while a response is in progress with the error
    ``conversation_already_has_active_response``; an app, a tool loop and server VAD (which
    starts responses by itself) easily race into it. The gate holds such requests instead.

    Policy:

    - **Active** means a response is open by the rule of
      ``OpenResponses`` (from its ``ResponseCreated`` to its
      ``ResponseDone``, or until the next conversation response supersedes it), whoever asked
      for it (the app, a stage, or server VAD with ``create_response``), or a
      ``ResponseCreate`` the gate sent has not been answered yet.
    - A ``ResponseCreate`` arriving while a response is active is held, and sent once none
      is. Held requests go out first in, first out, one response each; each waits for the
      previous one to end.
    - If the server still rejects a request the gate sent with
      ``conversation_already_has_active_response`` (server VAD started a response while the
      request was on the wire), the gate puts it back at the head of the queue and does not
      pass the error on: it is retried after that response ends. To match errors to
      requests, the gate gives each request without a ``message_id`` one (``gate-<n>``;
      OpenAI echoes it as ``Error.client_message_id``). Any other error about a request it
      sent releases the gate and is passed on.
    - Out-of-band requests (``conversation="none"``) are never held: OpenAI runs them beside
      the conversation's response. Their responses do count as active (held requests wait
      for them too).
    - **Never for ever.** A response whose ``ResponseDone`` was lost ends when the next
      conversation response starts (superseded), when the session moves to a new
      connection (it then delivers a ``ResponseDone``), or, while requests are held, after
      ``stale_after`` seconds without any server message (counted from the later of the
      last server message and the moment a request was held). Each response released without
      its ``ResponseDone`` is counted in ``Session.statistics().released_responses`` and
      logged as a warning.
    - Held requests are dropped when the session closes.

    Everything else passes unchanged. ``FunctionInvocation`` includes a gate by default.

    Args:
        stale_after: seconds of server silence after which held requests stop waiting for
            an active response; ``None`` waits for its end however long it takes.

    Raises:
        ValueError: ``stale_after`` is not positive.
    """

    def __init__(self, *, stale_after: float | None = 60.0) -> None:
        if stale_after is not None and not stale_after > 0:
            raise ValueError(f"stale_after must be positive or None, not {stale_after}")
        self._stale_after = stale_after

    def fuse(self) -> Sequence[RelayMaker]:
        """One gate per session (``FusedStage``); held requests are dropped when the session
        closes."""
        return (partial(_Gate, self._stale_after),)


class _Gate(FusedRelay):
    """One session's gate state."""

    def __init__(self, stale_after: float | None, link: FusedLink) -> None:
        super().__init__(link)
        self._stale_after = stale_after
        self._held: collections.deque[ResponseCreate] = collections.deque()
        self._open = OpenResponses()
        self._sent: ResponseCreate | None = None  # the last request sent, until its end
        self._awaiting = False  # the last request sent has no ResponseCreated yet
        self._quiet_since = trio.current_time()
        self._watching = False
        self._ids = itertools.count(1)

    def client_message(self, message: ClientMessage) -> ClientMessage | None:
        if not isinstance(message, ResponseCreate):
            return message
        if message.conversation == "none":
            self._open.requested_out_of_band()
            return message
        if message.message_id is None:
            message = attrs.evolve(message, message_id=f"gate-{next(self._ids)}")
        if not self._held:
            self._quiet_since = trio.current_time()  # silence counts while requests wait
        self._held.append(message)
        self._release()
        return None

    def server_message(self, message: ServerMessage) -> ServerMessage | None:
        if self._held:
            self._quiet_since = trio.current_time()
        if type(message) not in _WATCHED:  # nothing the gate decides on: no check either
            return message
        if isinstance(message, ResponseCreated):
            self._released(self._open.created(message.response.id), "superseded by the next")
            self._awaiting = False
        elif isinstance(message, ResponseDone):
            self._open.done(message.response.id)
            self._sent = None
        elif (
            isinstance(message, Error)
            and self._sent is not None
            and message.client_message_id == self._sent.message_id
        ):
            sent, self._sent, self._awaiting = self._sent, None, False
            if message.code == ACTIVE_RESPONSE_ERROR:
                _logger.debug(
                    "response.create %s collided; it waits for the next response.done",
                    sent.message_id,
                )
                self._quiet_since = trio.current_time()
                self._held.appendleft(sent)
                return None
        self._release()
        return message

    def _released(self, ids: tuple[str | None, ...], why: str) -> None:
        if not ids:
            return
        _logger.warning(
            "response(s) %s ended without response.done (%s); the gate goes on",
            ", ".join(str(id) for id in ids),
            why,
        )
        self.link.context.count_released_responses(len(ids))

    def _release(self) -> None:
        """Send the next held request if no response is active (check and send are one step:
        no await between them, so the two directions cannot both send)."""
        if not self._held:
            return
        if self._open or self._awaiting:
            if self._stale_after is not None and not self._watching:
                self._watching = True
                self.link.nursery.start_soon(self._watch, self._stale_after)
            return
        self._sent = self._held.popleft()
        self._awaiting = True
        self.link.to_provider(self._sent)

    async def _watch(self, stale_after: float) -> None:
        """While requests are held behind an active response: once the server has been
        silent for ``stale_after`` seconds, stop waiting for that response."""
        try:
            while self._held and (self._open or self._awaiting):
                deadline = self._quiet_since + stale_after
                if trio.current_time() < deadline:
                    await trio.sleep_until(deadline)
                    continue
                await self.link.run_sync(self._expire, stale_after)
        finally:
            self._watching = False

    def _expire(self, stale_after: float) -> None:
        """Stop waiting for the active response(s), and send the next held request."""
        released = self._open.release_all()
        if self._awaiting:
            released += (None if self._sent is None else self._sent.message_id,)
        self._released(released, f"no server message for {stale_after:g} s")
        self._awaiting, self._sent = False, None
        self._release()
