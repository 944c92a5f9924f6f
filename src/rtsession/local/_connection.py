"""One WebSocket connection of the local server: the I/O around a ``ServerSession``.

A connection runs a reader task (frames in, decoded, handed to the session), a writer task
(server messages out, encoded), and one task per job the session asks for: a transcription or
a synthesis through the shared speech worker, or a response's event stream. Speech being
transcribed as it arrives has one task per utterance, fed its audio in order through a
channel (the ``Listen``, ``Hear`` and ``Forget`` jobs are handled at once, in
the order the session gave them).

Every server message goes through one ``Outbox``, filled synchronously by whoever ran the
session, so the wire order is exactly the order the session produced. The outbox is unbounded
but has a high-water mark: response streams and the reader wait below it, so a slow client
slows the server down instead of growing its memory.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Final

import attrs
import trio
import trio_websocket

from .. import messages as m
from .._errors import DecodeError, EncodeError
from ..audio import alaw_to_pcm16, pcm16_to_alaw, pcm16_to_ulaw, ulaw_to_pcm16
from ..wire import Codec
from ._segments import Segmenter
from ._session import (
    Close,
    Forget,
    Hear,
    Job,
    Listen,
    ServerSession,
    Step,
    Stream,
    Synthesize,
    Transcribe,
)
from ._worker import SpeechWorker, SpeechWorkerError

__all__ = ["OpenConnections", "Outbox", "serve_connection"]

HIGH_WATER: Final = 64
"""Messages waiting for the writer beyond which streams and the reader pause."""

logger = logging.getLogger("rtsession.local")


class Outbox:
    """The ordered queue of server messages (and a ``Close``, which ends the stream)
    between the session and the writer task.

    Args:
        high_water: the backlog (in messages) at which ``wait_writable`` starts waiting.
    """

    def __init__(self, high_water: int = HIGH_WATER) -> None:
        self._high_water = high_water
        self._send, self._receive = trio.open_memory_channel[m.ServerMessage | Close](math.inf)
        self._backlog = 0  # messages queued and not yet taken by the writer
        self._below = trio.Event()
        self._below.set()

    @property
    def writable(self) -> bool:
        """Whether the backlog is below the high-water mark."""
        return self._backlog < self._high_water

    def put(self, messages: Iterable[m.ServerMessage | Close]) -> None:
        """Queue messages, in order, without waiting."""
        for message in messages:
            self._send.send_nowait(message)
            self._backlog += 1
        if not self.writable and self._below.is_set():
            self._below = trio.Event()

    async def wait_writable(self) -> None:
        """Wait until the backlog is below the high-water mark (always a checkpoint)."""
        await trio.lowlevel.checkpoint()
        while not self.writable:
            await self._below.wait()

    async def get(self) -> m.ServerMessage | Close:
        """The next message for the writer."""
        message = await self._receive.receive()
        self._backlog -= 1
        if self.writable:
            self._below.set()
        return message


@attrs.define(eq=False)
class _Listening:
    """An utterance transcribed as it arrives: the channel to its task, and how much audio
    was queued (bytes)."""

    audio: trio.MemorySendChannel[bytes]
    queued: int = 0
    finishing: bool = False


class _Connection:
    """The tasks of one connection; see the module docstring."""

    def __init__(
        self,
        ws: trio_websocket.WebSocketConnection,
        codec: Codec,
        session: ServerSession,
        worker: SpeechWorker,
        nursery: trio.Nursery,
        adapt: Callable[[m.ServerMessage], m.ServerMessage],
    ) -> None:
        self._ws = ws
        self._codec = codec
        self._adapt = adapt
        self._session = session
        self._worker = worker
        self._nursery = nursery
        self._outbox = Outbox()
        self._listening: dict[str, _Listening] = {}

    def act(self, action: Callable[[ServerSession], Step]) -> None:
        """Run ``action`` on the session and apply its step (for ``OpenConnections``)."""
        self.apply(action(self._session))

    def apply(self, step: Step) -> None:
        """Queue a step's messages and start its jobs."""
        self._outbox.put(step.messages)
        for job in step.jobs:
            if isinstance(job, Listen | Hear | Forget) or (
                isinstance(job, Transcribe) and job.live and job.item_id in self._listening
            ):
                self._live(job)
            else:
                self._nursery.start_soon(self._run, job)

    def _live(self, job: Listen | Hear | Forget | Transcribe) -> None:
        """Steer the transcription of an utterance as it is spoken (no await: in order)."""
        if isinstance(job, Listen):
            audio, heard = trio.open_memory_channel[bytes](math.inf)
            self._listening[job.item_id] = _Listening(audio)
            self._nursery.start_soon(self._listen, job, self._listening[job.item_id], heard)
            return
        listening = self._listening.get(job.item_id)
        if listening is None:
            return
        if isinstance(job, Hear):
            listening.audio.send_nowait(job.audio)
            listening.queued += len(job.audio)
            return
        del self._listening[job.item_id]
        if isinstance(job, Transcribe):  # the turn ended: the rest of its audio, then done
            listening.audio.send_nowait(job.audio[listening.queued :])
            listening.finishing = True
        listening.audio.close()

    async def _listen(
        self, job: Listen, listening: _Listening, heard: trio.MemoryReceiveChannel[bytes]
    ) -> None:
        """Transcribe one utterance while it is spoken, segment by segment (each decoded
        whole once a pause ends it, ``_segments.py``): each segment's words go to the session
        as they come (deltas); when the turn ends, the last segment, then the transcript."""
        segments = Segmenter(job.rate)
        audio = bytearray()
        decoded = 0  # bytes of audio recognised so far
        words: list[str] = []
        try:
            with heard:
                async for chunk in heard:
                    audio += chunk + _drain(heard)
                    for cut in segments.cuts(audio):
                        words += await self._recognise(segments, audio[decoded:cut], job.rate)
                        decoded = cut
                        if not listening.finishing:
                            self.apply(self._session.heard(job.item_id, " ".join(words)))
                if listening.finishing:
                    words += await self._recognise(segments, audio[decoded:], job.rate)
        except SpeechWorkerError as exc:
            if self._listening.get(job.item_id) is listening:
                del self._listening[job.item_id]  # the turn's end transcribes it whole
            elif listening.finishing:
                self.apply(self._session.transcription_failed(job.item_id, str(exc)))
            return
        if listening.finishing:
            self.apply(self._session.transcribed(job.item_id, " ".join(words)))

    async def _recognise(self, segments: Segmenter, audio: bytearray, rate: int) -> list[str]:
        """The words of one segment (none without speech, which is not decoded)."""
        if not segments.has_speech(audio):
            return []
        started = trio.current_time()
        words = (await self._worker.transcribe(bytes(audio), rate)).split()
        logger.debug(
            "segment of %.0f ms decoded in %.0f ms: %s",
            len(audio) / 2 / rate * 1000,
            (trio.current_time() - started) * 1000,
            " ".join(words),
        )
        return words

    async def read(self) -> None:
        """Frames in until the client closes; invalid frames get an ``error`` event."""
        while True:
            await self._outbox.wait_writable()
            try:
                frame = await self._ws.get_message()
            except trio_websocket.ConnectionClosed:
                return
            self._session.client_frames += 1
            try:
                messages = self._codec.decode_client(frame)
            except DecodeError as exc:
                self.apply(self._session.reject(exc))
                continue
            for message in messages:
                self.apply(self._session.handle(self._expand(message)))

    async def write(self) -> None:
        """Messages out, as the dialect's service sends them, until the client goes away or
        a ``Close`` comes. Messages the dialect does not carry (e.g.
        ``rate_limits.updated`` on a format without it, or an item holding content it has no
        place for) are left out."""
        carried = self._codec.server_types
        while True:
            item = await self._outbox.get()
            if isinstance(item, Close):
                with trio.move_on_after(1, shield=True):
                    await self._ws.aclose(item.code, item.reason)
                return
            message = self._compand(self._adapt(item))
            if type(message) not in carried:
                continue
            try:
                frames = self._codec.encode_server(message)
            except EncodeError as exc:
                logger.warning("left out %s: %s", type(message).__name__, exc)
                continue
            try:
                for frame in frames:
                    await self._ws.send_message(frame)
            except trio_websocket.ConnectionClosed:
                return

    def _expand(self, message: m.ClientMessage) -> m.ClientMessage:
        """G.711 input audio as the PCM16 at 8000 Hz the session handles."""
        fmt = self._session.options.input_audio_format
        if isinstance(message, m.InputAudioBufferAppend) and fmt is not None:
            expand = _EXPAND.get(fmt.type)
            if expand is not None:
                return attrs.evolve(message, audio=expand(message.audio))
        return message

    def _compand(self, message: m.ServerMessage) -> m.ServerMessage:
        """Output audio in the session's G.711 format, from the PCM16 the session makes."""
        fmt = self._session.options.output_audio_format
        if isinstance(message, m.ResponseOutputAudioDelta) and fmt is not None:
            compand = _COMPAND.get(fmt.type)
            if compand is not None:
                return attrs.evolve(message, delta=compand(message.delta))
        return message

    async def _run(self, job: Job) -> None:
        if isinstance(job, Transcribe):
            try:
                transcript = await self._worker.transcribe(job.audio, job.rate)
            except SpeechWorkerError as exc:
                self.apply(self._session.transcription_failed(job.item_id, str(exc)))
            else:
                self.apply(self._session.transcribed(job.item_id, transcript))
        elif isinstance(job, Close):
            await trio.sleep(job.delay)
            self._outbox.put([job])
        elif isinstance(job, Synthesize):
            try:
                audio = await self._worker.synthesize(job.text, job.rate)
            except SpeechWorkerError:
                self.apply(self._session.synthesis_failed(job.response_id))
            else:
                self.apply(self._session.synthesized(job.response_id, audio))
        elif isinstance(job, Stream):
            await self._stream(job)

    async def _stream(self, job: Stream) -> None:
        """Fill the outbox up to its high-water mark, then let the other tasks run."""
        while True:
            await self._outbox.wait_writable()
            while self._outbox.writable:
                step = self._session.stream(job.response_id)
                if not step.messages:
                    return
                self.apply(step)


_EXPAND: Final[dict[str, Callable[[bytes], bytes]]] = {
    "audio/pcmu": ulaw_to_pcm16,
    "audio/pcma": alaw_to_pcm16,
}
_COMPAND: Final[dict[str, Callable[[bytes], bytes]]] = {
    "audio/pcmu": pcm16_to_ulaw,
    "audio/pcma": pcm16_to_alaw,
}


def _drain(channel: trio.MemoryReceiveChannel[bytes]) -> bytes:
    """Everything already queued in ``channel``, joined (one recogniser call for audio that
    piled up while the previous one ran)."""
    chunks: list[bytes] = []
    while True:
        try:
            chunks.append(channel.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            return b"".join(chunks)


class OpenConnections:
    """The open connections of one server, for actions that start outside them
    (``LocalServer.send_go_away``)."""

    def __init__(self) -> None:
        self._connections: set[_Connection] = set()

    def act(self, action: Callable[[ServerSession], Step]) -> int:
        """Run ``action`` on the session of every open connection and apply its step (no
        await: each step is queued before this returns); returns how many there were."""
        for connection in list(self._connections):
            connection.act(action)
        return len(self._connections)

    @contextmanager
    def joined(self, connection: _Connection) -> Iterator[None]:
        """``connection`` counts as open for the duration of the block."""
        self._connections.add(connection)
        try:
            yield
        finally:
            self._connections.discard(connection)


async def serve_connection(
    ws: trio_websocket.WebSocketConnection,
    codec: Codec,
    session: ServerSession,
    worker: SpeechWorker,
    adapt: Callable[[m.ServerMessage], m.ServerMessage],
    connections: OpenConnections,
) -> None:
    """Run one accepted connection until either side closes it.

    Sends the session's greeting, then reads and writes concurrently; speech work goes
    through ``worker``. Returns once the connection is closed (by the client, or because a
    send failed); its remaining tasks are cancelled then.

    Args:
        ws: the accepted WebSocket.
        codec: the dialect's codec, used in its server directions.
        session: the connection's protocol state machine.
        worker: the server's speech worker.
        adapt: what the dialect's service sends in place of each of the session's messages
            (``Dialect.adapt``).
        connections: the server's open connections, which this one joins while it is open.
    """
    async with trio.open_nursery() as nursery:
        connection = _Connection(ws, codec, session, worker, nursery, adapt)
        connection.apply(session.start())
        with connections.joined(connection):
            nursery.start_soon(_then_cancel, connection.write, nursery.cancel_scope)
            await connection.read()
            nursery.cancel_scope.cancel()


async def _then_cancel(run: Callable[[], Awaitable[None]], scope: trio.CancelScope) -> None:
    await run()
    scope.cancel()
