"""The app-facing receive channel: server messages, then how the session ended."""

from __future__ import annotations

from typing import final

import trio

from ..messages import ServerMessage
from ._state import SessionState

__all__ = ["SessionReceiveChannel"]


@final
class SessionReceiveChannel(trio.abc.ReceiveChannel[ServerMessage]):
    """Server messages for the app, as ``Session.receive_channel`` and ``async for``.

    After the last message received before the session ended, it ends cleanly
    (``EndOfChannel``; ``async for`` stops) when the end was normal, this side's close or the
    server's code 1000, and raises ``SessionClosedError`` otherwise, so an
    abnormal end is never mistaken for a finished conversation.

    One task reads a handle at a time: a second task receiving while the first waits gets
    ``trio.BusyResourceError`` (two readers would each miss the other's events). To split
    the events between tasks on purpose, give each its own ``clone``.
    """

    __slots__ = ("_channel", "_reading", "_state")

    def __init__(self, state: SessionState, channel: trio.MemoryReceiveChannel[ServerMessage]):
        self._state = state
        self._channel = channel
        self._reading = False

    async def receive(self) -> ServerMessage:
        """The next server message; waits for one.

        Cancellation: nothing is taken off the channel.

        Raises:
            trio.EndOfChannel: the session ended normally and every message was delivered.
            SessionClosedError: it ended abnormally (``code``, ``reason`` and ``closed_by``
                say how), after every message received before the end was delivered.
            trio.ClosedResourceError: this channel was closed.
            trio.BusyResourceError: another task is already receiving from this handle.
        """
        if self._reading:
            raise trio.BusyResourceError(
                "another task is already receiving from this session; two readers would each "
                "miss the other's events (give each task its own receive_channel.clone() to "
                "split them on purpose)"
            )
        self._reading = True
        try:
            return await self._channel.receive()
        except trio.EndOfChannel:
            self._raise_if_abnormal()
            raise
        finally:
            self._reading = False

    def receive_nowait(self) -> ServerMessage:
        """The next server message if one is waiting (same endings as ``receive``).

        Raises:
            trio.WouldBlock: none is waiting.
        """
        try:
            return self._channel.receive_nowait()
        except trio.EndOfChannel:
            self._raise_if_abnormal()
            raise

    def _raise_if_abnormal(self) -> None:
        closed = self._state.close_reason()
        if closed is not None and not closed.normal:
            raise self._state.closed_error() from None

    def clone(self) -> SessionReceiveChannel:
        """Another handle on the same stream (messages are split between handles)."""
        return SessionReceiveChannel(self._state, self._channel.clone())

    async def aclose(self) -> None:
        """Close this handle; the session goes on serving the connection."""
        await self._channel.aclose()
