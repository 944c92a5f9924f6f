"""Capacity: K concurrent full-duplex sessions in one client process (one trio thread, so at
most one core), each sending 50 audio appends per second and receiving 50 audio deltas per
second from the benchmark server in another process.

Lags use CLOCK_MONOTONIC, shared by both processes:

- downlink: a delta's ``event_id`` holds the time the server was due to send it; the lag is
  when the app's ``async for`` sees it minus that time (so a late server counts too; the
  server reports its own lateness separately);
- uplink: an append's ``event_id`` holds the time the app was due to send it; the server
  records when it arrives.

A K passes when both p99 lags are <= 20 ms over the measured window (after all sessions are
connected and a warm-up). The sweep climbs a ladder of K until one fails, then bisects.

``python -m benchmarks.capacity --port P --k K --warmup S --duration S [--stack S]
[--transport T]`` runs one client process.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from typing import Any

import trio

from benchmarks import corpus
from benchmarks._common import (
    Progress,
    ServerProcess,
    cpu_seconds,
    emit,
    rss_bytes,
    run_child,
    summary,
    user_system,
)

TICK_NS = corpus.FRAME_MS * 1_000_000
LAG_LIMIT_MS = 20.0
CONNECTS_AT_ONCE = 32


class GcWatch:
    """The interpreter's collections while the window is measured (``gc.callbacks``): how
    many per generation, how long each took, and what they found (cyclic garbage)."""

    def __init__(self) -> None:
        self._started = 0
        self.pauses_ms: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self.collected = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter_ns()
            return
        self.pauses_ms[info["generation"]].append((time.perf_counter_ns() - self._started) / 1e6)
        self.collected += info["collected"]

    def report(self, seconds: float, events: int) -> dict[str, Any]:
        """Per generation in the window, and full collections over the whole client run
        (start-up and connecting included)."""
        return {
            f"gen{gen}": {
                "per_second": len(pauses) / seconds,
                "ms": summary(pauses),
                "max_ms": max(pauses, default=None),
            }
            for gen, pauses in self.pauses_ms.items()
        } | {
            "collected_per_event": self.collected / max(1, events),
            "gen2_whole_run": gc.get_stats()[2]["collections"],
        }


async def _client(
    port: int, k: int, warmup: float, duration: float, stack: str, transport: str, gc_mode: str
) -> dict[str, Any]:
    from benchmarks._stacks import make_stack, make_transport
    from rtsession import OpenAIRealtime, open_session
    from rtsession.messages import InputAudioBufferAppend, ResponseOutputAudioDelta

    pcm = corpus.pcm_frame()
    offset = trio.current_time() - time.monotonic()
    provider = OpenAIRealtime(
        api_key="bench", base_url=f"http://127.0.0.1:{port}/v1?bench=realtime"
    )
    state = {"measuring": False, "connected": 0, "failed": 0}
    down_lag_ns: list[int] = []
    send_late_ns: list[int] = []
    received = [0]
    all_connected = trio.Event()
    limiter = trio.CapacityLimiter(CONNECTS_AT_ONCE)
    make_stack(stack), make_transport(transport)  # imports and shared objects: not per session
    gc.collect()
    rss0 = rss_bytes()

    async def sender(session: Any) -> None:
        start = time.monotonic_ns() + random.randrange(TICK_NS)
        j = 0
        while True:
            due = start + j * TICK_NS
            await trio.sleep_until(due / 1e9 + offset)
            measuring = state["measuring"]
            if measuring:
                send_late_ns.append(time.monotonic_ns() - due)
            prefix = "m" if measuring else "t"
            await session.send(InputAudioBufferAppend(audio=pcm, message_id=f"{prefix}{due}"))
            j += 1

    async def one() -> None:
        await limiter.acquire()
        holding = True
        try:
            async with open_session(
                provider, middleware=make_stack(stack), transport=make_transport(transport)
            ) as session:
                limiter.release()
                holding = False
                state["connected"] += 1
                if state["connected"] == k:
                    all_connected.set()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(sender, session)
                    async for event in session:
                        if type(event) is ResponseOutputAudioDelta and state["measuring"]:
                            down_lag_ns.append(time.monotonic_ns() - int(event.message_id[3:]))
                            received[0] += 1
        finally:
            if holding:
                limiter.release()
                state["failed"] += 1

    async with trio.open_nursery() as nursery:
        t_connect = time.perf_counter()
        for _ in range(k):
            nursery.start_soon(one)
        with trio.move_on_after(60):
            await all_connected.wait()
        connect_seconds = time.perf_counter() - t_connect
        if gc_mode == "freeze":  # what a many-session app may do once set up
            gc.collect()
            gc.freeze()
        await trio.sleep(warmup)
        gc.collect()
        rss1 = rss_bytes()
        watch = GcWatch()
        gc.callbacks.append(watch)
        state["measuring"] = True
        (user0, sys0), cpu0, t0 = user_system(), cpu_seconds(), time.perf_counter()
        await trio.sleep(duration)
        t1, cpu1, (user1, sys1) = time.perf_counter(), cpu_seconds(), user_system()
        state["measuring"] = False
        gc.callbacks.remove(watch)
        full = time.perf_counter()
        gc.collect()  # what one full collection costs with K sessions live
        full_collection_ms = (time.perf_counter() - full) * 1000
        nursery.cancel_scope.cancel()
    window = t1 - t0
    return {
        "k": k,
        "connected": state["connected"],
        "connect_seconds": connect_seconds,
        "window_seconds": window,
        "cpu_seconds": cpu1 - cpu0,
        "cpu_core_fraction": (cpu1 - cpu0) / window,
        "cpu_us_per_session_second": (cpu1 - cpu0) / window / k * 1e6,
        "system_cpu_share": (sys1 - sys0) / max(1e-9, (user1 - user0) + (sys1 - sys0)),
        "rss_base_mb": rss0 / 2**20,
        "rss_mb": rss1 / 2**20,
        "rss_kb_per_session": (rss1 - rss0) / k / 1024,
        "deltas_received": received[0],
        "deltas_expected": int(k * window * 1000 / corpus.FRAME_MS),
        "downlink_lag_ms": summary([v / 1e6 for v in down_lag_ns]),
        "send_lateness_ms": summary([v / 1e6 for v in send_late_ns]),
        "gc": watch.report(window, 2 * received[0]) | {"full_collection_ms": full_collection_ms},
    }


def _one(
    server: ServerProcess,
    k: int,
    *,
    warmup: float,
    duration: float,
    stack: str,
    transport: str,
    gc_mode: str,
) -> dict[str, Any]:
    server.stats()  # reset
    result = run_child(
        [
            "benchmarks.capacity", "--port", str(server.port), "--k", str(k),
            "--warmup", str(warmup), "--duration", str(duration),
            "--stack", stack, "--transport", transport, "--gc", gc_mode,
        ],
        timeout=180,
    )  # fmt: skip
    stats = server.stats()
    result["uplink_lag_ms"] = stats["uplink_lag_ms"]
    result["server_send_lateness_ms"] = stats["server_send_lateness_ms"]
    result["server_cpu_core_fraction"] = stats["cpu_core_fraction"]
    down = result["downlink_lag_ms"]["p99"]
    up = stats["uplink_lag_ms"]["p99"]
    complete = (
        result["connected"] == k and result["deltas_received"] >= 0.9 * (result["deltas_expected"])
    )
    result["passed"] = bool(
        complete and down is not None and up is not None and max(down, up) <= LAG_LIMIT_MS
    )
    return result


def sweep(
    server: ServerProcess,
    ladder: list[int],
    *,
    bisect_steps: int,
    warmup: float,
    duration: float,
    stack: str,
    transport: str,
    gc_mode: str = "default",
    progress: Progress,
) -> dict[str, Any]:
    """Climb ``ladder`` until a K fails, then bisect between the last pass and that K.

    ``gc_mode`` ``"freeze"`` calls ``gc.freeze()`` in the client once all sessions are
    connected, so full collections no longer scan what was set up (fewer long pauses)."""
    runs: list[dict[str, Any]] = []

    def attempt(k: int) -> bool:
        result = _one(
            server,
            k,
            warmup=warmup,
            duration=duration,
            stack=stack,
            transport=transport,
            gc_mode=gc_mode,
        )
        runs.append(result)
        p99 = (result["downlink_lag_ms"]["p99"], result["uplink_lag_ms"]["p99"])
        progress.note(
            f"capacity [{stack}, {transport}, gc {gc_mode}] K={k}: "
            f"p99 lag down/up {_fmt(p99[0])}/{_fmt(p99[1])} ms, "
            f"{result['cpu_core_fraction'] * 100:.0f} % of a core, "
            f"{'pass' if result['passed'] else 'FAIL'}"
        )
        return bool(result["passed"])

    best, failed = 0, None
    for k in ladder:
        if attempt(k):
            best = k
        else:
            failed = k
            break
    if failed is not None:
        low, high = best, failed
        for _ in range(bisect_steps):
            mid = (low + high) // 2
            if mid <= low or mid >= high:
                break
            if attempt(mid):
                low = mid
            else:
                high = mid
        best = low
    at_best = next((r for r in runs if r["k"] == best), None)
    return {
        "stack": stack,
        "transport": transport,
        "gc": gc_mode,
        "max_sessions": best,
        "ladder_exhausted": failed is None,
        "at_max": at_best,
        "runs": sorted(runs, key=lambda r: r["k"]),
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--k", type=int, required=True)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--stack", default="none")
    parser.add_argument("--transport", default="trio-websocket")
    parser.add_argument("--gc", default="default", choices=("default", "freeze"))
    args = parser.parse_args()
    emit(
        trio.run(
            _client,
            args.port,
            args.k,
            args.warmup,
            args.duration,
            args.stack,
            args.transport,
            args.gc,
        )
    )


if __name__ == "__main__":
    main()
