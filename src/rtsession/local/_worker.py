"""Speech work off the event loop: an async facade over speech engines in worker processes.

pocketsphinx holds the GIL while it decodes (hundreds of ms for a turn), so running it in a
thread would stall every other task of the server's trio loop. :func:`open_speech_worker`
runs speech-to-text and text-to-speech in separate processes with ``trio-parallel`` (the trio
ecosystem's process pool) and keeps each process warm: engines cache their models per
process, so only the first call in a process loads them, and :func:`open_speech_worker` makes
that call up front.

Each worker process is a *lane* with one job at a time. Whole-utterance calls go to the least
busy lane; an incremental transcription (:class:`LiveTranscription`) stays on one lane, whose
process keeps the stream's decoder between calls. If that process lost the stream (it died
and was restarted, or evicted the stream to stay within ``max_streams_per_process``), the
facade replays the utterance's audio so far, so results do not depend on it.

Engines marked ``offload=False`` (the protocol-only ones) run inline instead, with no
processes.
"""

from __future__ import annotations

import itertools
import math
import signal
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Final, Protocol, TypeVar

import trio

from .._errors import RTSessionError
from ._speech import SpeechEngines, SpeechToText, TextToSpeech, TranscriptionStream

__all__ = [
    "LiveTranscription",
    "SpeechWorker",
    "SpeechWorkerError",
    "open_speech_worker",
]

T = TypeVar("T")

DEFAULT_MAX_STREAMS: Final = 4
"""Live transcriptions a worker process keeps decoders for (pocketsphinx: ~100 MB each)."""


class SpeechWorkerError(RTSessionError):
    """A speech worker process died (crashed or was killed) during a call.

    The next call starts a fresh process, which loads the models again.
    """


# --------------------------------------------------------------------------------------------
# Worker-process side: module-level functions, picklable by reference.
# --------------------------------------------------------------------------------------------


class _StreamRegistry:
    """The live transcriptions one :class:`SpeechWorker` has open in this process."""

    def __init__(self, max_streams: int | None) -> None:
        self._max = max_streams
        self._streams: OrderedDict[int, tuple[TranscriptionStream, int]] = OrderedDict()

    def accept(
        self, stt: SpeechToText, stream_id: int, rate: int, offset: int, chunk: bytes
    ) -> str | None:
        """Feed ``chunk``, which starts ``offset`` bytes into the utterance.

        Returns ``None`` when this process does not hold the stream at that offset; the caller
        then replays the whole utterance with ``offset=0``.
        """
        entry = self._streams.pop(stream_id, None)
        if offset == 0:
            if entry is not None:
                entry[0].close()
            entry = (stt.open_stream(rate), 0)
        elif entry is None or entry[1] != offset:
            if entry is not None:
                entry[0].close()
            return None
        stream = entry[0]
        try:
            hypothesis = stream.accept(chunk)
        except BaseException:
            stream.close()
            raise
        self._streams[stream_id] = (stream, offset + len(chunk))
        while self._max is not None and len(self._streams) > self._max:
            _, (oldest, _) = self._streams.popitem(last=False)
            oldest.close()
        return hypothesis

    def close(self, stream_id: int) -> None:
        entry = self._streams.pop(stream_id, None)
        if entry is not None:
            entry[0].close()

    def close_all(self) -> None:
        while self._streams:
            _, (stream, _) = self._streams.popitem()
            stream.close()


_REGISTRIES: dict[int, _StreamRegistry] = {}


def _registry(owner: int, max_streams: int | None) -> _StreamRegistry:
    registry = _REGISTRIES.get(owner)
    if registry is None:
        registry = _REGISTRIES[owner] = _StreamRegistry(max_streams)
    return registry


def _job(
    owner: int,
    max_streams: int | None,
    closes: tuple[int, ...],
    fn: Callable[..., T],
    *args: Any,
) -> T:
    """Run one call in the worker, after closing the streams the parent has let go of."""
    if closes:
        registry = _registry(owner, max_streams)
        for stream_id in closes:
            registry.close(stream_id)
    return fn(*args)


def _stream_accept(
    owner: int,
    max_streams: int | None,
    stt: SpeechToText,
    stream_id: int,
    rate: int,
    offset: int,
    chunk: bytes,
) -> str | None:
    return _registry(owner, max_streams).accept(stt, stream_id, rate, offset, chunk)


def _ignore_stop_signals() -> bool:
    """In each worker process: ignore SIGINT and SIGTERM. A signal sent to the whole process
    group (Ctrl+C in a terminal, ``timeout``, systemd, Docker) would otherwise kill the
    workers under the server, which stops them itself when it shuts down."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return True


def _warm_up(stt: SpeechToText, tts: TextToSpeech) -> None:
    for engine in (stt, tts):
        warm_up = getattr(engine, "warm_up", None)
        if callable(warm_up):
            warm_up()


def _transcribe(stt: SpeechToText, pcm16: bytes, rate: int) -> str:
    return stt.transcribe(pcm16, rate)


def _synthesize(tts: TextToSpeech, text: str, rate: int) -> bytes:
    return tts.synthesize(text, rate)


# --------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------


class _Lane(Protocol):
    streams: int

    def load(self) -> int: ...

    async def run(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def accept_stream(
        self, stt: SpeechToText, stream_id: int, rate: int, offset: int, chunk: bytes
    ) -> str | None: ...

    def release_stream(self, stream_id: int) -> None: ...


def _trio_parallel() -> Any:
    """trio-parallel (the ``local`` extra), imported only when worker processes are needed."""
    import trio_parallel  # type: ignore[import-untyped]

    return trio_parallel


class _ProcessLane:
    """One trio-parallel worker process, one job at a time."""

    def __init__(self, context: Any, owner: int, max_streams: int) -> None:
        self._broken: type[BaseException] = _trio_parallel().BrokenWorkerError
        self._context = context
        self._owner = owner
        self._max_streams = max_streams
        self._limiter = trio.CapacityLimiter(1)
        self._pending_closes: list[int] = []
        self.streams = 0

    def load(self) -> int:
        stats = self._limiter.statistics()
        return int(stats.borrowed_tokens) + int(stats.tasks_waiting)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        closes = tuple(self._pending_closes)
        self._pending_closes.clear()
        try:
            result: T = await self._context.run_sync(
                _job, self._owner, self._max_streams, closes, fn, *args, limiter=self._limiter
            )
        except BaseException as exc:
            # The closes may not have reached the worker (e.g. cancelled while queued): keep
            # them for the next job (closing twice is harmless).
            self._pending_closes.extend(closes)
            if isinstance(exc, self._broken):
                raise SpeechWorkerError(f"a speech worker process died: {exc}") from exc
            raise
        return result

    async def accept_stream(
        self, stt: SpeechToText, stream_id: int, rate: int, offset: int, chunk: bytes
    ) -> str | None:
        owner, cap = self._owner, self._max_streams
        return await self.run(_stream_accept, owner, cap, stt, stream_id, rate, offset, chunk)

    def release_stream(self, stream_id: int) -> None:
        # Closed in the worker with the next job; the worker's stream cap bounds the backlog.
        self.streams -= 1
        self._pending_closes.append(stream_id)


class _InlineLane:
    """Runs the engines on the calling thread, for engines that cost microseconds."""

    def __init__(self, owner: int) -> None:
        self._owner = owner
        self.streams = 0

    def load(self) -> int:
        return 0

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        await trio.lowlevel.checkpoint()
        return _job(self._owner, None, (), fn, *args)

    async def accept_stream(
        self, stt: SpeechToText, stream_id: int, rate: int, offset: int, chunk: bytes
    ) -> str | None:
        owner = self._owner
        return await self.run(_stream_accept, owner, None, stt, stream_id, rate, offset, chunk)

    def release_stream(self, stream_id: int) -> None:
        self.streams -= 1
        registry = _REGISTRIES.get(self._owner)
        if registry is not None:
            registry.close(stream_id)


_owner_ids = itertools.count(1)
_stream_ids = itertools.count(1)


class SpeechWorker:
    """Async access to a :class:`SpeechEngines` bundle's speech-to-text and text-to-speech.

    Created by :func:`open_speech_worker`. Any number of tasks may call it concurrently; calls
    queue for the worker processes. A call that has reached a worker process finishes before a
    cancellation takes effect (at most one decode, ~0.1-0.4 s per second of audio), so the
    process and its warm models survive.
    """

    def __init__(
        self, engines: SpeechEngines, lanes: list[_Lane], owner: int, max_streams: int | None
    ) -> None:
        self._engines = engines
        self._lanes = lanes
        self._owner = owner
        self._max_streams = max_streams
        self._closed = False

    @property
    def engines(self) -> SpeechEngines:
        """The engines this worker runs."""
        return self._engines

    def _lane(self) -> _Lane:
        self._check_open()
        return min(self._lanes, key=lambda lane: lane.load())

    async def transcribe(self, pcm16: bytes, rate: int) -> str:
        """Transcribe one whole utterance off the event loop (``SpeechToText.transcribe``).

        Args:
            pcm16: mono PCM16, the turn's audio.
            rate: its sample rate in Hz.

        Returns:
            The transcript, ``""`` for no speech.

        Raises:
            SpeechWorkerError: the worker process died.
            trio.ClosedResourceError: the worker is closed.
        """
        return await self._lane().run(_transcribe, self._engines.stt, bytes(pcm16), rate)

    async def synthesize(self, text: str, rate: int) -> bytes:
        """Speak ``text`` off the event loop (``TextToSpeech.synthesize``).

        Returns:
            Mono PCM16 at ``rate`` Hz.

        Raises:
            SpeechWorkerError: the worker process died.
            trio.ClosedResourceError: the worker is closed.
        """
        return await self._lane().run(_synthesize, self._engines.tts, text, rate)

    def open_transcription(self, rate: int) -> LiveTranscription:
        """Start transcribing one utterance incrementally, for partial results.

        Use it as a context manager (or call ``close()``) so the worker frees the decoder.

        Args:
            rate: the sample rate of the audio to come, in Hz.

        Raises:
            trio.ClosedResourceError: the worker is closed.
        """
        self._check_open()
        lane = min(self._lanes, key=lambda lane: lane.streams)
        lane.streams += 1
        return LiveTranscription(self._engines.stt, lane, next(_stream_ids), rate, self)

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("the speech worker is closed")


class LiveTranscription:
    """One utterance transcribed as it arrives (``TranscriptionStream`` off the loop).

    Feed it the turn's audio with :meth:`accept` and emit the returned hypothesis as
    transcription deltas; take the final transcript from :meth:`SpeechWorker.transcribe` on the
    whole turn. Calls on one transcription are serialized.
    """

    def __init__(
        self, stt: SpeechToText, lane: _Lane, stream_id: int, rate: int, worker: SpeechWorker
    ) -> None:
        self._stt = stt
        self._lane = lane
        self._id = stream_id
        self._rate = rate
        self._worker = worker
        self._audio = bytearray()
        self._lock = trio.Lock()
        self._closed = False

    @property
    def rate(self) -> int:
        """The audio's sample rate in Hz."""
        return self._rate

    @property
    def audio(self) -> bytes:
        """All audio accepted so far (PCM16)."""
        return bytes(self._audio)

    async def accept(self, pcm16: bytes) -> str:
        """Add the next chunk of the utterance.

        The chunk counts as accepted even if the call is cancelled.

        Args:
            pcm16: mono PCM16 at :attr:`rate`, any length.

        Returns:
            The hypothesis for all audio so far (``""`` while nothing is recognised).

        Raises:
            SpeechWorkerError: the worker process died.
            trio.ClosedResourceError: the transcription or the worker is closed.
        """
        if self._closed:
            raise trio.ClosedResourceError("the transcription is closed")
        self._worker._check_open()
        async with self._lock:
            chunk = bytes(pcm16)
            offset = len(self._audio)
            self._audio += chunk
            stt, sid, rate = self._stt, self._id, self._rate
            hypothesis = await self._lane.accept_stream(stt, sid, rate, offset, chunk)
            if hypothesis is None:  # the process lost the stream: replay the utterance
                hypothesis = await self._lane.accept_stream(stt, sid, rate, 0, bytes(self._audio))
            if hypothesis is None:  # pragma: no cover - offset 0 always starts a stream
                raise RuntimeError("the speech worker could not restart a transcription")
            return hypothesis

    def close(self) -> None:
        """Let the worker free this transcription's decoder. Idempotent."""
        if not self._closed:
            self._closed = True
            self._lane.release_stream(self._id)

    def __enter__(self) -> LiveTranscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@asynccontextmanager
async def open_speech_worker(
    engines: SpeechEngines,
    *,
    processes: int = 1,
    max_streams_per_process: int = DEFAULT_MAX_STREAMS,
    warm_up: bool = True,
) -> AsyncIterator[SpeechWorker]:
    """Run a bundle's speech-to-text and text-to-speech off the event loop.

    With ``engines.offload`` (the real engines) this starts ``processes`` worker processes
    (``trio-parallel``, ``spawn`` start method: each is a fresh interpreter that imports the
    engines' modules; as with :mod:`multiprocessing`, a script that opens the worker must
    guard its entry point with ``if __name__ == "__main__":``). The processes live until the
    block exits, which waits for calls in progress. Without ``offload`` no process is started
    and calls run inline.

    Args:
        engines: the engines; with ``offload``, ``stt`` and ``tts`` must be picklable.
        processes: worker processes, each running one call at a time (pocketsphinx needs about
            100 MB per process plus 100 MB per live transcription).
        max_streams_per_process: live transcriptions a process keeps decoders for; beyond it
            the least recently used is dropped and replayed when used again (correct, slower).
        warm_up: load the models in every process before the block starts (about 1 s for the
            real engines), so the first call does not pay for it.

    Yields:
        The :class:`SpeechWorker`.

    Raises:
        ValueError: ``processes`` or ``max_streams_per_process`` is less than 1.
        SpeechWorkerError: a worker process died while warming up.
    """
    if processes < 1:
        raise ValueError(f"processes must be at least 1, got {processes}")
    if max_streams_per_process < 1:
        raise ValueError(
            f"max_streams_per_process must be at least 1, got {max_streams_per_process}"
        )
    owner = next(_owner_ids)
    if not engines.offload:
        worker = SpeechWorker(engines, [_InlineLane(owner)], owner, None)
        try:
            await trio.lowlevel.checkpoint()
            yield worker
        finally:
            worker._closed = True
            registry = _REGISTRIES.pop(owner, None)
            if registry is not None:
                registry.close_all()
        return
    trio_parallel = _trio_parallel()
    async with AsyncExitStack() as stack:
        lanes: list[_Lane] = []
        for _ in range(processes):
            context = await stack.enter_async_context(
                trio_parallel.open_worker_context(idle_timeout=math.inf, init=_ignore_stop_signals)
            )
            lanes.append(_ProcessLane(context, owner, max_streams_per_process))
        worker = SpeechWorker(engines, lanes, owner, max_streams_per_process)
        if warm_up:
            await _warm_up_lanes(lanes, engines)
        try:
            yield worker
        finally:
            worker._closed = True


async def _warm_up_lanes(lanes: list[_Lane], engines: SpeechEngines) -> None:
    try:
        async with trio.open_nursery() as nursery:
            for lane in lanes:
                nursery.start_soon(lane.run, _warm_up, engines.stt, engines.tts)
    except BaseExceptionGroup as group:
        # A failure surfaces as itself, not as a group (DESIGN.md, Session): the processes run
        # the same warm-up, so the first error stands for all of them.
        errors = group.exceptions
        if not all(isinstance(e, Exception) for e in errors):
            raise
        first = errors[0]
        if len(errors) > 1:
            first.add_note(f"({len(errors) - 1} more worker processes failed to warm up)")
        raise first from first.__cause__
