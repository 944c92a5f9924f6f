"""The whole suite: what runs in each mode, in which order, and where results go."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import attrs

from benchmarks import (
    capacity,
    codec,
    latency,
    outage,
    receive,
    reconnect,
    report,
    telephony,
    transports,
    voice,
)
from benchmarks._common import Progress, environment, server_process

SECTIONS = (
    "codec",
    "receive",
    "transports",
    "stages",
    "bargein",
    "close",
    "reconnect",
    "outage",
    "voice",
    "telephony",
    "capacity",
)


@attrs.frozen
class Sizes:
    """How much each benchmark does; ``FULL`` is run by hand, ``SMOKE`` by the tests."""

    codec_rounds: int
    codec_reps: int
    receive_n: int
    receive_reps: int
    receive_clients: tuple[int, ...]  # indexes into receive.CLIENTS
    transport_n: int
    transport_reps: int
    transport_kinds: tuple[str, ...]
    stage_n: int
    stage_reps: int
    bargein_count: int
    bargein_configs: tuple[tuple[str, str], ...]
    close_count: int
    close_configs: tuple[tuple[str, str], ...]
    reconnect_count: int
    outage_drops: int
    outage_replay_sizes: tuple[int, ...]
    voice_rounds: int
    telephony_calls: int
    g711_reps: int
    capacity_ladder: tuple[int, ...]
    capacity_bisect: int
    capacity_warmup: float
    capacity_duration: float
    capacity_configs: tuple[tuple[str, str, str], ...]  # (stack, transport, gc)


_ALL_CONFIGS = (
    ("none", "trio-websocket"),
    ("default", "trio-websocket"),
    ("none", "websockets"),
    ("default", "websockets"),
)

FULL = Sizes(
    codec_rounds=20,
    codec_reps=5,
    receive_n=20_000,
    receive_reps=3,
    receive_clients=tuple(range(len(receive.CLIENTS))),
    transport_n=20_000,
    transport_reps=3,
    transport_kinds=transports.KINDS,
    stage_n=3000,
    stage_reps=3,
    bargein_count=50,
    bargein_configs=_ALL_CONFIGS,
    close_count=20,
    close_configs=_ALL_CONFIGS,
    reconnect_count=10,
    outage_drops=20,
    outage_replay_sizes=(0, 200, 800),
    voice_rounds=10,
    telephony_calls=20,
    g711_reps=5,
    capacity_ladder=(25, 50, 75, 100, 125, 150, 200, 300, 400),
    capacity_bisect=2,
    capacity_warmup=2.0,
    capacity_duration=5.0,
    capacity_configs=(
        ("none", "trio-websocket", "default"),
        ("default", "trio-websocket", "default"),
        ("none", "websockets", "default"),
        ("none", "trio-websocket", "freeze"),
        ("default", "trio-websocket", "freeze"),
    ),
)

SMOKE = Sizes(
    codec_rounds=1,
    codec_reps=1,
    receive_n=200,
    receive_reps=1,
    receive_clients=(0, 2, 5),
    transport_n=200,
    transport_reps=1,
    transport_kinds=("receive",),
    stage_n=50,
    stage_reps=1,
    bargein_count=2,
    bargein_configs=(("none", "trio-websocket"),),
    close_count=2,
    close_configs=(("none", "websockets"),),
    reconnect_count=2,
    outage_drops=2,
    outage_replay_sizes=(0, 20),
    voice_rounds=1,
    telephony_calls=2,
    g711_reps=1,
    capacity_ladder=(2,),
    capacity_bisect=0,
    capacity_warmup=0.2,
    capacity_duration=0.5,
    capacity_configs=(("none", "trio-websocket", "default"),),
)


def run(out: Path, *, smoke: bool, only: tuple[str, ...] = SECTIONS, plots: bool = True) -> Path:
    """Run the suite and write ``results.json``, ``README.md`` and the plots into ``out``.

    Returns:
        The path of ``results.json``.
    """
    sizes = SMOKE if smoke else FULL
    steps = len(only)
    progress = Progress(steps)
    results: dict[str, Any] = {
        "mode": "smoke" if smoke else "full",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": environment(),
        "load_average_before": os.getloadavg(),
        "sizes": attrs.asdict(sizes),
    }
    start = time.monotonic()
    if "codec" in only:
        progress.step("codec: decode and encode, rtsession vs the openai SDK")
        results["codec"] = codec.run(
            rounds=sizes.codec_rounds, reps=sizes.codec_reps, progress=progress
        )
    with server_process() as server:
        if "receive" in only:
            progress.step(f"end-to-end receive of {sizes.receive_n} events")
            clients = tuple(receive.CLIENTS[i] for i in sizes.receive_clients)
            results["receive"] = receive.run(
                server,
                n=sizes.receive_n,
                reps=sizes.receive_reps,
                clients=clients,
                progress=progress,
            )
        if "transports" in only:
            progress.step("transports: trio-websocket vs websockets.trio")
            results["transports"] = transports.run(
                server,
                n=sizes.transport_n,
                reps=sizes.transport_reps,
                kinds=sizes.transport_kinds,
                progress=progress,
            )
        if "stages" in only:
            progress.step("latency added per middleware stage (in memory)")
            results["stages"] = latency.stages(
                n=sizes.stage_n, reps=sizes.stage_reps, progress=progress
            )
        if "bargein" in only:
            progress.step("barge-in reaction")
            results["bargein"] = latency.bargein(
                server,
                count=sizes.bargein_count,
                configs=sizes.bargein_configs,
                progress=progress,
            )
        if "close" in only:
            progress.step("session close time")
            results["close"] = latency.close(
                server, count=sizes.close_count, configs=sizes.close_configs, progress=progress
            )
        if "reconnect" in only:
            progress.step("reconnect: Gemini make-before-break switches under full-duplex audio")
            results["reconnect"] = reconnect.run(n=sizes.reconnect_count, progress=progress)
        if "outage" in only:
            progress.step("outage: OpenAI connections dropped mid-utterance, conversation replay")
            results["outage"] = outage.run(
                n=sizes.outage_drops, replay_sizes=sizes.outage_replay_sizes, progress=progress
            )
        if "voice" in only:
            progress.step("voice: microphone, speaker and barge-in on a real sound server")
            results["voice"] = voice.run(sizes.voice_rounds, progress=progress)
        if "telephony" in only:
            progress.step("telephony: G.711 against audioop, the Twilio bridge under calls")
            results["telephony"] = telephony.run(
                sizes.telephony_calls, sizes.g711_reps, progress=progress
            )
        if "capacity" in only:
            progress.step("capacity: concurrent full-duplex sessions")
            results["capacity"] = [
                capacity.sweep(
                    server,
                    list(sizes.capacity_ladder),
                    bisect_steps=sizes.capacity_bisect,
                    warmup=sizes.capacity_warmup,
                    duration=sizes.capacity_duration,
                    stack=stack,
                    transport=transport,
                    gc_mode=gc_mode,
                    progress=progress,
                )
                for stack, transport, gc_mode in sizes.capacity_configs
            ]
    results["seconds"] = time.monotonic() - start
    results["load_average_after"] = os.getloadavg()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    path.write_text(json.dumps(results, indent=1, allow_nan=False) + "\n")
    report.write(results, out, plots=plots)
    return path
