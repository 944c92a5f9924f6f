"""The Twilio Media Streams bridge: one rtsession session per phone call."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from functools import partial
from typing import Final, NoReturn
from xml.sax.saxutils import quoteattr

import attrs
import trio
import trio_websocket

from .. import messages as m
from .._errors import EncodeError, RTSessionError
from .._groups import collapse, reraise
from ..audio import G711_RATE, PlaybackTracker, Resampler, pcm16_to_ulaw, ulaw_to_pcm16
from ..middleware import BargeIn, Middleware
from ..providers import Provider
from ..session import Session, open_session
from ..wire._frames import session_encoding
from ._twilio import (
    Dtmf,
    Mark,
    Media,
    Start,
    Stop,
    TwilioProtocolError,
    clear_frame,
    mark_frame,
    media_frame,
    parse_frame,
)

__all__ = ["TwilioBridge", "TwilioCall", "serve_twilio", "twiml"]

logger = logging.getLogger("rtsession.telephony")

PCMU: Final = m.AudioFormat(type="audio/pcmu")
OUTBOX_FRAMES: Final = 512
"""Frames waiting for the caller's socket (media and marks) before the session waits."""

OnEvent = Callable[["TwilioCall", m.ServerMessage], object]


@attrs.frozen(kw_only=True)
class TwilioCall:
    """One call on the bridge, from its ``start`` message.

    Attributes:
        stream_sid: the media stream (``MZ...``).
        call_sid: the call (``CA...``).
        account_sid: the Twilio account (``AC...``).
        custom_parameters: the ``<Parameter>`` values of the ``<Stream>`` TwiML.
    """

    stream_sid: str
    call_sid: str
    account_sid: str = ""
    custom_parameters: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen
class TwilioBridge:
    """A running bridge, as ``await nursery.start(serve_twilio, ...)`` returns it.

    Attributes:
        host: the address it listens on.
        port: the TCP port (the one the system chose for ``port=0``).
    """

    host: str
    port: int

    @property
    def url(self) -> str:
        """Its WebSocket URL on this machine, e.g. ``ws://127.0.0.1:8080``."""
        return f"ws://{self.host}:{self.port}"


def twiml(stream_url: str) -> str:
    """The TwiML that connects a call to the bridge (a bidirectional ``<Connect><Stream>``):
    answer a Twilio number's voice webhook with it, ``stream_url`` being the bridge's
    public ``wss://`` address."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Response><Connect><Stream url={quoteattr(stream_url)} /></Connect></Response>"
    )


class _MarkedPlayback:
    """The caller's phone as a ``Playback``: audio goes out as
    ``media`` frames, each followed by a ``mark``; Twilio sends each mark back when the audio
    before it has been played, which moves the tracker. ``flush`` sends ``clear``."""

    def __init__(
        self,
        stream_sid: str,
        outbox: trio.MemorySendChannel[str],
        queued: trio.MemoryReceiveChannel[str],
    ) -> None:
        self.tracker = PlaybackTracker()
        self._stream_sid = stream_sid
        self._outbox = outbox
        self._queued = queued  # flush takes back what the writer has not sent
        self._marks: dict[str, tuple[str, int, float]] = {}
        self._sent_ms: dict[tuple[str, int], float] = {}
        self._count = 0

    def frames(self, item_id: str, content_index: int, mulaw: bytes) -> tuple[str, str]:
        """The ``media`` and ``mark`` frames that play ``mulaw`` and report its end."""
        part = (item_id, content_index)
        end_ms = self._sent_ms.get(part, 0.0) + len(mulaw) * 1000 / G711_RATE
        self._sent_ms[part] = end_ms
        self._count += 1
        name = f"rts-{self._count}"
        self._marks[name] = (item_id, content_index, end_ms)
        return media_frame(self._stream_sid, mulaw), mark_frame(self._stream_sid, name)

    def marked(self, name: str) -> None:
        """Twilio played the audio before mark ``name``; marks it sends back for audio a
        ``clear`` dropped are not ours any more and are ignored."""
        position = self._marks.pop(name, None)
        if position is not None:
            self.tracker.update(*position)

    def flush(self) -> None:
        while True:
            try:
                self._queued.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
        self._marks.clear()
        with suppress(trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            self._outbox.send_nowait(clear_frame(self._stream_sid))  # unless the call is over


class _Audio:
    """Between the phone's mu-law at 8 kHz and the session: G.711 as is where the provider
    takes it; else PCM16 at 8 kHz in (the codec resamples it, as it does any input rate)
    and the session's output rate, resampled to 8 kHz, out."""

    def __init__(self, g711: bool, session: Session) -> None:
        self._g711 = g711
        self._session = session
        self._down: Resampler | None = None

    def to_session(self, mulaw: bytes) -> bytes:
        return mulaw if self._g711 else ulaw_to_pcm16(mulaw)

    def to_phone(self, audio: bytes) -> bytes:
        if self._g711:
            return audio
        if self._down is None:  # the first reply audio: the session's options are known
            output = session_encoding(self._session.options.output_audio_format)
            self._down = Resampler(output.sample_rate, G711_RATE)
        return pcm16_to_ulaw(self._down.process(audio))


def _carries_g711(provider: Provider, options: m.SessionOptions) -> bool:
    """Whether the provider's wire format takes G.711 audio (OpenAI, Azure) or needs PCM."""
    update = m.SessionUpdate(
        session=attrs.evolve(options, input_audio_format=PCMU, output_audio_format=PCMU)
    )
    try:
        provider.make_codec().check_client(update)
    except EncodeError:
        return False
    return True


async def serve_twilio(
    provider: Provider,
    options: m.SessionOptions | None = None,
    *,
    middleware: Sequence[Middleware] = (),
    on_event: OnEvent | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    task_status: trio.TaskStatus[TwilioBridge] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Serve Twilio Media Streams: each WebSocket connection is a phone call, bridged to its
    own session with ``provider``. Start it with ``await nursery.start(serve_twilio, ...)``.

    Per call: the session opens with ``options`` and the call's audio formats, and
    ``middleware=[BargeIn(phone), *middleware]``. The caller's ``media`` goes to the session
    (as G.711 where the provider's format takes it, OpenAI and Azure; else as PCM16 at the
    session's rate, Gemini); reply audio goes back as ``media``, each chunk followed by a
    ``mark`` that Twilio returns once it has been played, so ``BargeIn`` truncates at what
    the caller heard and flushes Twilio's buffer with ``clear``. A ``dtmf`` key press reaches
    ``on_event`` as ``InputAudioBufferDtmfEventReceived``. The call ends the session: a
    ``stop`` (or the caller's socket closing) closes it cleanly; a provider failure closes
    the call's socket with a logged reason. A failing call never affects another.

    Args:
        provider: the provider each call talks to.
        options: the session options (instructions, voice, tools, turn detection); the
            bridge sets the audio formats.
        middleware: stages after ``BargeIn``, shared by all calls (each session runs its own
            copy of their per-session state).
        on_event: called with the call and every server message (and DTMF), e.g. to log.
        host: the address to listen on.
        port: the TCP port; 0 lets the system choose.

    Cancellation: every call's session closes; the listening socket closes.
    """
    chosen = options or m.SessionOptions()
    g711 = _carries_g711(provider, chosen)
    call = partial(_serve_call, provider, chosen, g711, tuple(middleware), on_event)

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        try:
            await call(ws)
        except Exception:  # one call's failure is logged and ends only that call
            logger.exception("a call failed")

    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            partial(trio_websocket.serve_websocket, handler, host, port, None)
        )
        task_status.started(TwilioBridge(host, server.port))
        await trio.sleep_forever()
    raise AssertionError("unreachable")


async def _wait_for_start(ws: trio_websocket.WebSocketConnection) -> Start | None:
    """Read up to ``start``; ``None`` if the stream ends first."""
    while True:
        try:
            frame = await ws.get_message()
        except trio_websocket.ConnectionClosed:
            return None
        try:
            event = parse_frame(frame)
        except TwilioProtocolError as error:
            logger.warning("before start: dropped a frame: %s", error)
            continue
        if isinstance(event, Start):
            return event
        if isinstance(event, Stop):
            return None
        if isinstance(event, Media | Mark | Dtmf):
            logger.warning("a %s message before start was dropped", type(event).__name__.lower())


async def _serve_call(
    provider: Provider,
    options: m.SessionOptions,
    g711: bool,
    middleware: tuple[Middleware, ...],
    on_event: OnEvent | None,
    ws: trio_websocket.WebSocketConnection,
) -> None:
    start = await _wait_for_start(ws)
    if start is None:
        return
    call = TwilioCall(
        stream_sid=start.stream_sid,
        call_sid=start.call_sid,
        account_sid=start.account_sid,
        custom_parameters=dict(start.custom_parameters),
    )
    logger.info("call %s started (stream %s)", call.call_sid, call.stream_sid)
    if g711:
        options = attrs.evolve(options, input_audio_format=PCMU, output_audio_format=PCMU)
    else:
        options = attrs.evolve(options, input_audio_format=m.AudioFormat(rate=G711_RATE))
    outbox, to_send = trio.open_memory_channel[str](OUTBOX_FRAMES)
    phone = _MarkedPlayback(call.stream_sid, outbox, to_send.clone())
    show: OnEvent = on_event or (lambda call, event: None)
    reason = "the caller hung up"
    try:
        async with (
            open_session(provider, options, middleware=[BargeIn(phone), *middleware]) as session,
            _one_error(),
            trio.open_nursery() as nursery,
        ):
            audio = _Audio(g711, session)
            nursery.start_soon(_to_caller, ws, to_send)
            nursery.start_soon(_from_provider, session, phone, audio, call, show, outbox)
            await _from_caller(ws, session, phone, audio, call, show)
            nursery.cancel_scope.cancel(reason="the call ended")
    except RTSessionError as error:
        reason = f"the session failed: {error}"
        logger.warning("call %s: %s", call.call_sid, reason)
        with trio.move_on_after(1, shield=True):
            await ws.aclose(1011, "the voice agent failed")
    logger.info("call %s ended: %s", call.call_sid, reason)


@asynccontextmanager
async def _one_error() -> AsyncIterator[None]:
    """A nursery's single failure (the session's end) as itself, not in a group."""
    try:
        yield
    except BaseExceptionGroup as group:
        reraise(collapse(group))


async def _to_caller(
    ws: trio_websocket.WebSocketConnection, frames: trio.MemoryReceiveChannel[str]
) -> None:
    try:
        async for frame in frames:
            await ws.send_message(frame)
    except trio_websocket.ConnectionClosed:
        return


async def _from_provider(
    session: Session,
    phone: _MarkedPlayback,
    audio: _Audio,
    call: TwilioCall,
    show: OnEvent,
    outbox: trio.MemorySendChannel[str],
) -> None:
    async for event in session:
        if isinstance(event, m.ResponseOutputAudioDelta):
            mulaw = audio.to_phone(event.delta)
            if mulaw:
                for frame in phone.frames(event.item_id, event.content_index, mulaw):
                    await outbox.send(frame)
        show(call, event)


async def _from_caller(
    ws: trio_websocket.WebSocketConnection,
    session: Session,
    phone: _MarkedPlayback,
    audio: _Audio,
    call: TwilioCall,
    show: OnEvent,
) -> None:
    """The caller's side until ``stop`` or the socket closes."""
    while True:
        try:
            frame = await ws.get_message()
        except trio_websocket.ConnectionClosed:
            return
        try:
            event = parse_frame(frame)
        except TwilioProtocolError as error:
            logger.warning("call %s: dropped a frame: %s", call.call_sid, error)
            continue
        if isinstance(event, Media):
            if event.payload:
                await session.send(m.InputAudioBufferAppend(audio=audio.to_session(event.payload)))
        elif isinstance(event, Mark):
            phone.marked(event.name)
        elif isinstance(event, Dtmf):
            show(
                call,
                m.InputAudioBufferDtmfEventReceived(
                    event=event.digit, received_at=int(time.time())
                ),
            )
        elif isinstance(event, Stop):
            return
