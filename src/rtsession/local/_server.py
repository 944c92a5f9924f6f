"""The local server: a WebSocket server on loopback that speaks the realtime APIs from the
server side (``serve_local``, ``open_local_server``)."""

from __future__ import annotations

import itertools
import logging
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Final, NoReturn

import attrs
import trio
import trio_websocket

from .._groups import collapse, reraise
from .._runtime import require_trio
from ._connection import OpenConnections, serve_connection
from ._ids import IdFactory
from ._routing import DEFAULT_ROUTES, Rejection, Route, resolve
from ._session import ServerSession
from ._speech import SpeechEngines, default_engines
from ._store import SessionStore
from ._worker import SpeechWorker, open_speech_worker

__all__ = ["LocalServer", "open_local_server", "serve_local"]

logger = logging.getLogger("rtsession.local")

MAX_MESSAGE_SIZE: Final = 16 * 1024 * 1024
"""The largest client frame accepted, in characters (about 4 minutes of base64 24 kHz PCM16)."""
HANDSHAKE_TIMEOUT: Final = 10.0
"""Seconds a client has to complete its opening handshake (TLS and WebSocket)."""
CLOSE_TIMEOUT: Final = 5.0
"""Seconds the server waits for a client's close frame after sending its own."""
SESSION_SECONDS: Final = 3600
"""The session lifetime reported in ``expires_at`` (the service's 60 minutes; not enforced)."""


@attrs.frozen
class LocalServer:
    """Where a running local server listens, and the controls tests use.

    Attributes:
        host: the address it is bound to, e.g. ``"127.0.0.1"``.
        port: the TCP port (the one the system picked when started with port 0).
        tls: it serves ``wss://`` (started with an ``ssl_context``).
    """

    host: str
    port: int
    tls: bool = False
    _connections: OpenConnections = attrs.field(factory=OpenConnections, eq=False, repr=False)

    @property
    def url(self) -> str:
        """The WebSocket root, ``ws://HOST:PORT`` (``wss://`` with TLS): pass it as
        ``base_url`` to ``GeminiLive`` or ``VertexGeminiLive``."""
        return f"{'wss' if self.tls else 'ws'}://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The REST-style base URL clients take, ``http://HOST:PORT/v1`` (``https://`` with
        TLS): pass it as ``base_url`` to ``OpenAIRealtime`` or to the official SDK's
        ``AsyncOpenAI``."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}/v1"

    @property
    def websocket_base_url(self) -> str:
        """``ws://HOST:PORT/v1`` (``wss://`` with TLS), for the official SDK's
        ``websocket_base_url``."""
        return f"{self.url}/v1"

    async def send_go_away(self, time_left_ms: int = 1000) -> int:
        """Tell every open connection that the server is going away, as Gemini's ``goAway``
        does, and close each ``time_left_ms`` later (code 1001).

        A Gemini Live session that asked for resumption first gets a fresh
        ``sessionResumptionUpdate`` (with a handle when it can be resumed), then
        ``goAway {timeLeft}``; dialects without such a message get nothing before the close.

        Returns:
            How many connections were told.
        """
        await trio.lowlevel.checkpoint()
        return self._connections.act(lambda session: session.go_away(time_left_ms))

    async def close_connections(
        self, code: int = 1011, reason: str = "closed by the local server"
    ) -> int:
        """Close every open connection now with ``code`` and ``reason``, without notice: a
        failure on purpose, to exercise an app's handling of a dropped session offline
        (``rtsession serve --close-every``). New connections are accepted as before.

        Args:
            code: a close code a server may send (RFC 6455 section 7.4): 1000-1003,
                1007-1014, or 3000-4999; e.g. 1011 (internal error), 1012 (service restart),
                1013 (try again later).
            reason: the close reason, at most 123 bytes of UTF-8.

        Returns:
            How many connections were closed.

        Raises:
            ValueError: ``code`` cannot be sent in a close frame, or ``reason`` is too long.
        """
        check_close(code, reason)
        await trio.lowlevel.checkpoint()
        return self._connections.act(lambda session: session.close(code, reason))


def check_close(code: int, reason: str) -> None:
    """Raises ValueError unless a server may send ``code`` and ``reason`` in a close frame
    (RFC 6455 sections 5.5.1 and 7.4)."""
    if not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
        raise ValueError(f"close code {code} cannot be sent: use 1000-1003, 1007-1014 or 3000-4999")
    if len(reason.encode()) > 123:
        raise ValueError("the close reason is longer than 123 bytes of UTF-8")


_CLIENT_FAILURES: Final = (
    trio_websocket.ConnectionClosed,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    OSError,
)
"""What a client's behaviour can raise in a connection's tasks (a reset, a TLS failure, a
write to a closed socket, a protocol error trio-websocket answers on a dead socket)."""


class _Handler:
    """Accepts or refuses each handshake, then serves the connection."""

    def __init__(
        self,
        worker: SpeechWorker,
        engines: SpeechEngines,
        routes: Sequence[Route],
        connections: OpenConnections,
    ) -> None:
        self._worker = worker
        self._engines = engines
        self._routes = routes
        self._connections = connections
        self._store = SessionStore()
        self._numbers = itertools.count(1)

    async def serve_stream(self, stream: trio.abc.Stream) -> None:
        """Serve one client connection from its first byte. Whatever the client does (a
        reset during the handshake, garbage, TLS that fails, a socket left half-open) ends
        this connection only, logged at INFO; never the server or another connection."""
        try:
            async with trio.open_nursery() as nursery:
                with trio.move_on_after(HANDSHAKE_TIMEOUT) as waited:
                    request = await trio_websocket.wrap_server_stream(
                        nursery, stream, max_message_size=MAX_MESSAGE_SIZE
                    )
                if waited.cancelled_caught:
                    logger.info("a client sent no handshake within %s s", HANDSHAKE_TIMEOUT)
                else:
                    await self._handle(request)
                nursery.cancel_scope.cancel(reason="connection served")
        except* _CLIENT_FAILURES as group:
            logger.info("a client connection ended abnormally: %r", group.exceptions[0])
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)

    async def _handle(self, request: trio_websocket.WebSocketRequest) -> None:
        match = resolve(self._routes, request.path, request.headers)
        if isinstance(match, Rejection):
            logger.info("refused %s with %d: %s", request.path, match.status, match.reason.strip())
            await request.reject(
                match.status,
                extra_headers=[(b"content-type", b"text/plain; charset=utf-8")],
                body=match.reason.encode(),
            )
            return
        number = next(self._numbers)
        dialect = match.dialect
        session = ServerSession(
            options=dialect.session_defaults(match.query),
            vad_factory=self._engines.vad_factory,
            ids=IdFactory(number),
            rules=dialect.rules,
            expires_at=int(time.time()) + SESSION_SECONDS,
            store=self._store,
        )
        # Browsers authenticate to OpenAI with the subprotocols ``realtime`` and
        # ``openai-insecure-api-key.<key>``; the service selects ``realtime``, and a client
        # that offered it aborts a handshake that selects nothing. Any key is accepted.
        offered = request.proposed_subprotocols
        ws = await request.accept(subprotocol="realtime" if "realtime" in offered else None)
        logger.debug("connection %d: %s (%s)", number, request.path, dialect.name)
        try:
            await serve_connection(
                ws, dialect.make_codec(), session, self._worker, dialect.adapt, self._connections
            )
        except _CLIENT_FAILURES:
            raise
        except Exception:
            # One broken connection must not take the server down with it.
            logger.exception("connection %d failed", number)
            with trio.move_on_after(1, shield=True):
                await ws.aclose(1011, "internal server error")
        with trio.move_on_after(CLOSE_TIMEOUT):
            await ws.aclose()


async def serve_local(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    engines: SpeechEngines | None = None,
    speech_processes: int = 1,
    ssl_context: ssl.SSLContext | None = None,
    task_status: trio.TaskStatus[LocalServer] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Run the local server until cancelled; start it with ``await nursery.start(serve_local)``.

    It serves the OpenAI Realtime GA dialect at ``/v1/realtime?model=...`` (and the Azure GA
    path ``/openai/v1/realtime``), the beta dialect at ``/v1/realtime`` with an
    ``OpenAI-Beta: realtime=v1`` header and at the Azure preview path ``/openai/realtime``,
    Gemini Live at its paths (``/ws/google.ai.generativelanguage.v1beta.GenerativeService.
    BidiGenerateContent`` and the others of ``docs/local-server.md``), answers other
    ``OpenAI-Beta`` values with HTTP 400 and other paths with HTTP 404, and accepts any API
    key or token. Each connection gets its own session, conversation and turn detector;
    speech-to-text and text-to-speech run in ``speech_processes`` worker processes shared by
    all connections, so they never stall the event loop. Behaviour and reply rules:
    ``docs/local-server.md``.

    Args:
        host: the address to bind; the default keeps the server on loopback.
        port: the TCP port; 0 lets the system pick a free one.
        engines: the speech engines; ``None`` means the real ones
            (``default_engines``, needs the ``local`` extra);
            ``protocol_only_engines`` does no speech work (benchmarks,
            protocol tests).
        speech_processes: worker processes for the real engines (ignored by engines that run
            inline).
        ssl_context: serve ``wss://`` with this server-side TLS context (the official
            ``google-genai`` SDK dials nothing else; ``docs/local-server.md`` shows a
            throwaway certificate made with ``trustme``); ``None``: plain ``ws://``.
        task_status: reports the ``LocalServer`` once it accepts connections, after the
            speech models are loaded.

    Raises:
        SpeechEngineUnavailableError: ``engines`` is ``None`` and the real engines' packages
            are missing.
        OSError: the address cannot be bound (e.g. the port is in use).
    """
    require_trio("serve_local")
    engines = default_engines() if engines is None else engines
    try:
        async with (
            open_speech_worker(engines, processes=speech_processes) as worker,
            trio.open_nursery() as nursery,
        ):
            connections = OpenConnections()
            handler = _Handler(worker, engines, DEFAULT_ROUTES, connections)
            serve = (
                partial(trio.serve_tcp, handler.serve_stream, port, host=host)
                if ssl_context is None
                else partial(
                    trio.serve_ssl_over_tcp,
                    handler.serve_stream,
                    port,
                    ssl_context,
                    host=host,
                    https_compatible=True,
                )
            )
            listeners: list[trio.SocketListener | trio.SSLListener[trio.SocketStream]]
            listeners = await nursery.start(serve)
            first = listeners[0]
            tcp = first.transport_listener if isinstance(first, trio.SSLListener) else first
            assert isinstance(tcp, trio.SocketListener)
            bound: int = tcp.socket.getsockname()[1]
            logger.info("local server listening on %s:%d", host, bound)
            task_status.started(LocalServer(host, bound, ssl_context is not None, connections))
            await trio.sleep_forever()
    except BaseExceptionGroup as group:
        reraise(collapse(group))


@asynccontextmanager
async def open_local_server(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    engines: SpeechEngines | None = None,
    speech_processes: int = 1,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[LocalServer]:
    """Run the local server for the duration of an ``async with`` block (tests, demos).

    Takes the arguments of ``serve_local``; the server is ready when the block starts and
    stopped, with its connections and worker processes, when it ends. An exception from the
    block, or the server's own failure, propagates as itself, not in an ``ExceptionGroup``
    (the block's wins when both fail).

    Yields:
        The ``LocalServer``.
    """
    require_trio("open_local_server")
    body_error: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                partial(
                    serve_local,
                    host=host,
                    port=port,
                    engines=engines,
                    speech_processes=speech_processes,
                    ssl_context=ssl_context,
                )
            )
            try:
                yield server
            except BaseException as exc:
                body_error = exc
                raise
            finally:
                nursery.cancel_scope.cancel(reason="local server closed")
    except BaseExceptionGroup as group:
        reraise(collapse(group, body_error))
