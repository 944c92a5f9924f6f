"""The app-facing send channel: validates each message with the codec before it enters the
middleware chain."""

from __future__ import annotations

from types import TracebackType
from typing import final

import trio

from .._errors import EncodeError
from ..messages import (
    AudioFormat,
    ClientMessage,
    InputAudioBufferAppend,
    SessionOptions,
    SessionUpdate,
    check_message,
    merge_options,
)
from ..wire import Codec
from ._state import SessionState

__all__ = ["SessionSendChannel", "SendHub"]


@final
class SendHub:
    """What all handles of one session's send channel share: the first hop of the chain."""

    __slots__ = ("_accepted", "_channel", "_codec", "_served", "_state")

    def __init__(
        self,
        state: SessionState,
        codec: Codec,
        channel: trio.MemorySendChannel[ClientMessage],
        served: frozenset[type[ClientMessage]] = frozenset(),
    ) -> None:
        self._state = state
        self._codec = codec
        self._channel = channel
        self._served = served  # consumed by a stage: never reach the codec
        # the options of the SessionUpdates accepted so far, merged (None before the first):
        # what a later update is checked against
        self._accepted: SessionOptions | None = None

    def use_codec(self, codec: Codec) -> None:
        """Validate with ``codec`` from now on (the session moved to a new connection)."""
        self._codec = codec

    def check(self, message: ClientMessage) -> None:
        """Raise what sending ``message`` must raise before it is queued."""
        if self._state.closed is not None:
            raise self._state.closed_error()
        if not isinstance(message, ClientMessage):
            raise TypeError(f"expected a ClientMessage, got {type(message).__name__}")
        check_message(message)
        if isinstance(message, InputAudioBufferAppend):
            width = (self._state.options.input_audio_format or AudioFormat()).sample_bytes
            if len(message.audio) % width:
                raise EncodeError(
                    f"InputAudioBufferAppend.audio holds {len(message.audio)} bytes: PCM16 "
                    f"audio (the session's input format) is whole {width}-byte samples"
                )
        if type(message) not in self._served:
            self._codec.check_client(message, self._accepted)
        if isinstance(message, SessionUpdate):
            accepted = self._accepted
            self._accepted = (
                message.session if accepted is None else merge_options(accepted, message.session)
            )

    async def put(self, message: ClientMessage) -> None:
        try:
            await self._channel.send(message)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise self._state.closed_error() from None

    def close(self) -> None:
        """End the stream toward the provider (the session is closing); blocked senders get
        ``SessionClosedError``."""
        self._channel.close()


@final
class SessionSendChannel(trio.abc.SendChannel[ClientMessage]):
    """A handle on the session's outgoing stream, as ``Session.send_channel`` and its clones.

    ``send`` first encodes the message with the session's codec and drops the result: a
    message the provider's format cannot carry raises ``EncodeError`` here,
    before it enters the middleware chain. The writer encodes again after the middleware
    (which may change or add messages), so each message costs one extra encode, small
    against the WebSocket send itself (``docs/benchmarks``).

    Closing a handle closes only that handle; the stream toward the provider ends when the
    session closes.
    """

    __slots__ = ("_closed", "_hub")

    def __init__(self, hub: SendHub) -> None:
        self._hub = hub
        self._closed = False

    async def send(self, value: ClientMessage) -> None:
        """Validate, then queue ``value`` toward the provider; waits while the chain is full.

        Cancellation: a send cancelled while it waits queues nothing.

        Raises:
            EncodeError: the provider's wire format cannot carry the message.
            TypeError: ``value`` is not a ``ClientMessage``.
            SessionClosedError: the session is closed (by the server: ``code`` and
                ``reason`` are its close frame's).
            trio.ClosedResourceError: this handle was closed.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            if self._closed:
                raise trio.ClosedResourceError("this send channel was closed")
            self._hub.check(value)
        except Exception:
            await trio.lowlevel.cancel_shielded_checkpoint()
            raise
        await self._hub.put(value)

    def clone(self) -> SessionSendChannel:
        """A new handle on the same stream, for another producer.

        Raises:
            trio.ClosedResourceError: this handle was closed.
        """
        if self._closed:
            raise trio.ClosedResourceError("this send channel was closed")
        return SessionSendChannel(self._hub)

    def close(self) -> None:
        """Close this handle (not a checkpoint, so safe in cleanup code)."""
        self._closed = True

    async def aclose(self) -> None:
        """Close this handle."""
        self.close()
        await trio.lowlevel.checkpoint()

    def __enter__(self) -> SessionSendChannel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
