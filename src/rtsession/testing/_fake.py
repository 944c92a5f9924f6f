"""``FakeProvider``: an in-memory provider and transport for testing stages without sockets."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TypeVar, final

import attrs
import trio

from .._errors import ConnectError, SessionClosedError
from ..messages import (
    ClientMessage,
    ConversationItem,
    Response,
    ResponseCreated,
    ResponseDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseStatus,
    ServerMessage,
    SessionKind,
)
from ..session import Session
from ..transport import Connection, ConnectRequest
from ..wire import Codec, Frame
from ..wire.openai import OpenAICodec

__all__ = ["AppInbox", "FakeProvider", "Reply", "response_events"]

Reply = Callable[[ClientMessage], Iterable[ServerMessage]]
"""Answers one client message with the server messages to send back (possibly none)."""

_C = TypeVar("_C", bound=ClientMessage)
_S = TypeVar("_S", bound=ServerMessage)


@attrs.frozen
class _Closed:
    """In the queue toward the client: the connection ends here."""

    code: int
    reason: str

    def error(self) -> SessionClosedError:
        detail = f" ({self.reason})" if self.reason else ""
        return SessionClosedError(
            f"the fake connection is closed: {self.code}{detail}",
            code=self.code,
            reason=self.reason,
        )


@final
class FakeProvider:
    """A scripted provider that lives in memory: a ``Provider`` and a
    ``Transport`` in one object.

    Pass it as both, and the session runs as usual (codec, reader, writer, middleware), with
    the WebSocket replaced by two in-memory queues::

        fake = FakeProvider([m.SessionCreated(session=m.SessionOptions())], reply=my_reply)
        async with open_session(fake, middleware=[MyStage()], transport=fake) as session:
            ...
            request = await fake.receive_of(m.ResponseCreate)

    Messages cross the fake as real frames: the server messages are encoded with a codec of
    the provider's wire format (OpenAI GA by default) and decoded by the session, and the
    client messages the session writes are decoded again here, so what a stage sends must be
    something the format can carry. Unbounded queues on the fake's side mean the session
    never waits for the test.

    Args:
        script: server messages to send as soon as the session connects, in order.
        reply: called with every client message as it arrives (in the session's writer
            task); the messages it returns are sent back at once, after anything already
            queued. An exception from it ends the session with that exception.
        codec: makes the codec of the wire format, for the session and for the fake's side.
        name: the provider's ``name`` (OpenTelemetry ``gen_ai.provider.name``).
        model: the provider's ``model``.

    Raises:
        EncodeError: a scripted message the wire format cannot carry.
    """

    __slots__ = (
        "_closed",
        "_connected",
        "_make_codec",
        "_outbox",
        "_outbox_send",
        "_received",
        "_received_send",
        "_reply",
        "_server_codec",
        "_unread",
        "model",
        "name",
    )

    def __init__(
        self,
        script: Iterable[ServerMessage] = (),
        *,
        reply: Reply | None = None,
        codec: Callable[[], Codec] = OpenAICodec,
        name: str = "fake",
        model: str = "fake-model",
    ) -> None:
        self.name = name
        self.model = model
        self._make_codec = codec
        self._server_codec = codec()
        self._reply = reply
        self._outbox_send, self._outbox = trio.open_memory_channel[Frame | _Closed](math.inf)
        self._received_send, self._unread = trio.open_memory_channel[ClientMessage](math.inf)
        self._received: list[ClientMessage] = []
        self._connected = False
        self._closed: _Closed | None = None
        self.send_nowait(*script)

    # --- the Provider side ---------------------------------------------------------------------

    def connect_request(self, kind: SessionKind = "conversation") -> ConnectRequest:
        """A placeholder request, whatever the ``kind``; the fake never dials (pass it as
        ``transport=`` too)."""
        return ConnectRequest(url="ws://fake.invalid/", service="FakeProvider")

    def make_codec(self) -> Codec:
        """A new codec of the fake's wire format, for the session."""
        return self._make_codec()

    # --- the Transport side --------------------------------------------------------------------

    async def connect(self, nursery: trio.Nursery, request: ConnectRequest) -> Connection:
        """Open the in-memory connection (no tasks are started).

        Raises:
            RuntimeError: the fake was already connected; it serves one connection.
        """
        await trio.lowlevel.checkpoint()
        if self._connected:
            raise RuntimeError("a FakeProvider serves one connection; make a new one")
        self._connected = True
        return _FakeConnection(self)

    # --- the test's controls -------------------------------------------------------------------

    def send_nowait(self, *messages: ServerMessage) -> None:
        """Send server messages to the session, after those already queued.

        Raises:
            EncodeError: the wire format cannot carry one of them (none is sent then).
        """
        frames = [
            frame for message in messages for frame in self._server_codec.encode_server(message)
        ]
        for frame in frames:
            self._outbox_send.send_nowait(frame)

    def send_frame_nowait(self, frame: str | bytes) -> None:
        """Send one frame exactly as given, after those already queued: what a server that
        breaks its own protocol would send (bad JSON, mistyped fields, deep nesting), to test
        that a session and its stages survive it."""
        self._outbox_send.send_nowait(frame)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection from the server side, after the messages already queued:
        the session's ``async for`` ends, and sends raise ``SessionClosedError(code, reason)``.
        """
        self._end(_Closed(code, reason))

    @property
    def received(self) -> tuple[ClientMessage, ...]:
        """Every client message that reached the fake so far, in order."""
        return tuple(self._received)

    @property
    def closed(self) -> bool:
        """Whether the connection is closed, by either side."""
        return self._closed is not None

    async def receive(self) -> ClientMessage:
        """Wait for the next client message not yet returned by ``receive`` or
        ``receive_of`` (these consume; ``received`` keeps them all)."""
        return await self._unread.receive()

    async def receive_of(self, message_type: type[_C]) -> _C:
        """Wait for the next unread client message of ``message_type``; skips (consumes)
        unread messages of other types."""
        while True:
            message = await self._unread.receive()
            if isinstance(message, message_type):
                return message

    # --- what the connection calls -------------------------------------------------------------

    def _take(self, frame: Frame) -> None:
        if self._closed is not None:
            raise self._closed.error()
        for message in self._server_codec.decode_client(frame):
            self._received.append(message)
            self._received_send.send_nowait(message)
            if self._reply is not None:
                self.send_nowait(*self._reply(message))

    def _end(self, closed: _Closed) -> None:
        if self._closed is None:
            self._closed = closed
            self._outbox_send.send_nowait(closed)


@final
class _FakeConnection:
    """The session's end of a ``FakeProvider`` (a ``Connection``)."""

    __slots__ = ("_fake",)

    def __init__(self, fake: FakeProvider) -> None:
        self._fake = fake

    async def send(self, frame: Frame) -> None:
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            self._fake._take(frame)
        finally:
            await trio.lowlevel.cancel_shielded_checkpoint()

    async def receive(self) -> Frame:
        item = await self._fake._outbox.receive()
        if isinstance(item, _Closed):
            self._fake._outbox_send.send_nowait(item)  # later receives end the same way
            raise item.error()
        return item

    async def aclose(self) -> None:
        self._fake._end(_Closed(1000, ""))
        await trio.lowlevel.checkpoint()


def response_events(
    response_id: str, *items: ConversationItem, status: ResponseStatus = "completed"
) -> list[ServerMessage]:
    """A whole response as the provider reports it, for scripts and replies.

    Returns:
        ``ResponseCreated``, then ``ResponseOutputItemAdded`` and ``ResponseOutputItemDone``
        for each item (output indexes 0, 1, ...), then ``ResponseDone`` with ``status`` and
        the items as output.
    """
    events: list[ServerMessage] = [
        ResponseCreated(response=Response(id=response_id, status="in_progress"))
    ]
    for index, item in enumerate(items):
        events.append(
            ResponseOutputItemAdded(response_id=response_id, output_index=index, item=item)
        )
        events.append(
            ResponseOutputItemDone(response_id=response_id, output_index=index, item=item)
        )
    events.append(ResponseDone(response=Response(id=response_id, status=status, output=items)))
    return events


@final
class AppInbox:
    """The app side of a test: reads a session's server messages in a background task and
    keeps them, so the stages never wait for the test (every channel of a session has
    buffer 0: an app that stops reading stops the session).

    ::

        inbox = AppInbox()
        async with open_session(fake, middleware=[stage], transport=fake) as session:
            nursery.start_soon(inbox.drain, session)
            done = await inbox.receive_of(m.ResponseDone)
    """

    __slots__ = ("_received", "_received_send", "_unread", "error")

    def __init__(self) -> None:
        self._received_send, self._unread = trio.open_memory_channel[ServerMessage](math.inf)
        self._received: list[ServerMessage] = []
        self.error: SessionClosedError | ConnectError | None = None
        """How the stream ended if it ended abnormally (what ``async for`` raised: a
        ``ConnectError`` when every reconnection attempt was refused)."""

    async def drain(self, session: Session) -> None:
        """Read ``session`` until its stream ends (start it in a nursery, or await it to read
        to the end). An abnormal end is kept in ``error`` instead of being raised.

        Cancellation: stops reading; what was read is kept.
        """
        try:
            async for message in session:
                self._received.append(message)
                self._received_send.send_nowait(message)
        except (SessionClosedError, ConnectError) as exc:
            self.error = exc

    @property
    def received(self) -> tuple[ServerMessage, ...]:
        """Every server message read so far, in order."""
        return tuple(self._received)

    async def receive(self) -> ServerMessage:
        """Wait for the next message not yet returned by ``receive`` or
        ``receive_of`` (these consume; ``received`` keeps them all)."""
        return await self._unread.receive()

    async def receive_of(self, message_type: type[_S]) -> _S:
        """Wait for the next unread message of ``message_type``; skips (consumes) unread
        messages of other types."""
        while True:
            message = await self._unread.receive()
            if isinstance(message, message_type):
                return message
