"""A/B comparison of two copies of rtsession's ``src/`` (a tuning's before and after).

``python -m benchmarks.ab --a /path/to/before/src --b src [--reps 5] [--metrics ...]``

Each metric runs in child processes with the variant's ``src/`` first on ``PYTHONPATH``, A
and B alternating, against one benchmark server; the table gives the medians and B / A.
Lower is better for every metric (CPU time per event or message, or latency).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._common import ServerProcess, median, run_child, server_process

Metric = Callable[[ServerProcess, str], float]


def _receive(stack: str, transport: str, n: int) -> Metric:
    def metric(server: ServerProcess, path: str) -> float:
        result = run_child(
            ["benchmarks.receive", "rtsession", "--port", str(server.port), "--n", str(n),
             "--stack", stack, "--transport", transport],
            timeout=120, pythonpath=path,
        )  # fmt: skip
        return float(result["cpu_seconds"] / result["events"] * 1e6)

    return metric


def _transport(kind: str, transport: str, n: int) -> Metric:
    def metric(server: ServerProcess, path: str) -> float:
        result = run_child(
            ["benchmarks.transports", kind, "--port", str(server.port), "--n", str(n),
             "--transport", transport],
            timeout=120, pythonpath=path,
        )  # fmt: skip
        return float(result["cpu_seconds"] / result["messages"] * 1e6)

    return metric


def _realtime(k: int, stack: str, transport: str) -> Metric:
    def metric(server: ServerProcess, path: str) -> float:
        result = run_child(
            ["benchmarks.capacity", "--port", str(server.port), "--k", str(k),
             "--warmup", "1", "--duration", "4", "--stack", stack, "--transport", transport,
             "--gc", "default"],
            timeout=120, pythonpath=path,
        )  # fmt: skip
        return float(result["cpu_us_per_session_second"]) / 100  # 100 events per second

    return metric


def _stage(config: str, direction: str, n: int) -> Metric:
    def metric(server: ServerProcess, path: str) -> float:
        result = run_child(
            ["benchmarks.latency", "stages", "--count", str(n), "--config", config],
            timeout=120, pythonpath=path,
        )  # fmt: skip
        return float(result[f"{direction}_us"]["p50"])

    return metric


METRICS: dict[str, tuple[str, Metric]] = {
    "receive-none": (
        "receive CPU us/event, no middleware",
        _receive("none", "trio-websocket", 20000),
    ),
    "receive-default": (
        "receive CPU us/event, default stack",
        _receive("default", "trio-websocket", 20000),
    ),
    "receive-default-ws": (
        "receive CPU us/event, default stack, websockets",
        _receive("default", "websockets", 20000),
    ),
    "receive-none-ws": (
        "receive CPU us/event, no middleware, websockets",
        _receive("none", "websockets", 20000),
    ),
    "session-send": (
        "session.send CPU us/message",
        _transport("session-send", "trio-websocket", 20000),
    ),
    "session-send-ws": (
        "session.send CPU us/message, websockets",
        _transport("session-send", "websockets", 20000),
    ),
    "realtime": (
        "realtime CPU us/event, 50 sessions, no middleware",
        _realtime(50, "none", "trio-websocket"),
    ),
    "realtime-default": (
        "realtime CPU us/event, 50 sessions, default stack",
        _realtime(50, "default", "trio-websocket"),
    ),
    "stage-down": ("latency p50 us, server -> app, no middleware", _stage("none", "down", 3000)),
    "stage-up": ("latency p50 us, app -> server, no middleware", _stage("none", "up", 3000)),
    "stage-default-down": (
        "latency p50 us, server -> app, default stack",
        _stage("default stack (3 stages)", "down", 3000),
    ),
    "stage-otel-down": (
        "latency p50 us, server -> app, OpenTelemetry",
        _stage("OpenTelemetry (SDK providers)", "down", 3000),
    ),
    "stage-fi-down": (
        "latency p50 us, server -> app, FunctionInvocation",
        _stage("FunctionInvocation (incl. ResponseGate)", "down", 3000),
    ),
    "stage-default-up": (
        "latency p50 us, app -> server, default stack",
        _stage("default stack (3 stages)", "up", 3000),
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab")
    parser.add_argument("--a", required=True, help="the 'before' src/ folder")
    parser.add_argument("--b", required=True, help="the 'after' src/ folder")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--metrics", default="receive-none,receive-default,session-send")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args()
    names = [name.strip() for name in args.metrics.split(",") if name.strip()]
    paths = {"a": str(Path(args.a).resolve()), "b": str(Path(args.b).resolve())}
    samples: dict[str, dict[str, list[float]]] = {name: {"a": [], "b": []} for name in names}
    with server_process() as server:
        for rep in range(args.reps):
            for name in names:
                order = ("a", "b") if rep % 2 == 0 else ("b", "a")
                for variant in order:
                    value = METRICS[name][1](server, paths[variant])
                    samples[name][variant].append(value)
                print(
                    f"rep {rep + 1}/{args.reps} {name}: a {samples[name]['a'][-1]:.2f} "
                    f"b {samples[name]['b'][-1]:.2f}",
                    file=sys.stderr,
                    flush=True,
                )
    rows: list[dict[str, Any]] = []
    print("| metric | A (before) | B (after) | B / A (median of paired runs) |")
    print("|---|---|---|---|")
    for name in names:
        a, b = median(samples[name]["a"]), median(samples[name]["b"])
        paired = median(
            [y / x for x, y in zip(samples[name]["a"], samples[name]["b"], strict=True)]
        )
        rows.append(
            {"metric": name, "label": METRICS[name][0], "a": a, "b": b, "ratio": paired,
             "samples": samples[name]}
        )  # fmt: skip
        print(f"| {METRICS[name][0]} | {a:.2f} | {b:.2f} | {paired:.3f} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"a": paths["a"], "b": paths["b"], "reps": args.reps,
                                        "rows": rows}, indent=1) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
