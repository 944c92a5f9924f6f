"""An in-memory Gemini Live server for the provider-end tests (``test_resumption.py``,
``test_provider_end.py``), and the app side that reads a session.

The server is a script, not a model: it answers the ``setup`` (``setupComplete``, then a
``sessionResumptionUpdate`` when asked), a completed ``clientContent`` turn (a text reply
and an update), records every client frame of every connection with its index, and lets the
test send any frame (``goAway``, an update, a ``toolCall``) or close a connection. Like the
service, it closes a connection with 1007 when a ``toolResponse`` names a call that
connection's session does not know (one that came after the handle it resumed). Being in
memory, it runs under trio's ``MockClock`` (no sockets for the clock to jump past).
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import struct
from collections.abc import AsyncIterator
from typing import Any

import attrs
import trio

from rtsession import ConnectError, Reconnect, SessionClosedError, messages as m
from rtsession.providers import GeminiLive, VertexGeminiLive
from rtsession.session import Session, open_session
from rtsession.transport import ConnectRequest

RATE = 16000
CHUNK = RATE // 50  # 20 ms
CLOSE = object()
"""Client to server: the client closes (the WebSocket close frame)."""


@attrs.frozen
class Closed:
    """Server to client: the connection is closed with this code."""

    code: int
    reason: str = ""


@attrs.define(eq=False)
class Link:
    """One connection, as the scripted server sees it.

    Attributes:
        frames: every client frame, decoded, in order (a frame's index is its position).
        late: frames the server still sends after the client's close, before its own.
        closed: set once the server has closed the connection.
    """

    number: int
    to_client: trio.MemorySendChannel[Any]
    from_client_send: trio.MemorySendChannel[Any]
    from_client: trio.MemoryReceiveChannel[Any]
    frames: list[dict[str, Any]] = attrs.Factory(list)
    late: list[dict[str, Any]] = attrs.Factory(list)
    transparent: bool = False
    resumable: bool = False
    handle: str | None = None
    closed: trio.Event = attrs.Factory(trio.Event)
    calls: set[str] = attrs.Factory(set)
    snapshots: dict[str, frozenset[str]] = attrs.Factory(dict)

    def tool_call(self, call_id: str, name: str = "get_weather", **args: Any) -> None:
        """A ``toolCall``: the model calls ``name`` (this session now knows the call)."""
        self.calls.add(call_id)
        self.say({"toolCall": {"functionCalls": [{"id": call_id, "name": name, "args": args}]}})

    def say(self, payload: dict[str, Any]) -> None:
        self.to_client.send_nowait(json.dumps(payload))

    def update(self, *, resumable: bool = True) -> None:
        """A ``sessionResumptionUpdate``: everything received so far is consumed."""
        update: dict[str, Any] = {"resumable": resumable}
        if resumable:
            update["newHandle"] = handle = f"handle-{self.number}-{len(self.frames)}"
            self.snapshots[handle] = frozenset(self.calls)
        if self.transparent:
            update["lastConsumedClientMessageIndex"] = str(len(self.frames) - 1)
        self.say({"sessionResumptionUpdate": update})

    def go_away(self, time_left_ms: int) -> None:
        self.say({"goAway": {"timeLeft": f"{time_left_ms / 1000}s"}})

    def close(self, code: int = 1001) -> None:
        self.to_client.send_nowait(Closed(code))
        self.closed.set()

    def audio(self, up_to: float = math.inf) -> list[int]:
        """The marker (first sample) of each audio frame with index ``<= up_to``."""
        return [
            struct.unpack_from("<h", base64.b64decode(frame["realtimeInput"]["audio"]["data"]))[0]
            for index, frame in enumerate(self.frames)
            if index <= up_to and "audio" in frame.get("realtimeInput", {})
        ]


class MemoryConnection:
    """The client side of an in-memory connection (the ``Connection`` interface)."""

    def __init__(self, link: Link, inbox: trio.MemoryReceiveChannel[Any]):
        self._link = link
        self._inbox = inbox

    async def send(self, frame: str | bytes) -> None:
        try:
            self._link.from_client_send.send_nowait(frame)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise SessionClosedError("closed", code=1006) from None
        await trio.lowlevel.checkpoint()

    async def receive(self) -> str | bytes:
        try:
            item = await self._inbox.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise SessionClosedError("closed", code=1006) from None
        if isinstance(item, Closed):
            raise SessionClosedError("closed", code=item.code)
        assert isinstance(item, str)
        return item

    async def aclose(self) -> None:
        """Send the close, then wait (at most 1 s) for the server's, as a WebSocket does."""
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            self._link.from_client_send.send_nowait(CLOSE)
        with trio.move_on_after(1, shield=True):
            await self._link.closed.wait()
        self._link.from_client_send.close()
        await trio.lowlevel.checkpoint()


@attrs.define(eq=False)
class GeminiScript:
    """An in-memory Gemini Live server and the transport that dials it.

    Attributes:
        links: every connection, in order.
        refuse_handles: close a setup that resumes a handle with 1007, as for an expired one.
        updates: send a ``sessionResumptionUpdate`` after the setup and after each turn.
        reachable: accept connections (else ``connect`` raises ``ConnectError``).
    """

    links: list[Link] = attrs.Factory(list)
    refuse_handles: bool = False
    updates: bool = True
    reachable: bool = True
    setup_delay: float = 0.0
    close_after_setup: int | None = None
    answer_close: bool = True

    def calls_of(self, handle: str) -> frozenset[str]:
        """The calls the session a handle resumes knows."""
        for link in self.links:
            if handle in link.snapshots:
                return link.snapshots[handle]
        return frozenset()

    async def connect(self, nursery: trio.Nursery, request: ConnectRequest) -> MemoryConnection:
        if not self.reachable:
            await trio.lowlevel.checkpoint()
            raise ConnectError("unreachable")
        to_client, client_in = trio.open_memory_channel[Any](math.inf)
        client_out, from_client = trio.open_memory_channel[Any](math.inf)
        link = Link(len(self.links) + 1, to_client, client_out, from_client)
        self.links.append(link)
        nursery.start_soon(self._serve, link)
        await trio.lowlevel.checkpoint()
        return MemoryConnection(link, client_in)

    async def _serve(self, link: Link) -> None:
        async for frame in link.from_client:
            if frame is CLOSE:
                if not self.answer_close:
                    continue
                for payload in link.late:
                    link.say(payload)
                link.close(1000)
                return
            payload = json.loads(frame)
            link.frames.append(payload)
            if "setup" in payload:
                resumption = payload["setup"].get("sessionResumption")
                link.resumable = resumption is not None
                link.transparent = bool((resumption or {}).get("transparent"))
                link.handle = (resumption or {}).get("handle")
                if link.handle is not None and self.refuse_handles:
                    link.close(1007)
                    return
                if link.handle is not None:
                    link.calls = set(self.calls_of(link.handle))
                await trio.sleep(self.setup_delay)
                link.say({"setupComplete": {}})
                if link.number == self.close_after_setup:
                    link.close(1011)
                    return
                if link.resumable and self.updates:
                    link.update()
            elif "toolResponse" in payload:
                for response in payload["toolResponse"]["functionResponses"]:
                    if response["id"] not in link.calls:
                        link.close(1007)  # "Tool call ID ... not found in conversation"
                        return
                    link.calls.discard(response["id"])
            elif payload.get("clientContent", {}).get("turnComplete"):
                link.say({"serverContent": {"modelTurn": {"parts": [{"text": "reply"}]}}})
                link.say({"serverContent": {"turnComplete": True}})
                if link.resumable and self.updates:
                    link.update()


def vertex() -> VertexGeminiLive:
    """Vertex flavour: the setup asks for transparent resumption (consumed-frame indices)."""
    return VertexGeminiLive(
        project="p", token_provider=lambda: "token", base_url="ws://127.0.0.1:9"
    )


def gemini_api() -> GeminiLive:
    """Gemini API flavour: resumption without indices."""
    return GeminiLive(api_key="key", base_url="ws://127.0.0.1:9")


def marker(i: int) -> bytes:
    """20 ms of 16 kHz audio whose samples all hold ``i``."""
    return struct.pack("<h", i) * CHUNK


@attrs.define(eq=False)
class App:
    """Reads the session and keeps what arrived."""

    session: Session
    received: list[m.ServerMessage] = attrs.Factory(list)
    changed: trio.Event = attrs.Factory(trio.Event)
    ended: trio.Event = attrs.Factory(trio.Event)
    error: SessionClosedError | None = None
    refused: ConnectError | None = None

    async def run(self) -> None:
        try:
            async for event in self.session:
                self.received.append(event)
                self.changed.set()
                self.changed = trio.Event()
        except SessionClosedError as exc:
            self.error = exc
        except ConnectError as exc:
            self.refused = exc
        self.ended.set()

    def of(self, cls: type[Any]) -> list[Any]:
        return [e for e in self.received if isinstance(e, cls)]

    async def until(self, cls: type[Any], count: int = 1) -> None:
        while len(self.of(cls)) < count:
            await self.changed.wait()


async def stream(session: Session, start: int, stop: int) -> None:
    for i in range(start, stop):
        await session.send(m.InputAudioBufferAppend(audio=marker(i)))


@contextlib.asynccontextmanager
async def switching(
    server: GeminiScript,
    options: m.SessionOptions | None = None,
    *,
    provider: GeminiLive | VertexGeminiLive | None = None,
    reconnect: Reconnect | None = None,
    **session_options: Any,
) -> AsyncIterator[tuple[Session, App]]:
    """A session with ``reconnect`` (default ``Reconnect()``) on ``server`` (Vertex flavour
    unless ``provider``), and an :class:`App` reading it in the background until the block
    ends."""
    async with (
        open_session(
            provider or vertex(),
            options or m.SessionOptions(),
            transport=server,
            reconnect=reconnect or Reconnect(),
            **session_options,
        ) as session,
        trio.open_nursery() as nursery,
    ):
        app = App(session)
        nursery.start_soon(app.run)
        yield session, app
        nursery.cancel_scope.cancel()
