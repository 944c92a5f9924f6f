"""``rtsession demo`` end to end: bundled real speech through the local server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rtsession.audio import bytes_to_ms, read_wav

DEMO = (sys.executable, "-m", "rtsession.cli", "demo")


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    """``rtsession demo`` with ``args``, in a subprocess (its stdout and stderr kept)."""
    return subprocess.run([*DEMO, *args], capture_output=True, text=True, timeout=240, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["local", "gemini-local"])
def test_demo_on_the_bundled_clips(tmp_path: Path, provider: str) -> None:
    """The same app code on the OpenAI and the Gemini side of the local server."""
    reply = tmp_path / "reply.wav"
    done = demo("--provider", provider, "--fast", "--output", str(reply))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    table = out[out.index("| turn |") :].splitlines()
    jfk, weather = table[2], table[3]
    assert jfk.startswith("| jfk.wav |")
    assert "fellow american" in jfk.lower()
    assert weather.startswith("| weather-question_flite_16k.wav |")
    assert "what is the weather in paris" in weather.lower()
    assert "get_weather -> succeeded" in weather
    assert "It is sunny and 21 degrees in Paris." in weather
    assert "ms |" in weather  # speech end -> first reply audio was measured
    pcm, rate = read_wav(reply)
    assert rate == 24_000
    assert bytes_to_ms(len(pcm), rate) > 1_000


@pytest.mark.slow
def test_demo_transcribe_only(tmp_path: Path) -> None:
    """``--transcribe``: a transcription session; the real speech is transcribed, nothing
    answers, no reply audio is written."""
    reply = tmp_path / "reply.wav"
    done = demo("--transcribe", "--fast", "--output", str(reply))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "assistant:" not in out
    table = out[out.index("| turn |") :].splitlines()
    assert table[0] == "| turn | speech end -> transcript | you said |"
    jfk, weather = table[2], table[3]
    assert "fellow american" in jfk.lower()
    assert "what is the weather in paris" in weather.lower()
    assert " ms |" in weather  # speech end -> transcript was measured
    assert not reply.exists()


def test_demo_transcribe_on_gemini_says_why_not() -> None:
    done = demo("--transcribe", "--provider", "gemini-local")
    assert done.returncode == 1
    assert "Gemini Live has no transcription-only session" in done.stderr
    assert "Traceback" not in done.stderr
