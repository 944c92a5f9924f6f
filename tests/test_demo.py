"""``rtsession demo`` end to end: bundled real speech through the local server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rtsession.audio import bytes_to_ms, read_wav


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["local", "gemini-local"])
def test_demo_on_the_bundled_clips(tmp_path: Path, provider: str) -> None:
    """The same app code on the OpenAI and the Gemini side of the local server."""
    reply = tmp_path / "reply.wav"
    command = [sys.executable, "-m", "rtsession.cli", "demo", "--provider", provider, "--fast"]
    done = subprocess.run(
        [*command, "--output", str(reply)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
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
