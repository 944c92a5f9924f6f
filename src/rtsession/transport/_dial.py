"""What every WebSocket library's transport shares: parsing the URL, the TCP and TLS dial,
the connection task's lifetime, keepalive settings, and turning library failures into
rtsession errors without leaking credentials."""

from __future__ import annotations

import math
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Final, final

import attrs
import trio

from .._errors import ConnectError, RTSessionError, SessionClosedError
from .._groups import collapse, reraise
from .._redact import Redactor, registered
from ._base import Connection, ConnectRequest

__all__ = [
    "CLOSE_TIMEOUT",
    "ConnectionTask",
    "Target",
    "check_keepalive",
    "keepalive_error",
    "open_stream",
    "parse_target",
    "rejection_error",
    "run_connection",
]

CLOSE_TIMEOUT: Final = 1.0
"""Seconds ``aclose()`` waits for the server's close frame before closing the socket."""

_STATUS_HINTS: Final = {
    401: " (check the API key)",
    403: " (check that the API key has access to this model and endpoint)",
    404: " (check the URL and the model name)",
}
_BODY_LIMIT: Final = 300


@attrs.frozen
class Target:
    """Where to connect, parsed from a request's URL."""

    host: str
    port: int
    resource: str  # path and query, as sent in the request line
    host_header: str
    ssl_context: ssl.SSLContext | None

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_target(request: ConnectRequest) -> Target:
    """Raises ConnectError for a URL that is not a usable ``ws://`` / ``wss://`` URL.

    The messages never quote the URL: its query may hold credentials.
    """
    try:
        parts = urllib.parse.urlsplit(request.url)
        port = parts.port
    except ValueError as exc:
        raise ConnectError(f"invalid WebSocket URL: {exc}") from None
    if parts.scheme not in ("ws", "wss"):
        raise ConnectError(
            f"invalid WebSocket URL: the scheme must be ws or wss, not {parts.scheme!r}"
        )
    if not parts.hostname:
        raise ConnectError("invalid WebSocket URL: it has no host")
    if parts.scheme == "ws" and request.ssl_context is not None:
        raise ConnectError("invalid WebSocket URL: an SSL context was given for a ws:// URL")
    secure = parts.scheme == "wss"
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    return Target(
        host=parts.hostname,
        port=port if port is not None else (443 if secure else 80),
        resource=resource,
        host_header=parts.netloc.rpartition("@")[2],
        ssl_context=(request.ssl_context or ssl.create_default_context()) if secure else None,
    )


def rejection_error(status: int, body: bytes | bytearray, request: ConnectRequest) -> ConnectError:
    """The ConnectError for a handshake the server answered with an HTTP error status; the
    body is shown whitespace-folded, scrubbed and cut to 300 characters."""
    text = request.redactor().text(" ".join(body.decode("utf-8", "replace").split()))
    if len(text) > _BODY_LIMIT:
        text = text[:_BODY_LIMIT] + "..."
    return ConnectError(
        f"{request.service} rejected the connection: HTTP {status}"
        f"{_STATUS_HINTS.get(status, '')}" + (f": {text}" if text else ""),
        status_code=status,
    )


async def open_stream(target: Target, request: ConnectRequest) -> trio.abc.Stream:
    """TCP connect, then the TLS handshake for ``wss://``; errors become ConnectError."""
    try:
        tcp = await trio.open_tcp_stream(target.host, target.port)
    except OSError as exc:
        # trio reports "all attempts failed" and puts each attempt's error in the cause.
        cause = exc.__cause__
        detail = cause.exceptions[0] if isinstance(cause, ExceptionGroup) else exc
        raise ConnectError(
            f"could not connect to {request.service} at {target.address}: {detail}"
        ) from exc
    if target.ssl_context is None:
        return tcp
    tls = trio.SSLStream(
        tcp, target.ssl_context, server_hostname=target.host, https_compatible=True
    )
    try:
        await tls.do_handshake()
    except BaseException as exc:
        with trio.CancelScope(shield=True):
            await tcp.aclose()
        if isinstance(exc, trio.BrokenResourceError):
            raise ConnectError(
                f"TLS handshake with {request.service} at {target.address} failed: "
                f"{exc.__cause__ or exc}"
            ) from exc
        raise
    return tls


HandshakeError = Callable[[BaseException, Target, ConnectRequest], ConnectError]
"""Maps a library's handshake failure to the ConnectError that describes it."""


def _library_failure(
    exc: BaseException,
    started: bool,
    target: Target,
    request: ConnectRequest,
    handshake_error: HandshakeError,
    rejection: type[BaseException],
) -> RTSessionError:
    """The rtsession error for an exception from a WebSocket library.

    Before the handshake completed it is ``handshake_error``'s ConnectError, after it a
    ``SessionClosedError`` with code 1006. The original is chained as the cause, the chain
    cut before the first exception whose text holds a credential (``Redactor.chain``); a
    ``rejection`` (the library's HTTP-status error) is never chained, its message already
    carries the scrubbed body.
    """
    redactor = request.redactor()
    error: RTSessionError
    if started:
        error = SessionClosedError(
            f"the WebSocket connection failed: {redactor.text(repr(exc))}", code=1006
        )
    else:
        error = handshake_error(exc, target, request)
    if not isinstance(exc, rejection):
        error.__cause__ = exc
        redactor.chain(error)
    return error


def check_keepalive(ping_interval: float | None, ping_timeout: float | None) -> None:
    """Raises ValueError unless each is ``None`` or a positive number of seconds."""
    for name, value in (("ping_interval", ping_interval), ("ping_timeout", ping_timeout)):
        if value is not None and not value > 0:
            raise ValueError(f"{name} must be a positive number of seconds or None, not {value}")


def keepalive_error() -> SessionClosedError:
    """The error of a connection whose peer stopped answering pings (as websockets reports
    it: code 1011, reason ``keepalive ping timeout``)."""
    return SessionClosedError(
        "the WebSocket connection is closed: 1011 (keepalive ping timeout)",
        code=1011,
        reason="keepalive ping timeout",
        closed_by="network",
    )


@final
class ConnectionTask:
    """What a transport's connection object shares with the task that runs the library.

    The library's background tasks run in ``scope``, shielded from outside
    cancellation from the start (so ``aclose()`` can still perform the close handshake
    after the session's nursery is cancelled); ``aclose()`` cancels it. The shield is never
    turned on later: a task cancelled mid-checkpoint must not find itself shielded on
    resuming (trio's ``checkpoint_if_cancelled`` asserts on that).

    Attributes:
        redactor: hides the request's credentials in what the server sends back (close
            reasons).
        scope: the library's tasks' cancel scope.
        closing: our close handshake has begun; a library failure after it is ignored.
        failure: why the connection failed after the handshake (a library error, or the
            keepalive), raised by ``send`` / ``receive`` in place of the library's report.
    """

    __slots__ = (
        "_ended",
        "_opened",
        "_ready",
        "_watchers",
        "closing",
        "failure",
        "nursery",
        "redactor",
        "scope",
    )

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.scope = trio.CancelScope(shield=True)
        self.closing = False
        self.failure: SessionClosedError | None = None
        self.nursery: trio.Nursery | None = None
        self._ready = trio.Event()
        self._opened = trio.Event()
        self._ended = trio.Event()
        self._watchers: list[trio.CancelScope] = []

    def handshake_done(self) -> None:
        """The handshake is over: the library's nursery closes once its tasks end."""
        self._opened.set()

    def fail(self, error: SessionClosedError) -> None:
        """The connection is unusable: note why and stop the library's tasks."""
        if self.failure is None:
            self.failure = error
        self.scope.cancel(reason=str(error))

    def cancel_when_ended(self, scope: trio.CancelScope) -> None:
        """Cancel ``scope`` once the library's tasks have all ended (a close handshake
        waits no longer for a peer nobody is reading from)."""
        if self._ended.is_set():
            scope.cancel()
        else:
            self._watchers.append(scope)

    async def host(self) -> None:
        """Run the library's tasks: a nursery inside ``scope``, kept open until the
        handshake is over, then until its tasks end. Started with ``start_soon``, not
        ``start``: a shielded child of a cancelled ``start`` would never exit.
        """
        try:
            with self.scope:
                async with trio.open_nursery() as nursery:
                    self.nursery = nursery
                    self._ready.set()
                    await self._opened.wait()
        except BaseExceptionGroup as group:
            reraise(collapse(group))
        finally:
            self._ended.set()
            for scope in self._watchers:
                scope.cancel()

    async def library_nursery(self) -> trio.Nursery:
        """The nursery for the library's tasks, once ``host`` has opened it."""
        await self._ready.wait()
        assert self.nursery is not None
        return self.nursery


async def run_connection(
    stream: trio.abc.Stream,
    target: Target,
    request: ConnectRequest,
    handshake: Callable[[trio.Nursery, ConnectionTask], Awaitable[Connection]],
    handshake_error: HandshakeError,
    rejection: type[BaseException],
    *,
    task_status: trio.TaskStatus[Connection],
) -> None:
    """One connection's task: runs ``handshake`` (unshielded: outside cancellation stops
    it at once) while the library's tasks start in a ``ConnectionTask``'s nursery;
    reports the connection, then waits for those tasks to end. The stream is closed at the
    end. A library failure after the handshake is not raised here: it closes the
    connection, and ``send`` / ``receive`` raise it as a ``SessionClosedError`` (code 1006).
    While it runs, the WebSocket libraries' log records are scrubbed of the request's
    credentials.

    Raises:
        ConnectError: the handshake failed.
    """
    redactor = request.redactor()
    with registered(redactor):
        task = ConnectionTask(redactor)
        failure: BaseException | None = None
        started = False
        try:
            async with trio.open_nursery() as outer:
                outer.start_soon(task.host, name="rtsession WebSocket library")
                try:
                    library = await task.library_nursery()
                    connection = await handshake(library, task)
                except BaseException:
                    task.scope.cancel(reason="handshake failed or cancelled")
                    raise
                task.handshake_done()
                started = True
                task_status.started(connection)
                if trio.current_effective_deadline() == -math.inf:
                    # The caller's start() was cancelled as the handshake completed: started()
                    # left this task in it and nobody will close the connection. Abort it.
                    task.scope.cancel(reason="connect() was cancelled")
        except BaseExceptionGroup as group:
            failure = collapse(group)
            if isinstance(failure, (trio.Cancelled, KeyboardInterrupt, SystemExit)) or (
                not started and isinstance(failure, RTSessionError)
            ):
                reraise(failure)
        finally:
            with trio.CancelScope(shield=True):
                await stream.aclose()
        if failure is None or task.closing:
            return
        error = _library_failure(failure, started, target, request, handshake_error, rejection)
        if not started:
            # Raised out here, not in the except block, so that the group (whose members may
            # quote the request's headers) does not become the error's __context__.
            raise error
        assert isinstance(error, SessionClosedError)
        task.failure = task.failure or error
