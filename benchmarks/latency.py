"""Latency: what each middleware stage adds, barge-in reaction, and session close time.

- ``stages`` (in process, no sockets): an in-memory connection feeds one server frame at a
  time to ``open_session`` and times it until the app's ``async for`` sees the message
  (server -> app), and times each ``session.send`` until the frame reaches the connection's
  ``send`` (app -> server); one message in flight, so this is the unloaded latency. The added
  latency of a stage is its configuration's median minus the no-middleware median.
- ``bargein`` (two processes): the benchmark server streams 50 audio deltas per second and,
  every 100 ms, an ``input_audio_buffer.speech_started``; the app, while sending 50 appends
  per second, answers each with ``ResponseCancel`` and ``ConversationItemTruncate``. Timed
  from the server writing ``speech_started`` to the socket: until the app sees it, and until
  the server has read the cancel and the truncate off its socket.
- ``close``: time to leave an idle session's ``async with`` block (flush, close frame, the
  server's answer, tasks ended).

``python -m benchmarks.latency bargein|close --port P ...`` runs one client process.
"""

from __future__ import annotations

import argparse
import gc
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import trio

from benchmarks import corpus
from benchmarks._common import Progress, ServerProcess, emit, median, run_child, summary

# --- per-stage latency, in memory --------------------------------------------------------------


class _MemoryConnection:
    """A Connection whose frames come from a channel and whose sends are timed."""

    def __init__(self) -> None:
        self.inbound, self._frames = trio.open_memory_channel[str | bytes](0)
        self.on_send: Callable[[str | bytes], None] = lambda frame: None

    async def send(self, frame: str | bytes) -> None:
        self.on_send(frame)
        await trio.lowlevel.checkpoint()

    async def receive(self) -> str | bytes:
        from rtsession import SessionClosedError

        try:
            return await self._frames.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise SessionClosedError("closed", code=1000) from None

    async def aclose(self) -> None:
        self._frames.close()
        await trio.lowlevel.checkpoint()


class _MemoryProvider:
    """Provider and Transport in one: OpenAI GA codec over a :class:`_MemoryConnection`."""

    name = "openai"
    model = "gpt-realtime"

    def __init__(self) -> None:
        self.connection = _MemoryConnection()

    def connect_request(self, kind: str = "conversation") -> Any:
        from rtsession.transport import ConnectRequest

        return ConnectRequest(url="ws://127.0.0.1:1/v1/realtime")

    def make_codec(self) -> Any:
        from rtsession.wire.openai import OpenAICodec

        return OpenAICodec()

    async def connect(self, nursery: trio.Nursery, request: Any) -> _MemoryConnection:
        await trio.lowlevel.checkpoint()
        return self.connection


def _stage_configs() -> dict[str, Callable[[], Sequence[Any]]]:
    from benchmarks._stacks import get_weather, make_stack, otel_providers
    from rtsession.middleware import (
        FunctionInvocation,
        Logging,
        OpenTelemetry,
        Relay,
        StageChannels,
        StageContext,
        observe,
        run_relay,
    )

    class TaskStage:
        """A task stage that forwards everything: one task hop, the unit of the table."""

        async def run(self, context: StageContext, channels: StageChannels) -> None:
            await run_relay(Relay, context, channels)

    def logging_on() -> Sequence[Any]:
        logger = logging.getLogger("benchmarks.latency.records")
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
        return (Logging(logger),)

    def otel() -> Sequence[Any]:
        tracer_provider, meter_provider = otel_providers()
        return (OpenTelemetry(tracer_provider=tracer_provider, meter_provider=meter_provider),)  # type: ignore[arg-type]

    return {
        "none": lambda: (),
        "task stage (no-op Relay)": lambda: (TaskStage(),),
        "observe() (no-op callback, fused)": lambda: (observe(on_server=lambda m: None),),
        "Logging (records off, the default level)": lambda: (Logging(),),
        "Logging (records on, NullHandler)": logging_on,
        "OpenTelemetry (SDK providers)": otel,
        "FunctionInvocation (incl. ResponseGate)": lambda: (FunctionInvocation([get_weather]),),
        "default stack (3 stages)": lambda: make_stack("default"),
    }


async def _stage_latency(stages: Sequence[Any], n: int) -> dict[str, list[float]]:
    from rtsession import open_session
    from rtsession.messages import InputAudioBufferAppend

    provider = _MemoryProvider()
    frame = next(
        f for e, f in zip(corpus.server_events(), corpus.server_frames(), strict=True)
        if e["type"] == "response.output_audio.delta"
    ).decode()  # fmt: skip
    down: list[float] = []
    up: list[float] = []
    sent_at = [0]
    arrived = trio.Event()

    def on_send(_: str | bytes) -> None:
        up.append(time.perf_counter_ns() - sent_at[0])
        arrived.set()

    provider.connection.on_send = on_send
    async with open_session(provider, middleware=stages, transport=provider) as session:
        inbound = provider.connection.inbound
        iterator = session.__aiter__()
        for _ in range(20):  # warm up
            await inbound.send(frame)
            await iterator.__anext__()
        gc.collect()
        gc.disable()
        try:
            for _ in range(n):
                start = time.perf_counter_ns()
                await inbound.send(frame)
                await iterator.__anext__()
                down.append(time.perf_counter_ns() - start)
            pcm = corpus.pcm_frame()
            up.clear()
            for _ in range(n):
                arrived = trio.Event()
                sent_at[0] = time.perf_counter_ns()
                await session.send(InputAudioBufferAppend(audio=pcm))
                await arrived.wait()
        finally:
            gc.enable()
    return {"down_us": [v / 1000 for v in down], "up_us": [v / 1000 for v in up]}


def stages(*, n: int, reps: int, progress: Progress) -> dict[str, Any]:
    """Each configuration in its own trio.run, interleaved ``reps`` times."""
    configs = _stage_configs()
    samples: dict[str, list[dict[str, list[float]]]] = {name: [] for name in configs}
    for _ in range(reps):
        for name, make in configs.items():
            samples[name].append(trio.run(_stage_latency, make(), n))
    rows = []
    for name in configs:
        runs = samples[name]
        row: dict[str, Any] = {"config": name}
        for direction in ("down", "up"):
            per_run = [summary(r[f"{direction}_us"]) for r in runs]
            row[f"{direction}_p50_us"] = median([s["p50"] or 0.0 for s in per_run])
            row[f"{direction}_p99_us"] = median([s["p99"] or 0.0 for s in per_run])
        rows.append(row)
    base = rows[0]
    for row in rows:
        stages_in = 3 if row["config"].startswith("default") else 1
        for key in ("down_p50_us", "down_p99_us", "up_p50_us", "up_p99_us"):
            row[f"added_{key}"] = row[key] - base[key]
            row[f"added_per_stage_{key}"] = (row[key] - base[key]) / stages_in
        progress.note(
            f"stage {row['config']}: +{row['added_down_p50_us']:.1f} us down, "
            f"+{row['added_up_p50_us']:.1f} us up (p50)"
        )
    return {"n": n, "reps": reps, "rows": rows}


# --- barge-in, over a socket ------------------------------------------------------------------


async def _bargein(port: int, count: int, stack: str, transport: str) -> dict[str, Any]:
    from benchmarks._stacks import make_stack, make_transport
    from rtsession import OpenAIRealtime, open_session
    from rtsession.messages import (
        ConversationItemTruncate,
        InputAudioBufferAppend,
        InputAudioBufferSpeechStarted,
        ResponseCancel,
    )

    provider = OpenAIRealtime(
        api_key="bench", base_url=f"http://127.0.0.1:{port}/v1?bench=realtime&bargein=100"
    )
    seen_ns: list[int] = []
    pcm = corpus.pcm_frame()

    async def talk(session: Any) -> None:
        while True:
            await session.send(InputAudioBufferAppend(audio=pcm))
            await trio.sleep(corpus.FRAME_MS / 1000)

    async with (
        open_session(
            provider, middleware=make_stack(stack), transport=make_transport(transport)
        ) as session,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(talk, session)
        async for event in session:
            if isinstance(event, InputAudioBufferSpeechStarted):
                now = time.monotonic_ns()
                _, k, written = (event.message_id or "").split("_")
                seen_ns.append(now - int(written))
                await session.send(ResponseCancel(message_id=f"c_{k}"))
                await session.send(
                    ConversationItemTruncate(
                        item_id="item_A1", content_index=0, audio_end_ms=1000,
                        message_id=f"tr_{k}",
                    )
                )  # fmt: skip
                if len(seen_ns) >= count:
                    break
        nursery.cancel_scope.cancel()
    return {"seen_ms": [v / 1e6 for v in seen_ns]}


def bargein(
    server: ServerProcess, *, count: int, configs: Sequence[tuple[str, str]], progress: Progress
) -> dict[str, Any]:
    rows = []
    for stack, transport in configs:
        server.stats()  # reset
        result = run_child(
            [
                "benchmarks.latency", "bargein", "--port", str(server.port),
                "--count", str(count), "--stack", stack, "--transport", transport,
            ],
            timeout=120,
        )  # fmt: skip
        stats = server.stats()
        row = {
            "stack": stack,
            "transport": transport,
            "to_app_ms": summary(result["seen_ms"]),
            "to_cancel_on_wire_ms": stats["bargein_cancel_ms"],
            "to_truncate_on_wire_ms": stats["bargein_truncate_ms"],
        }
        rows.append(row)
        progress.note(
            f"barge-in [{stack}, {transport}]: app sees it p50 "
            f"{row['to_app_ms']['p50']:.2f} ms, truncate on the wire p50 "
            f"{(row['to_truncate_on_wire_ms']['p50'] or 0):.2f} ms"
        )
    return {"count": count, "rows": rows}


# --- session close ---------------------------------------------------------------------------


async def _close(port: int, count: int, stack: str, transport: str) -> dict[str, Any]:
    from benchmarks._stacks import make_stack, make_transport
    from rtsession import OpenAIRealtime, open_session
    from rtsession.messages import SessionCreated

    provider = OpenAIRealtime(api_key="bench", base_url=f"http://127.0.0.1:{port}/v1")
    times: list[float] = []
    for _ in range(count):
        manager = open_session(
            provider, middleware=make_stack(stack), transport=make_transport(transport)
        )
        async with manager as session:
            async for event in session:
                if isinstance(event, SessionCreated):
                    break
            start = time.perf_counter()
        times.append((time.perf_counter() - start) * 1000)
    return {"close_ms": times}


def close(
    server: ServerProcess, *, count: int, configs: Sequence[tuple[str, str]], progress: Progress
) -> dict[str, Any]:
    rows = []
    for stack, transport in configs:
        result = run_child(
            [
                "benchmarks.latency", "close", "--port", str(server.port),
                "--count", str(count), "--stack", stack, "--transport", transport,
            ],
            timeout=120,
        )  # fmt: skip
        row = {"stack": stack, "transport": transport, "close_ms": summary(result["close_ms"])}
        rows.append(row)
        progress.note(
            f"close [{stack}, {transport}]: p50 {row['close_ms']['p50']:.2f} ms, "
            f"p99 {row['close_ms']['p99']:.2f} ms"
        )
    return {"count": count, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("bargein", "close", "stages"))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--stack", default="none")
    parser.add_argument("--transport", default="trio-websocket")
    parser.add_argument("--config", default="none", help="for stages: a configuration name")
    args = parser.parse_args()
    if args.kind == "stages":
        raw = trio.run(_stage_latency, _stage_configs()[args.config](), args.count)
        emit({key: summary(values) for key, values in raw.items()})
        return
    run = _bargein if args.kind == "bargein" else _close
    emit(trio.run(run, args.port, args.count, args.stack, args.transport))


if __name__ == "__main__":
    main()
