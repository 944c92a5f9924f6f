"""The benchmark suite runs in smoke mode and writes well-formed results (never checks speed)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return []


@pytest.mark.slow
def test_smoke_run_writes_results(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "benchmarks", "--smoke", "--out", str(tmp_path)]
    proc = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "[11/11]" in proc.stderr  # progress was shown

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["mode"] == "smoke"
    for section in (
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
    ):
        assert section in results, section
    assert all(math.isfinite(n) for n in _numbers(results))

    assert results["codec"]["decode"]["rtsession_us"] > 0
    assert results["codec"]["decode"]["sdk_us"] > 0
    receive = results["receive"]["rows"]
    assert receive[0]["kind"] == "sdk"
    assert all(row["cpu_us_per_event"] > 0 for row in receive)
    assert all(run["events"] == results["receive"]["n"] for row in receive for run in row["runs"])
    assert results["transports"]["rows"][0]["kind"] == "receive"
    assert results["stages"]["rows"][0]["config"] == "none"
    assert results["bargein"]["rows"][0]["to_app_ms"]["count"] >= 1
    assert results["close"]["rows"][0]["close_ms"]["count"] >= 1
    reconnect = results["reconnect"]
    assert reconnect["switches"] == reconnect["n"] >= 1
    assert reconnect["connections"] == reconnect["switches"] + 1
    for key in (
        "gap_ms",
        "baseline_gap_ms",
        "go_away_to_reconnected_ms",
        "resent_per_switch",
        "dropped_per_switch",
    ):
        assert reconnect[key]["count"] == reconnect["switches"], key
        assert reconnect[key]["p50"] is not None, key
    assert reconnect["appends_sent"] > 0
    assert reconnect["audio_frames_lost"] == 0
    outage = results["outage"]
    assert outage["drops"] == 2
    assert outage["connections"] == 3
    assert outage["outage_app_ms"]["count"] == outage["utterance_ms_cut"]["count"] == 2
    assert [row["items"] for row in outage["replay"]["rows"]] == [0, 20]
    voice = results["voice"]
    assert voice["rounds"] == 1
    assert voice["microphone_overruns"] == 0
    for key in ("mic_to_writer_ms", "speech_end_to_speaker_ms", "barge_in_ms"):
        assert voice[key]["count"] >= 1, key
    telephony = results["telephony"]
    assert [row["case"] for row in telephony["g711"]["rows"]] == [
        "mu-law encode",
        "mu-law decode",
        "A-law encode",
        "A-law decode",
    ]
    assert telephony["bridge"]["calls"] == 2
    assert telephony["bridge"]["caller_to_provider_ms"]["count"] > 0
    assert telephony["bridge"]["provider_to_caller_ms"]["count"] > 0
    sweep = results["capacity"][0]
    assert sweep["runs"][0]["connected"] == sweep["runs"][0]["k"]

    report = (tmp_path / "README.md").read_text()
    assert report.startswith("# rtsession benchmarks")
    assert "| goal | measured | status |" in report
    assert "## Reconnect (Gemini make-before-break" in report
    assert "## Outage (OpenAI, 2 dropped connections)" in report
    assert "## Voice agent on a real sound server (1 rounds)" in report
    assert "## Telephony: G.711 and the Twilio bridge" in report
    for name in ("codec.png", "receive.png", "stages.png", "capacity.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG"), name
