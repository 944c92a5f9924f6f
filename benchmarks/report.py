"""``results.json`` -> ``README.md`` (tables, goals) and PNG plots (matplotlib)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

GOAL_CPU_RATIO = 0.5
GOAL_SESSIONS_PER_CORE = {"none": 300, "default": 150}
GOAL_FUSED_HOPS = 0.2
"""Added p50 latency per fused stage, in task hops (what a no-op task stage adds)."""
_STACK_STAGES = ("observe()", "Logging", "OpenTelemetry", "FunctionInvocation", "default")
"""The stage rows the latency goal is checked on: the fused stages as the default stack
configures them, a no-op ``observe()``, and the stack itself."""


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _p50_p99(sample: dict[str, Any], digits: int = 1) -> list[str]:
    """The p50 and p99 cells of a :func:`~benchmarks._common.summary`."""
    return [_f(sample["p50"], digits), _f(sample["p99"], digits)]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _goals(results: dict[str, Any]) -> list[str]:
    rows: list[list[str]] = []
    rx = results.get("receive")
    if rx:
        by = {(r["kind"], r.get("stack"), r.get("transport")): r for r in rx["rows"]}
        for transport in ("trio-websocket", "websockets"):
            row = by.get(("rtsession", "default", transport))
            if row:
                ratio = row["cpu_vs_sdk"]
                rows.append(
                    [
                        f"client CPU per received event, default stack ({transport}) <= "
                        f"{GOAL_CPU_RATIO} x the SDK's receive loop",
                        f"{ratio:.2f} x ({_f(row['cpu_us_per_event'])} vs "
                        f"{_f(rx['rows'][0]['cpu_us_per_event'])} us)",
                        "met" if ratio <= GOAL_CPU_RATIO else "not met",
                    ]
                )
    ot = results.get("outage")
    if ot:
        rows.append(
            [
                "client audio frames lost when a connection drops mid-utterance = 0",
                f"{ot['audio_frames_lost']} over {ot['drops']} drops",
                "met" if ot["audio_frames_lost"] == 0 else "not met",
            ]
        )
    for sweep in results.get("capacity", []):
        best = sweep["max_sessions"]
        goal = GOAL_SESSIONS_PER_CORE[sweep["stack"]]
        suffix = "+ (ladder exhausted)" if sweep["ladder_exhausted"] else ""
        rows.append(
            [
                f">= {goal} full-duplex sessions per core at p99 lag <= 20 ms "
                f"({_capacity_name(sweep)})",
                f"{best}{suffix} sessions",
                "met" if best >= goal else "not met",
            ]
        )
    stages = results.get("stages")
    hop = _hop_row(stages)
    if stages and hop:
        goal_rows = [
            row
            for row in stages["rows"]
            if row["config"].split(" ")[0] in _STACK_STAGES and "records on" not in row["config"]
        ]
        for row in goal_rows:
            down, up = _hops(row, hop, "down"), _hops(row, hop, "up")
            rows.append(
                [
                    f"added p50 latency per fused stage <= {GOAL_FUSED_HOPS} task hops: "
                    f"{row['config']}",
                    f"{_f(down, 2)} down, {_f(up, 2)} up",
                    "met" if max(down or 0, up or 0) <= GOAL_FUSED_HOPS else "not met",
                ]
            )
    return _table(["goal", "measured", "status"], rows)


def _gc_cell(gc: dict[str, Any] | None) -> str:
    """Collections per second in the window, per generation, and the longest pause."""
    if not gc:
        return "-"
    rates = " / ".join(_f(gc[f"gen{n}"]["per_second"]) for n in range(3))
    longest = max((gc[f"gen{n}"]["max_ms"] or 0.0) for n in range(3))
    return f"{rates} ({_f(longest)})"


def _hop_row(stages: dict[str, Any] | None) -> dict[str, Any] | None:
    """The no-op task stage's row: one task hop."""
    if not stages:
        return None
    return next((r for r in stages["rows"] if r["config"].startswith("task stage")), None)


def _capacity_name(sweep: dict[str, Any]) -> str:
    name = f"{sweep['stack']} middleware, {sweep['transport']}"
    if sweep.get("gc") == "freeze":
        name += ", gc.freeze() after connecting"
    return name


def _hops(row: dict[str, Any], hop: dict[str, Any] | None, direction: str) -> float | None:
    """The row's added p50 per stage in task hops, or ``None`` without a hop to compare."""
    if hop is None or hop[f"added_{direction}_p50_us"] <= 0:
        return None
    return float(row[f"added_per_stage_{direction}_p50_us"] / hop[f"added_{direction}_p50_us"])


def _ceiling(sweep: dict[str, Any]) -> str:
    """The sessions one core would hold if CPU were the only limit, from the run at the
    largest passing K."""
    run = sweep.get("at_max")
    if not run or not run["cpu_us_per_session_second"]:
        return ""
    ceiling = 1e6 / run["cpu_us_per_session_second"]
    return (
        f" At K={run['k']} the client used {run['cpu_us_per_session_second']:,.0f} us of CPU "
        f"per session-second ({run['cpu_us_per_session_second'] / 100:,.0f} us per event), "
        f"so a fully busy core would hold at most ~{ceiling:,.0f} sessions."
    )


def _before_after(results: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    """This run against the committed baseline (``baseline.json``, an earlier full run):
    ratios to the SDK and task hops compare across runs, microseconds only roughly."""
    rows: list[list[str]] = []

    def row(name: str, before: float | None, after: float | None, digits: int = 1) -> None:
        if before is None or after is None:
            return
        change = f"{(after / before - 1) * 100:+.0f} %" if before else "-"
        rows.append([name, _f(before, digits), _f(after, digits), change])

    receive = {r["client"]: r for r in (results.get("receive") or {}).get("rows", [])}
    for r in (baseline.get("receive") or {}).get("rows", []):
        now = receive.get(r["client"])
        if now is not None and r["kind"] == "rtsession":
            row(f"receive CPU x SDK: {r['client']}", r["cpu_vs_sdk"], now["cpu_vs_sdk"], 2)
            row(
                f"receive CPU us/event: {r['client']}",
                r["cpu_us_per_event"],
                now["cpu_us_per_event"],
            )
    stages = {
        r["config"].replace(", fused", ""): r for r in (results.get("stages") or {}).get("rows", [])
    }
    for r in (baseline.get("stages") or {}).get("rows", []):
        now = stages.get(r["config"])
        if now is None or r["config"] == "none":
            continue
        for direction, arrow in (("down", "server -> app"), ("up", "app -> server")):
            key = f"added_per_stage_{direction}_p50_us"
            row(f"added p50 us per stage, {arrow}: {r['config']}", r[key], now[key])
    sweeps = {_capacity_name(s): s for s in results.get("capacity") or []}
    for sweep in baseline.get("capacity") or []:
        now = sweeps.get(_capacity_name(sweep))
        if now is not None:
            row(
                f"sessions per core: {_capacity_name(sweep)}",
                sweep["max_sessions"],
                now["max_sessions"],
                0,
            )
    return [
        f"## Before and after: {baseline.get('label', 'the baseline')}",
        "",
        f"Against the full run of {baseline['started']} (`baseline.json`). CPU ratios to the "
        "SDK are measured in the same run each time; microseconds move with the machine.",
        "",
        *_table(["metric", "before", "after", "change"], rows),
    ]


def markdown(results: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    env = results["environment"]
    pk = env["packages"]
    out = [
        "# rtsession benchmarks",
        "",
        f"Generated by `python -m benchmarks{' --smoke' if results['mode'] == 'smoke' else ''}`"
        f" ({results['mode']} mode) on {results['started']} in {results['seconds']:.0f} s. "
        "Method and the tuning log: [METHOD.md](METHOD.md); raw numbers: "
        "[results.json](results.json).",
        "",
        f"Machine: {env['cpu']}, {env['cores']} cores, {env['platform']}; "
        f"{env['implementation']} {env['python']}; load average before / after: "
        f"{' '.join(f'{x:.1f}' for x in results['load_average_before'])} / "
        f"{' '.join(f'{x:.1f}' for x in results['load_average_after'])} "
        "(a shared machine: compare ratios within this run, not absolute numbers across runs).",
        "",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in pk.items()) + ".",
        "",
        "## Goals",
        "",
        *_goals(results),
        *(_before_after(results, baseline) if baseline else []),
    ]
    codec = results.get("codec")
    if codec:
        d, e = codec["decode"], codec["encode"]
        out += [
            "## Codec (in process, CPU time)",
            "",
            f"Corpus: {codec['corpus']['server_events']} server events per cycle (a 5 s spoken "
            "answer, a function call turn, an error; 72 % audio deltas) and "
            f"{codec['corpus']['client_events']} client events (mostly 20 ms appends).",
            "",
            *_table(
                ["", "rtsession OpenAICodec", "openai SDK", "rtsession speed-up"],
                [
                    [
                        "decode server events, us/event",
                        _f(d["rtsession_us"]),
                        _f(d["sdk_us"]),
                        f"{d['speedup']:.1f} x",
                    ],
                    ["decode, events/s", _f(d["rtsession_per_s"], 0), _f(d["sdk_per_s"], 0), ""],
                    [
                        "encode client events, us/event",
                        _f(e["rtsession_us"]),
                        _f(e["sdk_us"]),
                        f"{e['speedup']:.1f} x",
                    ],
                    ["encode, events/s", _f(e["rtsession_per_s"], 0), _f(e["sdk_per_s"], 0), ""],
                    [
                        "encode one 20 ms append, us",
                        _f(e["append_rtsession_us"]),
                        _f(e["append_sdk_us"]),
                        "",
                    ],
                ],
            ),
            *_table(
                ["server event", "bytes", "rtsession us", "SDK us", "speed-up"],
                [
                    [
                        t["type"],
                        str(t["bytes"]),
                        _f(t["rtsession_us"]),
                        _f(t["sdk_us"]),
                        f"{t['sdk_us'] / t['rtsession_us']:.1f} x",
                    ]
                    for t in d["per_type"]
                ],
            ),
            "![codec](codec.png)",
            "",
        ]
    rx = results.get("receive")
    if rx:
        out += [
            f"## End-to-end receive ({rx['n']} events, median of {rx['reps']} runs)",
            "",
            "Client process CPU from the trigger to the N-th event seen by the app; each "
            "client in its own process against the same server.",
            "",
            *_table(
                ["client", "CPU us/event", "x SDK", "events/s"],
                [
                    [
                        r["client"],
                        _f(r["cpu_us_per_event"]),
                        f"{r['cpu_vs_sdk']:.2f}",
                        _f(r["events_per_s"], 0),
                    ]
                    for r in rx["rows"]
                ],
            ),
            "![receive](receive.png)",
            "",
        ]
    tr = results.get("transports")
    if tr:
        out += [
            f"## Transports ({tr['n']} messages, median of {tr['reps']} runs)",
            "",
            *_table(
                [
                    "path",
                    "trio-websocket us/msg",
                    "websockets.trio us/msg",
                    "ratio",
                    "trio-websocket msg/s",
                    "websockets.trio msg/s",
                ],
                [
                    [
                        r["kind"],
                        _f(r["trio-websocket"]["cpu_us_per_message"]),
                        _f(r["websockets"]["cpu_us_per_message"]),
                        f"{r['cpu_ratio']:.2f}",
                        _f(r["trio-websocket"]["messages_per_s"], 0),
                        _f(r["websockets"]["messages_per_s"], 0),
                    ]
                    for r in tr["rows"]
                ],
            ),
        ]
    st = results.get("stages")
    if st:
        hop = _hop_row(st)
        out += [
            f"## Latency added per middleware stage (in memory, {st['n']} messages, median "
            f"of {st['reps']} runs)",
            "",
            "Server -> app: a 20 ms audio delta from the connection to the app's `async for`; "
            "app -> server: `session.send` of a 20 ms append until the frame reaches the "
            'connection. "Added" is over the no-middleware row (per stage for the stack).',
            "",
            *_table(
                [
                    "middleware",
                    "down p50 us",
                    "down p99 us",
                    "up p50 us",
                    "up p99 us",
                    "added/stage down p50",
                    "added/stage up p50",
                    "added/stage in task hops (down / up)",
                ],
                [
                    [
                        r["config"],
                        _f(r["down_p50_us"]),
                        _f(r["down_p99_us"]),
                        _f(r["up_p50_us"]),
                        _f(r["up_p99_us"]),
                        _f(r["added_per_stage_down_p50_us"]),
                        _f(r["added_per_stage_up_p50_us"]),
                        f"{_f(_hops(r, hop, 'down'), 2)} / {_f(_hops(r, hop, 'up'), 2)}",
                    ]
                    for r in st["rows"]
                ],
            ),
            "A task hop is what a task stage that forwards everything (a no-op `Relay`) adds: "
            "one more task and channel between the connection and the app, the floor of any "
            "stage with a task of its own. The other rows are fused stages, run inside the "
            "session's reader and writer. Hops are comparable across machines; microseconds "
            "are not.",
            "",
            "![stages](stages.png)",
            "",
        ]
    bi = results.get("bargein")
    if bi:
        out += [
            f"## Barge-in ({bi['count']} interruptions, audio flowing both ways)",
            "",
            "From the server writing `input_audio_buffer.speech_started` to its socket.",
            "",
            *_table(
                [
                    "middleware",
                    "transport",
                    "app sees it p50 / p99 ms",
                    "response.cancel read by the server p50 / p99 ms",
                    "conversation.item.truncate read p50 / p99 ms",
                ],
                [
                    [
                        r["stack"],
                        r["transport"],
                        f"{_f(r['to_app_ms']['p50'], 2)} / {_f(r['to_app_ms']['p99'], 2)}",
                        f"{_f(r['to_cancel_on_wire_ms']['p50'], 2)} / "
                        f"{_f(r['to_cancel_on_wire_ms']['p99'], 2)}",
                        f"{_f(r['to_truncate_on_wire_ms']['p50'], 2)} / "
                        f"{_f(r['to_truncate_on_wire_ms']['p99'], 2)}",
                    ]
                    for r in bi["rows"]
                ],
            ),
        ]
    cl = results.get("close")
    if cl:
        out += [
            f"## Session close ({cl['count']} closes of an idle session)",
            "",
            *_table(
                ["middleware", "transport", "p50 ms", "p99 ms", "max ms"],
                [
                    [
                        r["stack"],
                        r["transport"],
                        _f(r["close_ms"]["p50"], 2),
                        _f(r["close_ms"]["p99"], 2),
                        _f(r["close_ms"]["max"], 2),
                    ]
                    for r in cl["rows"]
                ],
            ),
        ]
    rc = results.get("reconnect")
    if rc:
        out += [
            f"## Reconnect (Gemini make-before-break, {rc['switches']} switches)",
            "",
            "`GeminiLive` with `reconnect=Reconnect()` against `rtsession.local`, in process over "
            "loopback: the app appends 20 ms of 16 kHz audio every 20 ms and asks for a reply "
            "every 100 ms (the local server writes each reply as fast as it can, so server "
            "events come in bursts); `server.send_go_away(5000)` every 1.5 s. Gap: the longest "
            "interval between consecutive server events the app sees from `GoAway` to 500 ms "
            "after `Reconnected`; baseline: the same over windows as long with no switch.",
            "",
            *_table(
                ["", "p50", "p99"],
                [
                    [
                        "longest gap between server events, switch window, ms",
                        *_p50_p99(rc["gap_ms"]),
                    ],
                    ["same, no switch (baseline), ms", *_p50_p99(rc["baseline_gap_ms"])],
                    [
                        "GoAway seen -> Reconnected seen, ms",
                        *_p50_p99(rc["go_away_to_reconnected_ms"]),
                    ],
                    ["client frames re-sent per switch", *_p50_p99(rc["resent_per_switch"], 0)],
                    ["server messages dropped per switch", *_p50_p99(rc["dropped_per_switch"], 0)],
                ],
            ),
            f"Switches seamless / restored: {rc['seamless']} / {rc['restored']} of "
            f"{rc['switches']}. Audio appends sent {rc['appends_sent']:,}, carried by the "
            f"connections {rc['audio_frames_unique']:,} (written {rc['audio_frames_written']:,} "
            f"times), lost **{rc['audio_frames_lost']}**, counted at the "
            f"{rc['audio_lost_counted_at']}.",
            "",
        ]
    ot = results.get("outage")
    if ot:
        rate = ot["replay"]["items_per_s"]
        out += [
            f"## Outage (OpenAI, {ot['drops']} dropped connections)",
            "",
            "`OpenAIRealtime` with `reconnect=Reconnect()` against `rtsession.local` "
            "(protocol-only engines, server VAD), in process over loopback: the app speaks in "
            "real time (1.0 s of tone, 0.8 s of silence, 20 ms appends) and the server closes "
            "every connection (1011) 0.5 s into every other utterance. Audio lost is measured "
            "at the server: the cut utterance's length as its VAD on the new connection saw "
            "it, against the undisturbed ones.",
            "",
            *_table(
                ["", "p50", "p99"],
                [
                    [
                        "server close -> Reconnected seen by the app, ms",
                        *_p50_p99(ot["outage_app_ms"]),
                    ],
                    [
                        "Reconnected.outage_ms (loss seen -> answer), ms",
                        *_p50_p99(ot["outage_session_ms"]),
                    ],
                    ["items replayed per drop", *_p50_p99(ot["replayed_per_drop"], 0)],
                    [
                        "client messages re-sent per drop (held audio)",
                        *_p50_p99(ot["resent_per_drop"], 0),
                    ],
                    [
                        "utterance length, undisturbed, ms",
                        *_p50_p99(ot["utterance_ms_undisturbed"], 0),
                    ],
                    ["utterance length, cut by a drop, ms", *_p50_p99(ot["utterance_ms_cut"], 0)],
                ],
            ),
            f"Client audio frames lost: **{ot['audio_frames_lost']}** over {ot['drops']} drops "
            f"({ot['audio_frames_at_risk_per_drop']} frames of each cut utterance were sent "
            "before the drop).",
            "",
            *_table(
                ["conversation items", "drop -> reply's ResponseCreated, ms"],
                [[f"{r['items']:,}", _f(r["restore_ms"], 1)] for r in ot["replay"]["rows"]],
            ),
            "Replay: "
            + ("n/a" if rate is None else f"**{rate:,.0f} items/s**")
            + " (extra items over extra time, smallest to largest conversation).",
            "",
        ]
    vc = results.get("voice")
    if vc:
        out += [
            f"## Voice agent on a real sound server ({vc['rounds']} rounds)",
            "",
            "What `rtsession talk` runs, in process: PipeWire in user mode with null sinks, "
            "`open_microphone` and `open_speaker` through PortAudio and ALSA, `rtsession.local` "
            "with its real speech engines, `[BargeIn(speaker), FunctionInvocation(...)]`. Each "
            "round speaks the weather question into the virtual microphone, lets the reply play "
            "0.5 s, then speaks over it.",
            "",
            *_table(
                ["", "p50", "p99"],
                [
                    [
                        "microphone frame (PortAudio callback) -> the writer, ms",
                        *_p50_p99(vc["mic_to_writer_ms"], 2),
                    ],
                    [
                        "speech_stopped -> first reply audio at the speaker "
                        "(incl. device latency), ms",
                        *_p50_p99(vc["speech_end_to_speaker_ms"]),
                    ],
                    [
                        "speech_started -> speaker silent (incl. what the device still played), ms",
                        *_p50_p99(vc["barge_in_ms"]),
                    ],
                ],
            ),
            f"Microphone overruns: {vc['microphone_overruns']}; speaker gaps: "
            f"{vc['speaker_gaps']}. The local server answers in tens of ms, so the speaker "
            "figures are mostly the device path; with a real model, add its time to first "
            "audio.",
            "",
        ]
    tp = results.get("telephony")
    if tp:
        bridge = tp["bridge"]
        out += [
            "## Telephony: G.711 and the Twilio bridge",
            "",
            f"G.711 on {tp['g711']['seconds_of_audio']} s of 8 kHz audio, best of the runs, "
            "against CPython's `audioop` (C; removed in Python 3.13), bit-exact to it; "
            "throughput in seconds of audio per CPU second.",
            "",
            *_table(
                ["", "rtsession.audio", "audioop", "time ratio (ours / audioop)"],
                [
                    [
                        row["case"],
                        f"{row['rtsession_x_realtime']:,.0f} x",
                        f"{row['audioop_x_realtime']:,.0f} x",
                        f"{row['ratio']:.2f}",
                    ]
                    for row in tp["g711"]["rows"]
                ],
            ),
            f"`serve_twilio` with {bridge['calls']} scripted callers at once (20 ms media "
            "frames in real time, G.711 straight through to `OpenAIRealtime`, "
            "`rtsession.local` with protocol-only engines), in process over loopback:",
            "",
            *_table(
                ["", "p50", "p99"],
                [
                    [
                        "caller media frame -> the append at the session's writer, ms",
                        *_p50_p99(bridge["caller_to_provider_ms"], 2),
                    ],
                    [
                        "reply delta off the session's reader -> media frame at the caller, ms",
                        *_p50_p99(bridge["provider_to_caller_ms"], 2),
                    ],
                ],
            ),
            "Replies arrive faster than real time, in bursts; the second row includes the "
            "time a frame waits behind the earlier frames of its burst.",
            "",
        ]
    for sweep in results.get("capacity", []):
        out += [
            f"## Capacity: {_capacity_name(sweep)}",
            "",
            f"Largest K with p99 lag <= 20 ms both ways: **{sweep['max_sessions']}**"
            + (" (every K tried passed)" if sweep["ladder_exhausted"] else "")
            + ". Each session sends 50 appends/s and receives 50 deltas/s."
            + _ceiling(sweep),
            "",
            *_table(
                [
                    "K",
                    "down p50 / p99 ms",
                    "up p50 / p99 ms",
                    "server late p99 ms (server CPU %)",
                    "client CPU, % of a core (kernel share)",
                    "CPU us per session-second",
                    "RSS KiB/session",
                    "collections/s gen0 / gen1 / gen2 (longest ms)",
                    "one full collection, ms",
                    "result",
                ],
                [
                    [
                        str(r["k"]),
                        f"{_f(r['downlink_lag_ms']['p50'])} / {_f(r['downlink_lag_ms']['p99'])}",
                        f"{_f(r['uplink_lag_ms']['p50'])} / {_f(r['uplink_lag_ms']['p99'])}",
                        f"{_f(r['server_send_lateness_ms']['p99'])} "
                        f"({_f(r.get('server_cpu_core_fraction', 0) * 100, 0)} %)",
                        f"{_f(r['cpu_core_fraction'] * 100, 0)} "
                        f"({_f(r.get('system_cpu_share', 0) * 100, 0)} %)",
                        _f(r["cpu_us_per_session_second"], 0),
                        _f(r["rss_kb_per_session"], 0),
                        _gc_cell(r.get("gc")),
                        _f((r.get("gc") or {}).get("full_collection_ms")),
                        "pass" if r["passed"] else "FAIL",
                    ]
                    for r in sweep["runs"]
                ],
            ),
        ]
    if results.get("capacity"):
        out += ["![capacity](capacity.png)", ""]
    return "\n".join(out)


def plots(results: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []

    def save(fig: Any, name: str) -> None:
        path = out / name
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    codec = results.get("codec")
    if codec:
        per_type = codec["decode"]["per_type"]
        fig, ax = plt.subplots(figsize=(9, 4.5))
        xs = range(len(per_type))
        ax.barh(
            [x + 0.2 for x in xs],
            [t["rtsession_us"] for t in per_type],
            0.4,
            label="rtsession OpenAICodec",
        )
        ax.barh(
            [x - 0.2 for x in xs],
            [t["sdk_us"] for t in per_type],
            0.4,
            label="openai SDK parse_event",
        )
        ax.set_yticks(list(xs), [t["type"] for t in per_type], fontsize=8)
        ax.set_xlabel("CPU us per decoded event")
        ax.set_title("Decoding one server event")
        ax.legend()
        save(fig, "codec.png")
    rx = results.get("receive")
    if rx:
        fig, ax = plt.subplots(figsize=(9, 4))
        rows = rx["rows"]
        ax.barh(
            range(len(rows)),
            [r["cpu_us_per_event"] for r in rows],
            color=["#888" if r["kind"] != "rtsession" else "#3a7" for r in rows],
        )
        ax.set_yticks(range(len(rows)), [r["client"] for r in rows], fontsize=8)
        ax.invert_yaxis()
        ax.axvline(
            rows[0]["cpu_us_per_event"] * GOAL_CPU_RATIO,
            color="r",
            ls="--",
            label="goal: half the SDK",
        )
        ax.set_xlabel("client CPU us per received event")
        ax.set_title(f"End-to-end receive of {rx['n']} events")
        ax.legend()
        save(fig, "receive.png")
    st = results.get("stages")
    if st:
        rows = st["rows"][1:]
        fig, ax = plt.subplots(figsize=(9, 4))
        xs = range(len(rows))
        ax.barh(
            [x - 0.2 for x in xs],
            [r["added_per_stage_down_p50_us"] for r in rows],
            0.4,
            label="server -> app",
        )
        ax.barh(
            [x + 0.2 for x in xs],
            [r["added_per_stage_up_p50_us"] for r in rows],
            0.4,
            label="app -> server",
        )
        hop = _hop_row(st)
        if hop is not None:
            ax.axvline(
                GOAL_FUSED_HOPS * hop["added_down_p50_us"],
                color="r",
                ls="--",
                label=f"goal for fused stages: {GOAL_FUSED_HOPS} task hops",
            )
        ax.set_yticks(list(xs), [r["config"] for r in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("added p50 latency per stage, us")
        ax.legend()
        save(fig, "stages.png")
    sweeps = results.get("capacity") or []
    if sweeps:
        fig, (lag_ax, cpu_ax) = plt.subplots(1, 2, figsize=(11, 4))
        for sweep in sweeps:
            runs = sweep["runs"]
            name = _capacity_name(sweep)
            ks = [r["k"] for r in runs]
            lag_ax.plot(
                ks,
                [
                    max(r["downlink_lag_ms"]["p99"] or 0, r["uplink_lag_ms"]["p99"] or 0)
                    for r in runs
                ],
                "o-",
                label=name,
            )
            cpu_ax.plot(ks, [r["cpu_core_fraction"] * 100 for r in runs], "o-", label=name)
        lag_ax.axhline(20, color="r", ls="--", label="20 ms")
        lag_ax.set_yscale("log")
        lag_ax.set_xlabel("concurrent sessions K")
        lag_ax.set_ylabel("worse p99 lag (down, up), ms")
        lag_ax.legend(fontsize=8)
        cpu_ax.set_xlabel("concurrent sessions K")
        cpu_ax.set_ylabel("client process CPU, % of one core")
        cpu_ax.legend(fontsize=8)
        save(fig, "capacity.png")
    return written


def write(results: dict[str, Any], out: Path, *, plots: bool = True) -> None:
    """``README.md`` (with a before/after table when ``out`` has a ``baseline.json``) and,
    with ``plots``, the PNG plots."""
    baseline_path = out / "baseline.json"
    baseline = json.loads(baseline_path.read_text()) if baseline_path.exists() else None
    (out / "README.md").write_text(markdown(results, baseline) + "\n")
    if plots:
        globals()["plots"](results, out)
