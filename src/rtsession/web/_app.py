"""The ASGI app of ``rtsession web`` (Starlette, run by Hypercorn's trio worker): the page,
its scripts, and the relay endpoint that gives each page its own session."""

from __future__ import annotations

import importlib.resources
import logging
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

import trio

from .._errors import RTSessionError
from .._groups import collapse, reraise
from ..messages import AudioFormat, SessionOptions
from ..middleware import BargeIn, FunctionInvocation, Logging, Middleware
from ..providers import Provider
from ..session import open_session
from ._protocol import PROTOCOL, ended_event
from ._relay import PageConnection

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.websockets import WebSocket

__all__ = ["RELAY_PATH", "create_app", "serve_web"]

logger = logging.getLogger("rtsession.web")

RELAY_PATH: Final = "/relay"
"""Where the page opens its WebSocket."""

GRACEFUL_TIMEOUT: Final = 2.0
"""Seconds ``serve_web`` gives open pages to finish when it is cancelled."""

_INSTALL_HINT: Final = "pip install 'rtsession[web]' (or '.[web]' in a checkout)"


def _rate(fmt: AudioFormat | None, what: str) -> int:
    if fmt is None or fmt.type != "audio/pcm" or fmt.rate is None:
        raise ValueError(
            f"options.{what} must be AudioFormat(type='audio/pcm', rate=...): the page "
            "captures and plays 16-bit PCM at a rate it is told"
        )
    return fmt.rate


def _origin_allowed(websocket: WebSocket, allowed: frozenset[str] | None) -> bool:
    """A page from another site must not drive the session (cross-site WebSocket hijacking):
    the ``Origin`` must be one of ``allowed``, or by default the relay's own host."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: browsers always send Origin
    if allowed is not None:
        return origin in allowed
    return urllib.parse.urlsplit(origin).netloc == websocket.headers.get("host")


def create_app(
    provider: Provider,
    options: SessionOptions,
    *,
    tools: Iterable[Callable[..., Any]] = (),
    allowed_origins: Sequence[str] | None = None,
) -> Starlette:
    """The web voice client: ``/`` serves the page, ``/relay`` the relay WebSocket.

    Each page that connects gets its own session with ``provider`` and ``options``, and the
    middleware ``BargeIn`` (the page's playback), ``FunctionInvocation(tools)`` and
    ``Logging``; one page's failure or misbehaviour never touches another's session. The
    API key stays on the server.

    Args:
        provider: the service every page's session talks to.
        options: the sessions' options; both audio formats must be PCM with a rate (the page
            resamples its microphone to the input rate and plays at the output rate).
        tools: functions for ``FunctionInvocation`` (the model may call them).
        allowed_origins: the ``Origin`` values (``"https://app.example.com"``) whose pages
            may connect; ``None`` allows only pages served by this relay's own host.

    Raises:
        ValueError: an audio format that is not PCM with a rate.
        ModuleNotFoundError: Starlette is missing (the ``web`` extra).
    """
    try:
        from starlette.applications import Starlette
        from starlette.responses import FileResponse
        from starlette.routing import Mount, Route, WebSocketRoute
        from starlette.staticfiles import StaticFiles
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(f"rtsession web needs Starlette: {_INSTALL_HINT}") from exc
    input_rate = _rate(options.input_audio_format, "input_audio_format")
    output_rate = _rate(options.output_audio_format, "output_audio_format")
    functions = tuple(tools)
    allowed = None if allowed_origins is None else frozenset(allowed_origins)
    static = importlib.resources.files("rtsession.web") / "static"

    async def page(_: Any) -> FileResponse:
        return FileResponse(str(static / "index.html"))

    async def relay(websocket: WebSocket) -> None:
        if not _origin_allowed(websocket, allowed):
            logger.warning("refused a page from origin %r", websocket.headers.get("origin"))
            await websocket.close(1008, "origin not allowed")
            return
        if PROTOCOL not in websocket.scope.get("subprotocols", ()):
            await websocket.close(1008, f"use the WebSocket subprotocol {PROTOCOL}")
            return
        await websocket.accept(subprotocol=PROTOCOL)
        connection = PageConnection(websocket, input_rate=input_rate, output_rate=output_rate)
        middleware: list[Middleware] = [
            BargeIn(connection),
            FunctionInvocation(functions),
            Logging(),
        ]
        try:
            async with open_session(provider, options, middleware=middleware) as session:
                await connection.relay(session)
        except RTSessionError as exc:
            logger.warning("a page's session failed: %s", exc)
            await websocket.send_json(ended_event(exc))
            await websocket.close(1011, "the session failed")

    return Starlette(
        routes=[
            Route("/", page),
            Mount("/static", StaticFiles(directory=str(static)), name="static"),
            WebSocketRoute(RELAY_PATH, relay),
        ]
    )


async def serve_web(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve an ASGI app (``create_app``'s) with Hypercorn's trio worker until cancelled.

    Args:
        app: the ASGI app.
        host: the address to listen on.
        port: the TCP port; 0 picks a free one.
        task_status: receives the URL served, e.g. ``"http://127.0.0.1:8000"`` (with
            ``nursery.start``).

    Raises:
        OSError: the address cannot be bound (e.g. the port is in use).
        ModuleNotFoundError: Hypercorn is missing (the ``web`` extra).

    Cancellation: stops accepting, gives open pages ``GRACEFUL_TIMEOUT`` seconds, then
    disconnects them and returns.
    """
    try:
        from hypercorn.config import Config
        from hypercorn.trio import serve
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(f"rtsession web needs Hypercorn: {_INSTALL_HINT}") from exc
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("rtsession.web.hypercorn")
    config.graceful_timeout = GRACEFUL_TIMEOUT
    shutdown = trio.Event()

    async def run(*, task_status: trio.TaskStatus[list[str]]) -> None:
        # Hypercorn closes its connections in its own shutdown, not when cancelled: a
        # cancellation of serve_web becomes that shutdown.
        with trio.CancelScope(shield=True):
            try:
                await serve(app, config, shutdown_trigger=shutdown.wait, task_status=task_status)
            except BaseExceptionGroup as group:  # Hypercorn's nursery: e.g. a busy port
                reraise(collapse(group))

    try:
        async with trio.open_nursery() as nursery:
            urls: list[str] = await nursery.start(run)
            task_status.started(urls[0])
            try:
                await trio.sleep_forever()
            finally:
                shutdown.set()
    except BaseExceptionGroup as group:
        reraise(collapse(group))
