"""Fused stages: middleware whose per-message work is synchronous, run inside the tasks that
already carry the messages, so they cost no task hop.

Consecutive fused stages form a segment. Its client hooks run in the task that takes
messages off the segment's app side (the writer, or the task stage after it), its server
hooks in whichever task hands a server message to it (a reader, a task stage, a child task):
no task and no channel of their own. Ordering is that of the task-per-stage design: each
stage sees each direction in the order the next hop gets it.
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, Literal, Protocol, TypeAlias, TypeVar, final, runtime_checkable

import trio

from .._public import NoPublicConstructor
from ..messages import ClientMessage, ServerMessage
from ._stage import Stage, StageContext

__all__ = [
    "ChannelSink",
    "ClientOut",
    "Fusion",
    "FusedLink",
    "FusedRelay",
    "FusedStage",
    "Middleware",
    "RelayMaker",
    "ServerIn",
    "Upstream",
]

_T = TypeVar("_T")
_Message: TypeAlias = ClientMessage | ServerMessage
_Item: TypeAlias = tuple[int, bool, Any]  # position, toward the provider, message
_GONE: Final = (trio.BrokenResourceError, trio.ClosedResourceError)


class FusedRelay:
    """The per-session half of a fused stage: one synchronous hook per direction.

    The session calls ``client_message`` with each message from the app side and
    ``server_message`` with each one from the provider side, one at a time and in order
    per direction, inside the tasks that already carry the messages: a fused stage adds no
    task hop. A hook returns what to forward (the message, a changed one, or another) or
    ``None`` to drop it. What it sends through ``link.to_provider`` / ``link.to_app`` goes
    on first, in call order, then the returned message.

    A hook must not block: its run time delays its direction, and it cannot await. Slow work
    goes in a child task (``self.link.nursery.start_soon``), which acts on the stream
    through ``await self.link.run_sync(...)``. An exception from a hook, ``close`` or a child
    task ends the session and comes out of ``open_session``.

    Attributes:
        link: the stage's place in the session: sends onward, the nursery, the context.
    """

    def __init__(self, link: FusedLink) -> None:
        self.link = link

    def client_message(self, message: ClientMessage) -> ClientMessage | None:
        """Handle a message from the app side; the default forwards it unchanged."""
        return message

    def server_message(self, message: ServerMessage) -> ServerMessage | None:
        """Handle a message from the provider side; the default forwards it unchanged."""
        return message

    def close(self) -> None:
        """Called once, when both directions have ended or the session closes, whichever
        comes first (e.g. to end open spans). It cannot send."""


RelayMaker: TypeAlias = Callable[["FusedLink"], FusedRelay]
"""Makes a session's relay from its link: a ``FusedRelay`` subclass, or a ``partial`` of one
to pass configuration."""


@runtime_checkable
class FusedStage(Protocol):
    """A stage whose per-message work is synchronous, so the session runs it without a task
    of its own (see ``FusedRelay``). Task stages (``Stage``) and fused ones mix freely in one
    ``middleware=[...]`` list, with the same ordering and shutdown contract.
    """

    def fuse(self) -> Sequence[RelayMaker]:
        """The relays this stage is made of, nearest the app first (usually one), made once
        per session."""
        ...


Middleware: TypeAlias = "Stage | FusedStage"
"""Anything ``open_session(middleware=[...])`` takes: a task stage or a fused one."""


@final
class FusedLink(metaclass=NoPublicConstructor):
    """What a ``FusedRelay`` uses to act; the session makes one per relay per session.

    Attributes:
        context: read-only facts about the session (options in force, provider, model).
        nursery: where the relay starts child tasks for slow work; they end with the
            session.
    """

    __slots__ = ("_index", "_segment", "context", "nursery")

    def __init__(
        self, segment: _Segment, index: int, context: StageContext, nursery: trio.Nursery
    ) -> None:
        self._segment = segment
        self._index = index
        self.context = context
        self.nursery = nursery

    def to_provider(self, message: ClientMessage) -> None:
        """Send ``message`` on toward the provider, before what the running hook returns.
        Once the stream toward the provider has ended, it is dropped.

        Raises:
            RuntimeError: called outside a hook or ``run_sync``.
        """
        self._segment.emit(self._index + 1, True, message)

    def to_app(self, message: ServerMessage) -> None:
        """Send ``message`` on toward the app, before what the running hook returns. Once the
        stream toward the app has ended, it is dropped.

        Raises:
            RuntimeError: called outside a hook or ``run_sync``.
        """
        self._segment.emit(self._index - 1, False, message)

    async def run_sync(self, function: Callable[..., _T], *args: object) -> _T:
        """From a child task: call ``function(*args)`` as a hook is called, so what it sends
        through the link goes on (through the stages after this one), and wait until the
        next hops have taken it. Returns what ``function`` returns.

        Cancellation: what ``function`` sent and was not yet taken is dropped.
        """
        return await self._segment.run_sync(function, args)


async def _drop_when_gone(send: Callable[[_T], Awaitable[None]], value: _T) -> None:
    try:  # noqa: SIM105 -- a try costs nothing here, suppress() a call
        await send(value)
    except _GONE:
        pass


@final
class _Injected:
    """A client message a task other than the consumer sent at ``position``: the consumer
    runs the client hooks from there on."""

    __slots__ = ("message", "position")

    def __init__(self, position: int, message: ClientMessage) -> None:
        self.position = position
        self.message = message


@final
class _Segment:
    """Consecutive fused stages of one session: their relays and hooks, and what a sync
    call left to deliver."""

    def __init__(
        self,
        makers: Sequence[RelayMaker],
        context: StageContext,
        nursery: trio.Nursery,
        to_app: Callable[[ServerMessage], Awaitable[None]],
        inject: Callable[[_Injected], Awaitable[None]],
    ) -> None:
        self._work: list[_Item] = []
        self._active = False
        self._to_app = to_app
        self._inject = inject
        self.relays = [
            maker(FusedLink._create(self, index, context, nursery))
            for index, maker in enumerate(makers)
        ]
        self._size = len(self.relays)
        self._client_at = [_hook(relay, "client_message") for relay in self.relays]
        self._server_at = [_hook(relay, "server_message") for relay in self.relays]
        self._client_hooks = [(at, h) for at, h in enumerate(self._client_at) if h is not None]
        self._server_hooks = [
            (at, h) for at, h in reversed(list(enumerate(self._server_at))) if h is not None
        ]
        self.provider_out: list[ClientMessage] = []  # consumer only: past the last stage
        self.app_out: list[ServerMessage] = []
        self.injections: list[_Injected] = []
        self._closed = False

    def emit(self, position: int, toward_provider: bool, message: _Message) -> None:
        if not self._active:
            raise RuntimeError(
                "FusedLink.to_provider / to_app work inside a hook; from a child task, "
                "call them through `await link.run_sync(...)`"
            )
        self._work.append((position, toward_provider, message))

    def client(self, message: ClientMessage, position: int = 0) -> ClientMessage | None:
        """In the consumer: run the client hooks from ``position`` on. Returns the one
        message to hand on, or ``None`` with any outputs left in ``provider_out`` and
        ``app_out``."""
        self._active = True
        try:
            for at, hook in self._client_hooks:
                if at < position:
                    continue
                result = hook(message)
                if self._work:
                    self._spill((at + 1, True, result), here=True)
                    return None
                if result is None:
                    return None
                message = result
            return message
        finally:
            self._active = False

    def server(self, message: ServerMessage) -> ServerMessage | None:
        """Run every server hook, from the provider side toward the app. Returns the one
        message for the app, or ``None`` with any outputs left in ``app_out`` and
        ``injections``."""
        self._active = True
        try:
            for at, hook in self._server_hooks:
                result = hook(message)
                if self._work:
                    self._spill((at - 1, False, result), here=False)
                    return None
                if result is None:
                    return None
                message = result
            return message
        finally:
            self._active = False

    def _spill(self, returned: _Item | None, *, here: bool) -> None:
        """A hook sent through its link: run everything that follows from what it sent, then
        from what it ``returned`` (if not ``None``, as an item), breadth first. Client
        messages run their hooks ``here`` only in the consumer; elsewhere they become
        injections for it."""
        queue = collections.deque(self._work)
        self._work.clear()
        if returned is not None and returned[2] is not None:
            queue.append(returned)
        while queue:
            at, up, message = queue.popleft()
            if up and not here:
                self.injections.append(_Injected(at, message))
                continue
            if up and at >= self._size:
                self.provider_out.append(message)
                continue
            if not up and at < 0:
                self.app_out.append(message)
                continue
            hook = (self._client_at if up else self._server_at)[at]
            result = message if hook is None else hook(message)
            queue.extend(self._work)
            self._work.clear()
            if result is not None:
                queue.append((at + 1 if up else at - 1, up, result))

    async def run_sync(self, function: Callable[..., _T], args: tuple[object, ...]) -> _T:
        self._active = True
        try:
            result = function(*args)
            if self._work:
                self._spill(None, here=False)
        finally:
            self._active = False
        if not await self.flush():
            await trio.lowlevel.checkpoint()
        return result

    async def flush(self) -> bool:
        """Deliver what the last call left toward the app and, as injections, toward the
        consumer; returns whether there was anything."""
        if not (self.app_out or self.injections):
            return False
        app, self.app_out = self.app_out, []
        injections, self.injections = self.injections, []
        for message in app:
            await self._to_app(message)
        for injected in injections:
            await self._inject(injected)
        return True

    def close(self) -> None:
        """Call each relay's ``close``, once."""
        if self._closed:
            return
        self._closed = True
        for relay in self.relays:
            relay.close()


def _hook(relay: FusedRelay, name: str) -> Callable[[Any], Any] | None:
    """The relay's hook, or ``None`` where it only forwards (the segment skips it)."""
    hook: Callable[[Any], Any] = getattr(relay, name)
    if getattr(hook, "__func__", None) is getattr(FusedRelay, name):
        return None
    return hook


Upstream: TypeAlias = "ClientMessage | _Injected"
"""What a memory channel toward a segment carries: client messages, and those another task
sent from inside the segment."""


@final
class ChannelSink:
    """A memory channel toward the app, handed server messages without the yield ``send``
    adds when the next hop is already waiting (docs/benchmarks/METHOD.md, tuning 1): the
    provider end's when no segment is next to it, and each segment's."""

    __slots__ = ("_channel",)

    def __init__(self, channel: trio.MemorySendChannel[ServerMessage]) -> None:
        self._channel = channel

    async def deliver(self, message: ServerMessage) -> None:
        """Hand ``message`` on; dropped once the app side stopped listening."""
        try:
            self.deliver_nowait(message)
        except trio.WouldBlock:
            await _drop_when_gone(self._channel.send, message)

    def deliver_nowait(self, message: ServerMessage) -> None:
        """As ``deliver`` when the next hop is waiting; raises ``trio.WouldBlock`` if not."""
        try:  # noqa: SIM105 -- a try costs nothing here, suppress() a call
            self._channel.send_nowait(message)
        except _GONE:
            pass

    def close(self) -> None:
        self._channel.close()


@final
class Fusion:
    """A segment in a session, between two memory channels: its client side is received
    from ``client_out`` (by the writer or the task stage after it), its server side is sent
    into ``server_in`` (by the readers or that task stage)."""

    __slots__ = ("_ended", "_upstream", "client_out", "segment", "server_in", "toward_app")

    def __init__(
        self,
        makers: Sequence[RelayMaker],
        context: StageContext,
        nursery: trio.Nursery,
        upstream: tuple[
            trio.MemorySendChannel[ClientMessage | _Injected],
            trio.MemoryReceiveChannel[ClientMessage | _Injected],
        ],
        downstream: trio.MemorySendChannel[ServerMessage],
    ) -> None:
        self._upstream, receive = upstream
        self.toward_app = ChannelSink(downstream)
        self._ended = {"client": False, "server": False}
        self.segment = _Segment(makers, context, nursery, self.toward_app.deliver, self._inject)
        self.client_out = ClientOut(self, receive)
        self.server_in = ServerIn(self)

    async def _inject(self, injected: _Injected) -> None:
        await _drop_when_gone(self._upstream.send, injected)

    def ended(self, side: Literal["client", "server"]) -> None:
        """One direction has ended (the server side also ends the stream toward the app);
        once both have, the relays' ``close`` runs."""
        self._ended[side] = True
        if side == "server":
            self.toward_app.close()
        if all(self._ended.values()):
            self.segment.close()


@final
class ClientOut(trio.abc.ReceiveChannel[ClientMessage]):
    """A segment's provider-facing client side: receiving runs the client hooks on what
    comes from the app side, in the receiving task."""

    __slots__ = ("_for_app", "_fusion", "_ready", "_segment", "_upstream")

    def __init__(
        self, fusion: Fusion, upstream: trio.MemoryReceiveChannel[ClientMessage | _Injected]
    ) -> None:
        self._fusion = fusion
        self._segment = fusion.segment
        self._upstream = upstream
        self._ready: collections.deque[ClientMessage] = collections.deque()
        self._for_app: collections.deque[ServerMessage] = collections.deque()

    def _take(self, item: ClientMessage | _Injected) -> ClientMessage | None:
        segment = self._segment
        if type(item) is _Injected:
            message = segment.client(item.message, item.position)
        else:
            message = segment.client(item)
        if segment.provider_out:
            self._ready.extend(segment.provider_out)
            segment.provider_out.clear()
        if segment.app_out:
            self._for_app.extend(segment.app_out)
            segment.app_out.clear()
        return message

    def receive_nowait(self) -> ClientMessage:
        """Raises ``trio.WouldBlock`` also while a message a hook sent toward the app waits
        for the next hop there (``receive`` waits for it)."""
        while True:
            if self._ready:
                return self._ready.popleft()
            while self._for_app:
                self._fusion.toward_app.deliver_nowait(self._for_app[0])
                self._for_app.popleft()
            try:
                item = self._upstream.receive_nowait()
            except trio.EndOfChannel:
                self._fusion.ended("client")
                raise
            message = self._take(item)
            if message is not None:
                return message

    async def receive(self) -> ClientMessage:
        while True:
            while self._for_app:
                await self._fusion.toward_app.deliver(self._for_app[0])
                self._for_app.popleft()
            if self._ready:
                await trio.lowlevel.checkpoint()
                return self._ready.popleft()
            try:
                item = await self._upstream.receive()
            except trio.EndOfChannel:
                self._fusion.ended("client")
                raise
            message = self._take(item)
            if message is not None:
                return message

    async def aclose(self) -> None:
        await self._upstream.aclose()


@final
class ServerIn(trio.abc.SendChannel[ServerMessage]):
    """A segment's provider-facing server side: sending runs the server hooks in the
    sending task, then hands the result on toward the app."""

    __slots__ = ("_closed", "_fusion", "_segment", "_server", "_toward_app")

    def __init__(self, fusion: Fusion) -> None:
        self._fusion = fusion
        self._segment = fusion.segment
        self._server = fusion.segment.server
        self._toward_app = fusion.toward_app
        self._closed = False

    async def deliver(self, message: ServerMessage) -> None:
        """Run the hooks and hand what comes out toward the app; without a checkpoint when
        the next hop is already waiting (the reader checkpoints on every frame)."""
        result = self._server(message)
        if result is None:
            await self._segment.flush()
            return
        try:  # the sink's own fast path, without a second coroutine per message
            self._toward_app.deliver_nowait(result)
        except trio.WouldBlock:
            await self._toward_app.deliver(result)

    async def send(self, value: ServerMessage) -> None:
        if self._closed:
            raise trio.ClosedResourceError("this send channel was closed")
        await trio.lowlevel.checkpoint_if_cancelled()
        await self.deliver(value)
        await trio.lowlevel.cancel_shielded_checkpoint()

    def close(self) -> None:
        """The producer is done: end the stream toward the app."""
        if not self._closed:
            self._closed = True
            self._fusion.ended("server")

    async def aclose(self) -> None:
        self.close()
        await trio.lowlevel.checkpoint()
