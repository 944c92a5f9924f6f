"""A transport on ``websockets.trio`` (websockets >= 17), the alternative to trio-websocket."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

import trio

from .._errors import ConnectError, SessionClosedError
from .._redact import Redactor
from ._base import Connection, ConnectRequest
from ._dial import (
    CLOSE_TIMEOUT,
    ConnectionTask,
    Target,
    check_keepalive,
    keepalive_error,
    open_stream,
    parse_target,
    rejection_error,
    run_connection,
)

if TYPE_CHECKING:
    from websockets.exceptions import ConnectionClosed
    from websockets.trio.client import ClientConnection

__all__ = ["WebsocketsTrioTransport"]

_INSTALL_HINT: Final = "pip install '.[websockets]' in a checkout (websockets >= 17)"

_MAX_QUEUE: Final = 16
"""Frames websockets buffers ahead of ``receive`` before it stops reading the socket (its
default high-water mark)."""


def _require_websockets() -> None:
    """Raise ModuleNotFoundError, with the install hint, unless ``websockets.trio`` imports."""
    try:
        import websockets.trio.client  # noqa: F401
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"WebsocketsTrioTransport needs websockets.trio: {_INSTALL_HINT}", name=exc.name
        ) from exc


def _close_name(code: int) -> str:
    from websockets.frames import CloseCode

    try:
        return CloseCode(code).name
    except ValueError:
        return "PRIVATE_RESERVED" if 4000 <= code < 5000 else "UNKNOWN"


def _closed_error(exc: ConnectionClosed, redactor: Redactor) -> SessionClosedError:
    """The error for a closed connection: the close frame of whoever closed first (like
    trio-websocket's ``CloseReason``), or 1006 when the connection ended without one."""
    rcvd, sent = exc.rcvd, exc.sent
    close = rcvd if rcvd is not None and (sent is None or exc.rcvd_then_sent) else sent
    if close is None:
        return SessionClosedError(
            "the WebSocket connection is closed: 1006 ABNORMAL_CLOSURE", code=1006
        )
    if close is sent and close.code == 1011 and close.reason == "keepalive ping timeout":
        return keepalive_error()
    reason = redactor.text(close.reason)
    detail = f" ({reason})" if reason else ""
    return SessionClosedError(
        f"the WebSocket connection is closed: {close.code} {_close_name(close.code)}{detail}",
        code=close.code,
        reason=reason,
        closed_by="server" if close is rcvd else "client",
    )


@final
class _WebsocketsConnection:
    """A ``Connection`` over a ``websockets.trio`` client connection."""

    def __init__(self, ws: ClientConnection, task: ConnectionTask) -> None:
        self._ws = ws
        self._task = task
        self._closed = False

    def _after_close(self) -> SessionClosedError:
        """The error for a call after ``aclose()`` (messages still buffered are dropped, as
        trio-websocket does)."""
        from websockets.exceptions import ConnectionClosed

        protocol = self._ws.protocol
        return _closed_error(
            ConnectionClosed(
                protocol.close_rcvd, protocol.close_sent, protocol.close_rcvd_then_sent
            ),
            self._task.redactor,
        )

    async def send(self, frame: str | bytes) -> None:
        from websockets.exceptions import ConnectionClosed

        if self._closed:
            await trio.lowlevel.checkpoint()
            raise self._after_close()
        try:
            await self._ws.send(frame)
        except ConnectionClosed as exc:
            await trio.lowlevel.cancel_shielded_checkpoint()
            raise self._task.failure or _closed_error(exc, self._task.redactor) from None

    async def receive(self) -> str | bytes:
        from websockets.exceptions import ConnectionClosed

        if self._closed:
            await trio.lowlevel.checkpoint()
            raise self._after_close()
        try:
            return await self._ws.recv()
        except ConnectionClosed as exc:
            await trio.lowlevel.cancel_shielded_checkpoint()
            raise self._task.failure or _closed_error(exc, self._task.redactor) from None

    async def aclose(self) -> None:
        self._closed = True
        self._task.closing = True
        # websockets' aclose sends the close frame and waits for the server's (bounded by its
        # own close_timeout, the same CLOSE_TIMEOUT), then closes the socket.
        with trio.move_on_after(CLOSE_TIMEOUT, shield=True) as waiting:
            self._task.cancel_when_ended(waiting)
            await self._ws.aclose()
        self._task.scope.cancel(reason="WebSocket closed")
        await trio.lowlevel.checkpoint()


def _handshake_error(exc: BaseException, target: Target, request: ConnectRequest) -> ConnectError:
    """The ConnectError for a failed opening handshake (websockets raises it from
    ``handshake()``)."""
    from websockets.exceptions import InvalidMessage, InvalidStatus

    if isinstance(exc, InvalidStatus):
        return rejection_error(exc.response.status_code, exc.response.body, request)
    prefix = f"the WebSocket handshake with {request.service} at {target.address} failed: "
    if isinstance(exc, InvalidMessage) and isinstance(exc.__cause__, EOFError):
        return ConnectError(prefix + "the connection ended before the server answered")
    detail = str(exc) or type(exc).__name__
    if exc.__cause__ is not None:
        detail += f" ({exc.__cause__})"
    return ConnectError(prefix + request.redactor().text(detail))


@final
class WebsocketsTrioTransport:
    """A ``Transport`` built on ``websockets.trio`` (websockets >= 17), which parses and
    frames in its C-accelerated sans-I/O core: about half trio-websocket's client CPU per
    received message (``docs/benchmarks/``).

    ::

        async with open_session(provider, options, transport=WebsocketsTrioTransport()) as s:
            ...

    Behaves like ``TrioWebsocketTransport``: the same errors (``ConnectError`` with
    ``status_code`` for a rejected handshake, ``SessionClosedError`` with the close code and
    reason), the same bounded close (``aclose()`` waits at most ``CLOSE_TIMEOUT`` seconds
    for the server's close frame), the same keepalive (websockets' own: a peer that misses
    a pong ends the connection with code 1011, ``keepalive ping timeout``), no
    permessage-deflate and no ``User-Agent`` header. The reader task runs in a nursery of
    its own inside one task of the caller's nursery, shielded until ``aclose()`` cancels
    it. It
    buffers up to 16 received messages ahead of ``receive``. ``max_message_size`` counts
    bytes of the payload (UTF-8 for text frames), where trio-websocket counts characters.

    Args:
        ping_interval: seconds between pings; ``None`` sends none.
        ping_timeout: seconds to wait for the pong; ``None`` waits for ever.

    Raises:
        ModuleNotFoundError: websockets >= 17 is not installed
            (``pip install '.[websockets]' in a checkout``).
        ValueError: ``ping_interval`` or ``ping_timeout`` is not positive.
    """

    def __init__(
        self, *, ping_interval: float | None = 20.0, ping_timeout: float | None = 20.0
    ) -> None:
        check_keepalive(ping_interval, ping_timeout)
        _require_websockets()
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout

    async def connect(self, nursery: trio.Nursery, request: ConnectRequest) -> Connection:
        """Open a connection; see ``Transport.connect``.

        Raises:
            ConnectError: the connection could not be opened.
        """
        connection: Connection = await nursery.start(self._run, request)
        return connection

    async def _run(
        self, request: ConnectRequest, *, task_status: trio.TaskStatus[Connection]
    ) -> None:
        from websockets.client import ClientProtocol
        from websockets.exceptions import InvalidStatus
        from websockets.trio.client import ClientConnection
        from websockets.uri import WebSocketURI

        target = parse_target(request)
        path, _, query = target.resource.partition("?")
        uri = WebSocketURI(
            secure=target.ssl_context is not None,
            host=target.host,
            port=target.port,
            path=path,
            query=query,
        )
        stream = await open_stream(target, request)

        async def handshake(nursery: trio.Nursery, task: ConnectionTask) -> Connection:
            protocol = ClientProtocol(
                uri,
                max_size=request.max_message_size,
            )
            ws = ClientConnection(
                nursery,
                stream,
                protocol,
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_timeout,
                close_timeout=CLOSE_TIMEOUT,
                max_queue=_MAX_QUEUE,
            )
            await ws.handshake(list(request.headers), user_agent_header=None)
            ws.start_keepalive()  # what websockets' connect() does after the handshake
            return _WebsocketsConnection(ws, task)

        await run_connection(
            stream,
            target,
            request,
            handshake,
            _handshake_error,
            InvalidStatus,
            task_status=task_status,
        )
