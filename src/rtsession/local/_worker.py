"""Speech work off the event loop: an async facade over speech engines in worker processes.

pocketsphinx holds the GIL while it decodes (hundreds of ms for a turn), so running it in a
thread would stall every other task of the server's trio loop. ``open_speech_worker``
runs speech-to-text and text-to-speech in separate processes with ``trio-parallel`` (the trio
ecosystem's process pool) and keeps each process warm: engines cache their models per
process, so only the first call in a process loads them, and ``open_speech_worker`` makes
that call up front.

Each worker process is a *lane* with one job at a time; a call goes to the least busy lane.
(An utterance is transcribed while it is spoken by decoding its segments whole as they end,
``_segments.py``, so every call is a whole-audio call.)

Engines marked ``offload=False`` (the protocol-only ones) run inline instead, with no
processes.
"""

from __future__ import annotations

import ast
import math
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import trio

from .._errors import RTSessionError
from ._speech import SpeechEngines
from ._stt import SpeechToText
from ._tts import TextToSpeech

__all__ = ["SpeechWorker", "SpeechWorkerError", "open_speech_worker"]

T = TypeVar("T")


class SpeechWorkerError(RTSessionError):
    """A speech worker process died (crashed or was killed) during a call.

    The next call starts a fresh process, which loads the models again.
    """


# --------------------------------------------------------------------------------------------
# Worker-process side: module-level functions, picklable by reference.
# --------------------------------------------------------------------------------------------


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
    def load(self) -> int: ...

    async def run(self, fn: Callable[..., T], *args: Any) -> T: ...


def _trio_parallel() -> Any:
    """trio-parallel (the ``local`` extra), imported only when worker processes are needed."""
    import trio_parallel  # type: ignore[import-untyped]

    return trio_parallel


class _ProcessLane:
    """One trio-parallel worker process, one job at a time."""

    def __init__(self, context: Any) -> None:
        self._broken: type[BaseException] = _trio_parallel().BrokenWorkerError
        self._context = context
        self._limiter = trio.CapacityLimiter(1)

    def load(self) -> int:
        stats = self._limiter.statistics()
        return int(stats.borrowed_tokens) + int(stats.tasks_waiting)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            result: T = await self._context.run_sync(fn, *args, limiter=self._limiter)
        except self._broken as exc:
            raise SpeechWorkerError(f"a speech worker process died: {exc}") from exc
        return result


class _InlineLane:
    """Runs the engines on the calling thread, for engines that cost microseconds."""

    def load(self) -> int:
        return 0

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        await trio.lowlevel.checkpoint()
        return fn(*args)


class SpeechWorker:
    """Async access to a ``SpeechEngines`` bundle's speech-to-text and text-to-speech.

    Created by ``open_speech_worker``. Any number of tasks may call it concurrently; calls
    queue for the worker processes. A call that has reached a worker process finishes before a
    cancellation takes effect (at most one decode, ~0.1-0.4 s per second of audio), so the
    process and its warm models survive.
    """

    def __init__(self, engines: SpeechEngines, lanes: list[_Lane]) -> None:
        self._engines = engines
        self._lanes = lanes
        self._closed = False

    @property
    def engines(self) -> SpeechEngines:
        """The engines this worker runs."""
        return self._engines

    def _lane(self) -> _Lane:
        if self._closed:
            raise trio.ClosedResourceError("the speech worker is closed")
        return min(self._lanes, key=lambda lane: lane.load())

    async def transcribe(self, pcm16: bytes, rate: int) -> str:
        """Transcribe one whole utterance (or segment of one) off the event loop
        (``SpeechToText.transcribe``).

        Args:
            pcm16: mono PCM16, the audio.
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


@asynccontextmanager
async def open_speech_worker(
    engines: SpeechEngines, *, processes: int = 1, warm_up: bool = True
) -> AsyncIterator[SpeechWorker]:
    """Run a bundle's speech-to-text and text-to-speech off the event loop.

    With ``engines.offload`` (the real engines) this starts ``processes`` worker processes
    (``trio-parallel``, ``spawn`` start method: each is a fresh interpreter that imports the
    engines' modules; as with ``multiprocessing``, a script that opens the worker must
    guard its entry point with ``if __name__ == "__main__":``). The processes ignore SIGINT
    and SIGTERM (a signal to the process group stops the server, which stops them) and live
    until the block exits, which waits for calls in progress. Without ``offload`` no process
    is started and calls run inline.

    Args:
        engines: the engines; with ``offload``, ``stt`` and ``tts`` must be picklable.
        processes: worker processes, each running one call at a time (pocketsphinx needs about
            100 MB per process).
        warm_up: load the models in every process before the block starts (about 1 s for the
            real engines), so the first call does not pay for it.

    Yields:
        The ``SpeechWorker``.

    Raises:
        ValueError: ``processes`` is less than 1.
        SpeechWorkerError: with ``offload``, the main script has no ``if __name__ ==
            "__main__":`` guard (raised at once, naming the fix); or a worker process died
            while warming up.
    """
    if processes < 1:
        raise ValueError(f"processes must be at least 1, got {processes}")
    if engines.offload:
        _check_main_guard()
    if not engines.offload:
        worker = SpeechWorker(engines, [_InlineLane()])
        try:
            await trio.lowlevel.checkpoint()
            yield worker
        finally:
            worker._closed = True
        return
    trio_parallel = _trio_parallel()
    async with AsyncExitStack() as stack:
        lanes: list[_Lane] = []
        for _ in range(processes):
            context = await stack.enter_async_context(
                trio_parallel.open_worker_context(idle_timeout=math.inf, init=_ignore_stop_signals)
            )
            lanes.append(_ProcessLane(context))
        worker = SpeechWorker(engines, lanes)
        if warm_up:
            await _warm_up_lanes(lanes, engines)
        try:
            yield worker
        finally:
            worker._closed = True


def _check_main_guard() -> None:
    """Refuse at once a script whose entry point is not under ``if __name__ ==
    "__main__":``: each spawned worker process imports the main script, and would run it
    again (and die) instead of waiting for speech work.

    Raises:
        SpeechWorkerError: the main script has no such guard.
    """
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    path = getattr(spec, "origin", None) or getattr(main, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return  # an interactive session, python -c, or a frozen program: nothing re-runs
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return
    if not any(_is_main_guard(node) for node in tree.body):
        raise SpeechWorkerError(
            f'{path} has no `if __name__ == "__main__":` guard: the speech worker processes '
            "import the main script, so put its entry point (trio.run(...)) under that guard "
            "(or use protocol_only_engines(), which needs no worker process)"
        )


def _is_main_guard(node: ast.stmt) -> bool:
    """Whether ``node`` is ``if __name__ == "__main__":`` (either way round)."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    test = node.test
    sides = [test.left, *test.comparators]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    values = [s.value for s in sides if isinstance(s, ast.Constant)]
    return names == ["__name__"] and values == ["__main__"] and isinstance(test.ops[0], ast.Eq)


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
