"""The exceptions rtsession raises.

Every error that leaves the library is an ``RTSessionError``; the transport layer maps the
WebSocket library's exceptions to these at its edge, so callers never see trio-websocket or
wsproto types.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

__all__ = [
    "ClosedBy",
    "ConnectError",
    "DecodeError",
    "EncodeError",
    "NotInTrioError",
    "RTSessionError",
    "SessionClosedError",
]


ClosedBy: TypeAlias = Literal["client", "server", "network"]
"""Who ended a connection: ``"client"`` (this side: the app left the session's block, or the
transport gave up, e.g. on a message too big), ``"server"`` (the peer's close frame) or
``"network"`` (no close frame: a reset, a lost connection, a keepalive timeout)."""


class RTSessionError(Exception):
    """Base class of every exception rtsession raises."""


class ConnectError(RTSessionError):
    """The connection to the provider could not be opened.

    Raised by ``open_session`` when the TCP connection is refused, the TLS handshake fails, the
    URL is invalid, or the server rejects the WebSocket handshake.

    Attributes:
        status_code: the HTTP status of a rejected handshake (e.g. 401, 403, 404), else ``None``.
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class SessionClosedError(RTSessionError):
    """The session's connection is closed; nothing more can be sent.

    Attributes:
        code: the WebSocket close code (RFC 6455 section 7.4), or ``None`` when the connection
            ended without a close frame.
        reason: the close reason, possibly empty.
        closed_by: who ended the connection (``ClosedBy``); by default ``"network"``
            for code 1006 or none, else ``"server"``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        reason: str = "",
        closed_by: ClosedBy | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.closed_by: ClosedBy = closed_by or ("network" if code in (None, 1006) else "server")


class EncodeError(RTSessionError, ValueError):
    """A client message cannot be expressed in the provider's wire format.

    Raised by a codec's ``encode_client`` and by ``Session.send`` before anything reaches the
    socket, e.g. for a message type the format does not carry or a setting the provider lacks.
    """


class DecodeError(RTSessionError, ValueError):
    """A client frame is not a valid event of the wire format.

    Raised by a codec's ``decode_client`` (the server direction, used by ``rtsession.local``);
    the attributes carry what the service's ``error`` event reports.

    Attributes:
        code: a short machine-readable code, e.g. ``"invalid_json"``, ``"unknown_event"``,
            ``"missing_required_parameter"``, ``"invalid_type"``.
        param: the dotted path of the offending field (e.g. ``"item.content[0].text"``), or
            ``None``.
        event_id: the ``event_id`` of the offending client event when it could be read.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        param: str | None = None,
        event_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.param = param
        self.event_id = event_id


class NotInTrioError(RTSessionError, RuntimeError):
    """An rtsession entry point was called outside a trio run (the app's mistake), e.g. from
    asyncio. rtsession is a trio library: run the program with ``trio.run(main)``; from an
    asyncio program, run the trio part in a thread with its own ``trio.run``, or through
    ``trio-asyncio``."""


class ToolInvocationError(RTSessionError):
    """The app's tools failed too many times in a row (``FunctionInvocation``'s
    ``max_consecutive_errors``): the session ends with this error, raised from
    ``open_session``, its ``__cause__`` the last exception a tool raised (if one did).

    Attributes:
        failures: the consecutive model round trips whose calls failed.
    """

    def __init__(self, message: str, *, failures: int) -> None:
        super().__init__(message)
        self.failures = failures
