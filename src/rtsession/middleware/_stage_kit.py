"""The stage toolkit: a per-session relay that forwards what it does not consume, the loops
that drive it, and a fused observer built from plain callbacks."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar, final

import trio

from .._groups import collapse, reraise
from ..messages import ClientMessage, ServerMessage
from ..session._fused import FusedLink, FusedRelay, FusedStage, RelayMaker
from ..session._stage import StageChannels, StageContext

__all__ = ["Link", "Relay", "observe", "run_relay"]

_M = TypeVar("_M", ClientMessage, ServerMessage)


@final
class Link:
    """What a ``Relay`` uses to act: the channels onward, a nursery, the context.

    One per stage per session, made by ``run_relay``.

    Attributes:
        context: read-only facts about the session (options in force, provider, model).
        nursery: where the relay starts child tasks for slow work; they are cancelled when
            both of the stage's inputs have ended (the session is over).
    """

    __slots__ = ("_channels", "context", "nursery")

    def __init__(self, context: StageContext, channels: StageChannels, nursery: trio.Nursery):
        self.context = context
        self.nursery = nursery
        self._channels = channels

    async def to_provider(self, message: ClientMessage) -> None:
        """Send ``message`` on toward the provider; waits until the next hop takes it.

        Once the stream toward the provider has ended (the session is closing), the message
        is dropped.
        """
        try:
            await self._channels.to_provider.send(message)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            await trio.lowlevel.cancel_shielded_checkpoint()

    async def to_app(self, message: ServerMessage) -> None:
        """Send ``message`` on toward the app; waits until the next hop takes it.

        Once the stream toward the app has ended (the server closed the connection), the
        message is dropped.
        """
        try:
            await self._channels.to_app.send(message)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            await trio.lowlevel.cancel_shielded_checkpoint()


class Relay:
    """The per-session half of a stage that forwards what it does not consume.

    Subclass it and override ``client_message`` and/or ``server_message``; the
    defaults forward the message unchanged. Run it with ``run_relay``, which makes one
    relay per session (so per-session state lives on the relay, not on the stage).

    Each direction is handled by its own task, one message at a time, in order: while
    ``client_message`` runs, the next client message waits, and server messages keep
    flowing. Both methods may send either way through ``link``; slow work belongs in a
    child task (``self.link.nursery.start_soon(...)``). An exception from either method ends
    the session and propagates from ``open_session``.

    Attributes:
        link: the channels onward, the nursery for child tasks and the session context.
    """

    def __init__(self, link: Link) -> None:
        self.link = link

    async def client_message(self, message: ClientMessage) -> None:
        """Handle a message from the app side; the default forwards it toward the provider."""
        await self.link.to_provider(message)

    async def server_message(self, message: ServerMessage) -> None:
        """Handle a message from the provider side; the default forwards it toward the app."""
        await self.link.to_app(message)


async def run_relay(
    make_relay: Callable[[Link], Relay], context: StageContext, channels: StageChannels
) -> None:
    """Run a relay as the body of a stage's ``run``; returns when both inputs have ended.

    ::

        class Redact:
            async def run(self, context: StageContext, channels: StageChannels) -> None:
                await run_relay(RedactRelay, context, channels)

    Keeps the stage shutdown contract: when ``from_app`` ends, ``to_provider`` is closed;
    when ``from_provider`` ends, ``to_app`` is closed. Once both have ended, the relay's child
    tasks are cancelled. An exception from the relay or a child task is raised alone, not in
    an ``ExceptionGroup`` (several at once: ``RTSessionError`` caused by the group).

    Args:
        make_relay: builds the session's relay from its ``Link``, e.g. the relay class.
        context: the stage context ``run`` was given.
        channels: the channels ``run`` was given.
    """
    try:
        async with trio.open_nursery() as nursery:
            relay = make_relay(Link(context, channels, nursery))
            client_side_ended = trio.Event()
            nursery.start_soon(_client_loop, relay, channels, client_side_ended)
            async for server_message in channels.from_provider:
                await relay.server_message(server_message)
            await channels.to_app.aclose()
            await client_side_ended.wait()
            nursery.cancel_scope.cancel(reason="both inputs of the stage have ended")
    except BaseExceptionGroup as group:
        reraise(collapse(group))


async def _client_loop(relay: Relay, channels: StageChannels, ended: trio.Event) -> None:
    async for message in channels.from_app:
        await relay.client_message(message)
    await channels.to_provider.aclose()
    ended.set()


def observe(
    *,
    on_client: Callable[[ClientMessage], object] | None = None,
    on_server: Callable[[ServerMessage], object] | None = None,
) -> FusedStage:
    """A fused stage that shows every message to a callback, then forwards it unchanged.

    ::

        middleware=[observe(on_server=lambda message: counts.update([type(message)]))]

    A callback is called with each message, in wire order, before the message is forwarded.
    Callbacks are synchronous and run inline, in the task that carries the message (the
    stage has no task of its own, ``FusedRelay``): their run time delays that direction's
    stream, so keep them to microseconds. For slow work (exporting, writing files), hand the
    message to a task of your own, e.g. with ``send_nowait`` on a bounded memory channel,
    and decide there what to do when it is full. An exception from a callback ends the
    session.

    Args:
        on_client: called with each client message going toward the provider.
        on_server: called with each server message going toward the app.

    Returns:
        The stage, for ``open_session(..., middleware=[...])``.

    Raises:
        TypeError: a callback is an ``async`` function (at the call), or returns an
            awaitable (ending the session): write a ``Relay`` stage for async work.
    """
    for callback in (on_client, on_server):
        if inspect.iscoroutinefunction(callback):
            raise TypeError(
                f"observe() callbacks are synchronous, and {callback!r} is async: "
                "write a Relay stage for work that awaits"
            )
    return _Observer(on_client, on_server)


@final
class _Observer:
    __slots__ = ("_on_client", "_on_server")

    def __init__(
        self,
        on_client: Callable[[ClientMessage], object] | None,
        on_server: Callable[[ServerMessage], object] | None,
    ) -> None:
        self._on_client = on_client
        self._on_server = on_server

    def fuse(self) -> Sequence[RelayMaker]:
        return (partial(_ObservingRelay, self._on_client, self._on_server),)


class _ObservingRelay(FusedRelay):
    def __init__(
        self,
        on_client: Callable[[ClientMessage], object] | None,
        on_server: Callable[[ServerMessage], object] | None,
        link: FusedLink,
    ) -> None:
        super().__init__(link)
        if on_client is not None:
            self.client_message = partial(_call, on_client)  # type: ignore[method-assign]
        if on_server is not None:
            self.server_message = partial(_call, on_server)  # type: ignore[method-assign]


def _call(callback: Callable[[_M], object], message: _M) -> _M:
    result = callback(message)
    if result is not None and inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise TypeError(
            f"observe() callbacks are synchronous, and {callback!r} returned an awaitable: "
            "write a Relay stage for work that awaits"
        )
    return message
