"""Every program in ``examples/`` runs as written and prints what its docstring promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"

EXPECTED = {
    "text_chat.py": (
        "Hello.\nWhat time is it?\n",
        "Hello! How can I help you today?\nIt is twelve o'clock.\n",
    ),
    "voice_turn.py": (
        "",
        "heard: What is the weather in paris today?\n"
        "reply: It is sunny and 21 degrees in Paris.\n"
        "wrote reply.wav (2.8 s)\n",
    ),
    "tools.py": (
        "",
        'called get_weather: {"city":"Paris","temperature_c":21,"condition":"sunny"}\n'
        "It is sunny and 21 degrees in Paris.\n",
    ),
    "record_and_replay.py": (
        "",
        "live:     It is twelve o'clock.\nreplayed: It is twelve o'clock.\n",
    ),
    "custom_stage.py": ("", "resp_0001000001: You are welcome.\n"),
}


def test_every_example_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_example_runs(name: str, tmp_path: Path) -> None:
    given, expected = EXPECTED[name]
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        input=given,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
