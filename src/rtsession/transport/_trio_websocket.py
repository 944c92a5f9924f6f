"""The default transport, on trio-websocket (and wsproto under it)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final, cast, final

import trio
import trio_websocket

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

__all__ = ["TrioWebsocketTransport"]

_RECEIVE_BUFFER_SIZE: Final = 65536
"""Bytes per socket read: 64 KiB, against trio-websocket's 4 KiB default, so a multi-KB
audio delta takes one read, not several (``docs/benchmarks/METHOD.md``)."""


def _closed_error(
    reason: trio_websocket.CloseReason | None, redactor: Redactor
) -> SessionClosedError:
    if reason is None:
        return SessionClosedError("the WebSocket connection is closed")
    text = redactor.text(reason.reason or "")
    detail = f" ({text})" if text else ""
    return SessionClosedError(
        f"the WebSocket connection is closed: {reason.code} {reason.name}{detail}",
        code=reason.code,
        reason=text,
    )


@final
class _WatchedStream(trio.abc.Stream):
    """A stream that reports when it dies while the opening handshake is in progress.

    trio-websocket 0.12 waits forever for the handshake when the connection ends before the
    server's answer (server hangs up, TLS or protocol failure inside its reader task). This
    wrapper calls ``on_lost`` in that case so the caller can stop waiting. After the
    handshake ``on_lost`` is ``None`` and it only forwards (one extra await per socket call).
    """

    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream
        self.on_lost: Callable[[], object] | None = None

    def _lost(self) -> None:
        if self.on_lost is not None:
            self.on_lost()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        try:
            await self._stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._lost()
            raise

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        try:
            data = await self._stream.receive_some(max_bytes)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._lost()
            raise
        if not data:
            self._lost()
        return data

    async def aclose(self) -> None:
        await self._stream.aclose()


@final
class _TrioWebsocketConnection:
    """A ``Connection`` over a ``trio_websocket.WebSocketConnection``."""

    def __init__(self, ws: trio_websocket.WebSocketConnection, task: ConnectionTask):
        self._ws = ws
        self._task = task

    def _error(self, exc: trio_websocket.ConnectionClosed) -> SessionClosedError:
        return self._task.failure or _closed_error(exc.reason, self._task.redactor)

    async def send(self, frame: str | bytes) -> None:
        try:
            await self._ws.send_message(frame)
        except trio_websocket.ConnectionClosed as exc:
            await trio.lowlevel.cancel_shielded_checkpoint()
            raise self._error(exc) from None

    async def receive(self) -> str | bytes:
        try:
            return await self._ws.get_message()
        except trio_websocket.ConnectionClosed as exc:
            await trio.lowlevel.cancel_shielded_checkpoint()
            raise self._error(exc) from None

    async def aclose(self) -> None:
        # trio-websocket's aclose sends the close frame and waits for the answer; cancelled by
        # the deadline, or because its reader is gone (nothing will read the answer), it
        # closes the socket in its ``finally`` (the forced close).
        self._task.closing = True
        with trio.move_on_after(CLOSE_TIMEOUT, shield=True) as waiting:
            self._task.cancel_when_ended(waiting)
            await self._ws.aclose()
        self._task.scope.cancel(reason="WebSocket closed")
        await trio.lowlevel.checkpoint()


async def _keepalive(
    ws: trio_websocket.WebSocketConnection,
    task: ConnectionTask,
    interval: float,
    pong_within: float | None,
) -> None:
    """Ping every ``interval`` seconds; a pong later than ``pong_within`` seconds fails the
    connection (code 1011, ``keepalive ping timeout``). Ends when the connection closes."""
    while True:
        await trio.sleep(interval)
        with trio.move_on_after(math.inf if pong_within is None else pong_within) as waiting:
            try:
                await ws.ping()
            except trio_websocket.ConnectionClosed:
                return
        if waiting.cancelled_caught:
            task.fail(keepalive_error())
            return


def _handshake_error(exc: BaseException, target: Target, request: ConnectRequest) -> ConnectError:
    """The ConnectError for a failure inside trio-websocket's reader during the handshake."""
    if isinstance(exc, trio_websocket.ConnectionRejected):
        return rejection_error(exc.status_code, exc.body or b"", request)
    return ConnectError(
        f"the WebSocket handshake with {request.service} at {target.address} failed: "
        + request.redactor().text(str(exc) or type(exc).__name__)
    )


async def _handshake(
    nursery: trio.Nursery, stream: _WatchedStream, target: Target, request: ConnectRequest
) -> trio_websocket.WebSocketConnection:
    """Run the opening handshake; trio-websocket's reader task starts in ``nursery``."""
    with trio.CancelScope() as lost_scope:
        stream.on_lost = lost_scope.cancel
        ws = await trio_websocket.wrap_client_stream(
            nursery,
            cast("trio.SocketStream", stream),  # it wraps any trio Stream; the hint is narrower
            target.host_header,
            target.resource,
            extra_headers=[(name.encode(), value.encode()) for name, value in request.headers],
            max_message_size=request.max_message_size,
            receive_buffer_size=_RECEIVE_BUFFER_SIZE,
        )
    stream.on_lost = None
    if lost_scope.cancelled_caught:
        raise ConnectError(
            f"the WebSocket handshake with {request.service} at {target.address} failed: "
            "the connection ended before the server answered"
        )
    return ws


@final
class TrioWebsocketTransport:
    """The default ``Transport``, built on trio-websocket.

    Each connection runs trio-websocket's reader task (and the keepalive) in a nursery of
    its own inside one task of the caller's nursery, shielded from outside cancellation, so
    the reader keeps serving the socket while ``aclose()`` performs the close handshake;
    ``aclose()`` then cancels it. Socket reads are 64 KiB.

    Keepalive: every ``ping_interval`` seconds a ping (RFC 6455 section 5.5.2); a peer that
    does not answer within ``ping_timeout`` seconds ends the connection, and ``send`` /
    ``receive`` raise ``SessionClosedError`` with code 1011 and reason ``keepalive ping
    timeout``. The defaults are websockets'.

    Args:
        ping_interval: seconds between pings; ``None`` sends none.
        ping_timeout: seconds to wait for the pong; ``None`` waits for ever.

    Raises:
        ValueError: ``ping_interval`` or ``ping_timeout`` is not positive.
    """

    def __init__(
        self, *, ping_interval: float | None = 20.0, ping_timeout: float | None = 20.0
    ) -> None:
        check_keepalive(ping_interval, ping_timeout)
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
        target = parse_target(request)
        stream = _WatchedStream(await open_stream(target, request))

        async def handshake(nursery: trio.Nursery, task: ConnectionTask) -> Connection:
            ws = await _handshake(nursery, stream, target, request)
            if self._ping_interval is not None:
                nursery.start_soon(
                    _keepalive, ws, task, self._ping_interval, self._ping_timeout,
                    name="rtsession keepalive",
                )  # fmt: skip
            return _TrioWebsocketConnection(ws, task)

        await run_connection(
            stream,
            target,
            request,
            handshake,
            _handshake_error,
            trio_websocket.ConnectionRejected,
            task_status=task_status,
        )
