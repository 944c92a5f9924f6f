"""One web page on a WebSocket, relayed to one session: the page's microphone frames go to
the session, the session's events and reply audio go to the page, and the page's reports of
what it has played drive the ``PlaybackTracker`` that ``BargeIn`` reads."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Final, final

import attrs
import orjson
import trio

from .. import messages as m
from .._errors import ConnectError, SessionClosedError
from ..audio import PlaybackTracker
from ..session import Session
from ._protocol import (
    PROTOCOL,
    AudioFrame,
    Event,
    PageProtocolError,
    Played,
    Stop,
    ended_event,
    event_for,
    parse_page_frame,
)

if TYPE_CHECKING:
    from starlette.websockets import WebSocket

__all__ = ["MAX_PAGE_ERRORS", "PageConnection"]


MAX_PAGE_ERRORS: Final = 20
"""Protocol errors a page may make before the relay closes its WebSocket (1008)."""

_OUTBOX_SIZE: Final = 64
"""Events and audio frames queued toward the page; a slower page slows the session's
receive side, which slows the socket to the provider (backpressure, not buffering)."""

_POLICY_VIOLATION: Final = 1008
_INTERNAL_ERROR: Final = 1011


@attrs.frozen
class _Audio:
    part: tuple[str, int]
    generation: int  # the flush count when it was queued: a later flush drops it
    pcm: bytes


@attrs.frozen
class _Close:
    code: int
    reason: str


_WAKE: Final = object()
"""Queued by ``flush`` so an idle writer sends the ``flush`` event at once."""


@final
class PageConnection:
    """One page on an accepted Starlette ``WebSocket`` (subprotocol ``rtsession.web.v1``),
    and the ``Playback`` that ``BargeIn`` silences: give it to ``BargeIn(page)`` in the
    session's middleware, then ``await page.relay(session)``.

    ::

        page = PageConnection(websocket, input_rate=24_000, output_rate=24_000)
        async with open_session(provider, options, middleware=[BargeIn(page)]) as session:
            await page.relay(session)

    Its ``tracker`` follows the page's ``played`` reports, so a barge-in truncates the
    reply at what the user heard (to within the page's report interval). ``flush`` tells the
    page to drop what it has not played, and drops the reply audio still queued here.

    Args:
        websocket: the page's WebSocket, accepted with ``subprotocol=PROTOCOL``.
        input_rate: the session's input rate, in Hz: the page's microphone frames.
        output_rate: the session's output rate, in Hz: the reply audio sent to the page.
        max_errors: protocol errors (bad frames, unknown events) tolerated before the
            WebSocket is closed with 1008.
    """

    __slots__ = (
        "_announced",
        "_generation",
        "_outbox",
        "_outbox_send",
        "_rates",
        "_sent_generation",
        "_tracker",
        "_websocket",
        "errors",
        "max_errors",
    )

    def __init__(
        self,
        websocket: WebSocket,
        *,
        input_rate: int,
        output_rate: int,
        max_errors: int = MAX_PAGE_ERRORS,
    ) -> None:
        self._websocket = websocket
        self._rates = (input_rate, output_rate)
        self._tracker = PlaybackTracker()
        self._outbox_send, self._outbox = trio.open_memory_channel[object](_OUTBOX_SIZE)
        self._generation = 0
        self._sent_generation = 0
        self._announced: tuple[str, int] | None = None
        self.max_errors = max_errors
        self.errors = 0
        """Protocol errors the page has made so far."""

    @property
    def tracker(self) -> PlaybackTracker:
        """The played position of each reply part, as the page reports it."""
        return self._tracker

    def flush(self) -> None:
        """Drop the reply audio not yet sent and tell the page to drop what it has not
        played (a ``flush`` event before anything else it is sent)."""
        self._generation += 1
        # if the outbox is full, the writer is busy and sees the new generation before
        # its next frame
        with contextlib.suppress(trio.WouldBlock):
            self._outbox_send.send_nowait(_WAKE)

    async def relay(self, session: Session) -> None:
        """Relay until the page sends ``stop`` or leaves, makes too many protocol errors,
        or the session ends (the page then gets an ``ended`` event and a close).

        Cancellation: stops relaying at once; the WebSocket is left to its owner.
        """
        input_rate, output_rate = self._rates
        await self._send_event(
            {
                "type": "ready",
                "protocol": PROTOCOL,
                "input_rate": input_rate,
                "output_rate": output_rate,
                "provider": session.provider.name,
                "model": session.provider.model,
            }
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._write, nursery.cancel_scope)
            nursery.start_soon(self._from_session, session)
            ending = await self._from_page(session)
            if ending is None:
                nursery.cancel_scope.cancel(reason="the page left")
            else:
                await self._outbox_send.send(ending)  # the writer closes, then stops all

    # --- page to session -----------------------------------------------------------------

    async def _from_page(self, session: Session) -> _Close | None:
        """Relay the page's frames; returns how to close the WebSocket (``None``: the page
        has gone)."""
        input_rate = self._rates[0]
        while True:
            message = await self._websocket.receive()
            if message["type"] == "websocket.disconnect":
                return None
            frame = message.get("bytes")
            if frame is None:
                frame = message.get("text") or ""
            try:
                parsed = parse_page_frame(frame, input_rate=input_rate)
            except PageProtocolError as exc:
                self.errors += 1
                if self.errors > self.max_errors:
                    return _Close(_POLICY_VIOLATION, f"more than {self.max_errors} protocol errors")
                await self._outbox_send.send(
                    {"type": "error", "code": exc.code, "message": str(exc)}
                )
                continue
            if isinstance(parsed, AudioFrame):
                await session.send(m.InputAudioBufferAppend(audio=parsed.pcm))
            elif isinstance(parsed, Played):
                self._tracker.update(parsed.item_id, parsed.content_index, parsed.ms)
            elif isinstance(parsed, Stop):
                return _Close(1000, "stopped")

    # --- session to page -----------------------------------------------------------------

    async def _from_session(self, session: Session) -> None:
        close = _Close(1000, "the session ended")
        error: BaseException | None = None
        try:
            async for message in session:
                if isinstance(message, m.ResponseOutputAudioDelta):
                    part = (message.item_id, message.content_index)
                    await self._outbox_send.send(_Audio(part, self._generation, message.delta))
                    continue
                event = event_for(message)
                if event is not None:
                    await self._outbox_send.send(event)
        except (SessionClosedError, ConnectError) as exc:
            close, error = _Close(_INTERNAL_ERROR, "the session failed"), exc
        await self._outbox_send.send(ended_event(error))
        await self._outbox_send.send(close)

    async def _write(self, scope: trio.CancelScope) -> None:
        """The one task that writes to the page."""
        async for item in self._outbox:
            if self._sent_generation != self._generation:
                self._sent_generation = self._generation
                self._announced = None
                await self._send_event({"type": "flush"})
            if isinstance(item, _Audio):
                if item.generation != self._generation:
                    continue  # queued before a flush
                if item.part != self._announced:
                    self._announced = item.part
                    item_id, content_index = item.part
                    await self._send_event(
                        {"type": "audio", "item_id": item_id, "content_index": content_index}
                    )
                await self._websocket.send_bytes(item.pcm)
            elif isinstance(item, _Close):
                await self._websocket.close(item.code, item.reason)
                scope.cancel(reason=item.reason)
                return
            elif isinstance(item, dict):
                await self._send_event(item)

    async def _send_event(self, event: Event) -> None:
        await self._websocket.send_text(orjson.dumps(event).decode())
