"""What the session's tasks share: the provider, the current options, how it ended."""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, final

import attrs

from .._errors import ClosedBy, ConnectError, SessionClosedError
from .._redact import Redactor
from ..messages import SessionOptions
from ..providers import Provider
from ..transport import ConnectRequest
from ._conversation import Conversation

if TYPE_CHECKING:
    from ._ledger import Ledger

__all__ = ["CloseReason", "SessionMetadata", "SessionState", "SessionStatistics"]


@attrs.frozen(kw_only=True)
class SessionMetadata:
    """What a session is connected to, for ``Session.get_service(SessionMetadata)`` (the
    OpenTelemetry GenAI attributes of the same names).

    Attributes:
        provider_name: ``gen_ai.provider.name``, e.g. ``"openai"``.
        model: ``gen_ai.request.model``, e.g. ``"gpt-realtime"``.
        server_address: ``server.address``, the host dialed.
        server_port: ``server.port``.
    """

    provider_name: str
    model: str
    server_address: str
    server_port: int

    @classmethod
    def of(cls, provider: Provider, request: ConnectRequest) -> SessionMetadata:
        """The metadata of a session of ``provider`` dialed with ``request``."""
        url = urllib.parse.urlsplit(request.url)
        default = 443 if url.scheme in ("wss", "https") else 80
        return cls(
            provider_name=provider.name,
            model=provider.model,
            server_address=url.hostname or "",
            server_port=url.port or default,
        )


@attrs.frozen
class CloseReason:
    """How a session ended (``Session.close_reason``).

    Attributes:
        code: the WebSocket close code (RFC 6455 section 7.4): the peer's, 1000 when the
            app left the session's block, 1006 when the connection ended without a close
            frame, 1011 for a keepalive timeout; ``None`` when a reconnection's handshake
            was refused (``reason`` then says how).
        reason: the close reason, possibly empty.
        closed_by: ``"client"`` (this side), ``"server"`` (the peer's close frame) or
            ``"network"`` (no close frame: reset, lost connection, keepalive timeout).
    """

    code: int | None
    reason: str
    closed_by: ClosedBy

    @property
    def normal(self) -> bool:
        """Whether the end was normal: this side's close, or the peer's code 1000. After an
        abnormal end, ``async for`` raises ``SessionClosedError``."""
        return self.closed_by == "client" or self.code == 1000


@attrs.frozen
class SessionStatistics:
    """Counters of a session (``Session.statistics()``).

    Attributes:
        connections: connections the session has used: 1, plus one per
            ``Reconnected``.
        resent_client_frames: client frames re-sent on a new connection because the old one
            had not consumed them.
        dropped_server_messages: server messages that arrived on an old connection after the
            session had switched to a new one, and were dropped.
        dropped_client_messages: function call outputs not sent because the call was
            cancelled by a switch (the new connection does not know it).
        released_responses: responses ``ResponseGate`` stopped waiting for without their
            ``ResponseDone`` (lost, or superseded by the next response).
    """

    connections: int
    resent_client_frames: int
    dropped_server_messages: int
    dropped_client_messages: int = 0
    released_responses: int = 0


@final
class SessionState:
    """Mutable state shared by the session's tasks (all in one trio thread, so no locks).

    Attributes:
        provider: the provider the session is connected to.
        metadata: what the session dialled (provider name, model, server address and port).
        redactor: hides the credentials of the current connection's request.
        options: the configuration in force, as last reported by ``SessionCreated`` /
            ``SessionUpdated`` (until then, what the app asked for).
        closed: why the session can no longer send, or ``None`` while it can.
        conversation: the conversation as the server confirmed it.
        ledger: the provider end's ledger (connection counters), once it exists.
        released_responses: see ``SessionStatistics``.
    """

    __slots__ = (
        "closed",
        "conversation",
        "ledger",
        "metadata",
        "options",
        "provider",
        "redactor",
        "released_responses",
    )

    def __init__(
        self,
        provider: Provider,
        options: SessionOptions,
        metadata: SessionMetadata,
        redactor: Redactor,
    ) -> None:
        self.provider = provider
        self.metadata = metadata
        self.redactor = redactor
        self.options = options
        self.conversation = Conversation()
        self.closed: SessionClosedError | ConnectError | None = None
        self.ledger: Ledger | None = None
        self.released_responses = 0

    def statistics(self) -> SessionStatistics:
        """The counters as they are now."""
        ledger = self.ledger
        if ledger is None:
            return SessionStatistics(1, 0, 0, 0, self.released_responses)
        return SessionStatistics(
            ledger.connections,
            ledger.resent_client_frames,
            ledger.dropped_server_messages,
            ledger.dropped_client_messages,
            self.released_responses,
        )

    def mark_closed(self, error: SessionClosedError | ConnectError) -> None:
        """Record why the session closed; the first reason wins."""
        if self.closed is None:
            self.closed = error

    def close_reason(self) -> CloseReason | None:
        closed = self.closed
        if closed is None:
            return None
        if isinstance(closed, ConnectError):
            return CloseReason(None, str(closed), "network")
        return CloseReason(closed.code, closed.reason, closed.closed_by)

    def closed_error(self) -> SessionClosedError | ConnectError:
        """A fresh exception to raise for a send after the close (one per raise, so
        tracebacks do not pile up on a shared instance)."""
        closed = self.closed
        if closed is None:
            return SessionClosedError("the session is closed")
        if isinstance(closed, ConnectError):
            return ConnectError(str(closed), status_code=closed.status_code)
        return SessionClosedError(
            str(closed), code=closed.code, reason=closed.reason, closed_by=closed.closed_by
        )
