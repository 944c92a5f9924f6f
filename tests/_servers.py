"""Loopback WebSocket servers for the transport, provider and session tests.

Every server listens on 127.0.0.1, port 0, inside a nursery the test provides, and reports
what it sees through unbounded memory channels, so tests wait on events, never on sleeps.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import trio
import trio_websocket
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Message, Request

HOST = "127.0.0.1"

Script = Callable[[trio_websocket.WebSocketConnection], Awaitable[None]]
Reply = Callable[[dict[str, Any]], list[dict[str, Any]]]

SESSION_CREATED: dict[str, Any] = {
    "type": "session.created",
    "event_id": "event_1",
    "session": {
        "type": "realtime",
        "object": "realtime.session",
        "id": "sess_1",
        "model": "gpt-realtime",
        "instructions": "server default",
        "output_modalities": ["audio"],
        "expires_at": 1760000000,
    },
}


def echo_session_update(event: dict[str, Any]) -> list[dict[str, Any]]:
    """Answer ``session.update`` with ``session.updated`` (the update merged into the
    defaults), as the service does; nothing else gets an answer."""
    if event.get("type") != "session.update":
        return []
    session = {**SESSION_CREATED["session"], **event["session"]}
    return [{"type": "session.updated", "event_id": "event_2", "session": session}]


async def greet(ws: trio_websocket.WebSocketConnection) -> None:
    """Send ``session.created``, as the service does right after the handshake."""
    await ws.send_message(json.dumps(SESSION_CREATED))


@attrs.define(eq=False)
class Handshake:
    """What a client sent in its opening handshake."""

    path: str
    headers: dict[str, str]


@attrs.define(eq=False)
class RealtimeServer:
    """A trio-websocket server that greets, answers and records, like a tiny Realtime API.

    Attributes:
        script: runs beside the recorder once a connection is accepted (default: send
            ``session.created``); e.g. close with a code, or send garbage.
        reply: the events to answer each decoded client event with.
        reject: refuse every handshake with this HTTP status (and ``reject_body``).
        port: the port it listens on.
        handshakes: one entry per connection attempt.
        frames: every message clients sent, decoded from JSON when it is text.
        closes: per connection, how it ended on the server side: the client's close code
            and reason, or code 1006 when the client vanished without a close frame.
    """

    script: Script = greet
    reply: Reply = echo_session_update
    reject: int | None = None
    reject_body: bytes = b""
    port: int = 0
    handshakes: list[Handshake] = attrs.Factory(list)
    _frames_in: trio.MemorySendChannel[Any] = attrs.field(init=False)
    frames: trio.MemoryReceiveChannel[Any] = attrs.field(init=False)
    _closes_in: trio.MemorySendChannel[trio_websocket.CloseReason] = attrs.field(init=False)
    closes: trio.MemoryReceiveChannel[trio_websocket.CloseReason] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._frames_in, self.frames = trio.open_memory_channel(float("inf"))
        self._closes_in, self.closes = trio.open_memory_channel(float("inf"))

    async def handle(self, request: trio_websocket.WebSocketRequest) -> None:
        self.handshakes.append(
            Handshake(
                path=request.path,
                headers={k.decode().lower(): v.decode() for k, v in request.headers},
            )
        )
        if self.reject is not None:
            await request.reject(self.reject, body=self.reject_body or None)
            return
        ws = await request.accept()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._run_script, ws)
            try:
                while True:
                    frame = await ws.get_message()
                    event = json.loads(frame) if isinstance(frame, str) else frame
                    self._frames_in.send_nowait(event)
                    if isinstance(event, dict):
                        for answer in self.reply(event):
                            await ws.send_message(json.dumps(answer))
            except trio_websocket.ConnectionClosed as exc:
                self._closes_in.send_nowait(exc.reason or trio_websocket.CloseReason(1006, None))
            nursery.cancel_scope.cancel()

    async def _run_script(self, ws: trio_websocket.WebSocketConnection) -> None:
        with contextlib.suppress(trio_websocket.ConnectionClosed):
            await self.script(ws)

    @property
    def http_url(self) -> str:
        """The ``base_url`` to give a provider, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"http://{HOST}:{self.port}/v1"


async def serve_realtime(
    nursery: trio.Nursery,
    server: RealtimeServer | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> RealtimeServer:
    """Start ``server`` (default: greet with ``session.created``, answer ``session.update``)."""
    server = server or RealtimeServer()
    listening: trio_websocket.WebSocketServer = await nursery.start(
        trio_websocket.serve_websocket, server.handle, HOST, 0, ssl_context
    )
    server.port = listening.port
    return server


async def serve_silent(nursery: trio.Nursery) -> WireServer:
    """Completes the WebSocket handshake and greets, then reads and never answers anything:
    no pong, no close frame back, the TCP connection left open (a server that never answers
    the close). ``events`` has what the client sent after the handshake."""
    return await serve_wire(nursery, silent)


async def silent(link: WireLink) -> None:
    """Reads everything, answers nothing."""
    while await link.next_event() is not None:
        pass


async def serve_raw(
    nursery: trio.Nursery, handler: Callable[[trio.SocketStream], Awaitable[None]]
) -> int:
    """Serve plain TCP with ``handler`` (for handshakes gone wrong); returns the port."""
    listeners: list[trio.SocketListener] = await nursery.start(
        partial(trio.serve_tcp, handler, 0, host=HOST)
    )
    port: int = listeners[0].socket.getsockname()[1]
    return port


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


@attrs.frozen
class TrustedTls:
    """TLS contexts for a loopback server with a throwaway certificate from a throwaway
    certificate authority (``trustme``), and that authority's PEM for other processes."""

    server: ssl.SSLContext
    client: ssl.SSLContext
    ca_file: Path


def trusted_tls(directory: Path) -> TrustedTls:
    """A certificate for 127.0.0.1 signed by a new CA, and contexts that use and trust it."""
    import trustme

    authority = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(HOST).configure_cert(server)
    client = ssl.create_default_context()
    authority.configure_trust(client)
    ca_file = directory / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    return TrustedTls(server, client, ca_file)


@attrs.define(eq=False)
class WireServer:
    """A raw wsproto server for faults a WebSocket library would not commit: it accepts the
    handshake, sends ``session.created``, then runs ``fault`` with the stream and the
    protocol state. Every client event it reads afterwards is recorded in ``events``.

    Attributes:
        fault: what to do after the greeting (see the ``fault_*`` functions).
        port: the port it listens on.
        events: the wsproto events the client sent after the handshake.
    """

    fault: Callable[[WireLink], Awaitable[None]]
    port: int = 0
    _events_in: trio.MemorySendChannel[Any] = attrs.field(init=False)
    events: trio.MemoryReceiveChannel[Any] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._events_in, self.events = trio.open_memory_channel(float("inf"))

    async def handle(self, stream: trio.SocketStream) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        async with stream:
            while True:
                data = await stream.receive_some()
                if not data:
                    return
                ws.receive_data(bytes(data))
                if any(isinstance(event, Request) for event in ws.events()):
                    break
            # One write, so the client reads the handshake answer and the first event at once.
            greeting = ws.send(AcceptConnection()) + ws.send(
                Message(data=json.dumps(SESSION_CREATED))
            )
            await stream.send_all(greeting)
            link = WireLink(stream, ws, self._events_in)
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await self.fault(link)

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"


@attrs.define(eq=False)
class WireLink:
    """One connection of a :class:`WireServer`."""

    stream: trio.SocketStream
    ws: WSConnection
    _events_in: trio.MemorySendChannel[Any]

    async def next_event(self) -> Any:
        """The client's next event (``None`` when the client closed the TCP connection)."""
        while True:
            for event in self.ws.events():
                self._events_in.send_nowait(event)
                return event
            data = await self.stream.receive_some()
            if not data:
                return None
            self.ws.receive_data(bytes(data))

    async def send(self, event: Any) -> None:
        await self.stream.send_all(self.ws.send(event))


async def serve_wire(
    nursery: trio.Nursery, fault: Callable[[WireLink], Awaitable[None]]
) -> WireServer:
    server = WireServer(fault)
    listeners: list[trio.SocketListener] = await nursery.start(
        partial(trio.serve_tcp, server.handle, 0, host=HOST)
    )
    server.port = listeners[0].socket.getsockname()[1]
    return server


async def upgrade_status(host: str, port: int, target: str, *headers: str) -> int:
    """Send a WebSocket upgrade request by hand (extra ``headers`` as ``"Name: value"``);
    returns the HTTP status of the answer. Nothing stays open after a refusal."""
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" + "".join(f"{h}\r\n" for h in headers)
    )
    with trio.fail_after(10):
        async with await trio.open_tcp_stream(host, port) as stream:
            await stream.send_all(f"{request}\r\n".encode())
            response = b""
            while b"\r\n\r\n" not in response:
                response += await stream.receive_some()
    return int(response.split()[1])
