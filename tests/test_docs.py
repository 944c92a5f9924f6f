"""The documentation's complete examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[1] / "docs"


def _first_python_block(page: str) -> str:
    match = re.search(r"```python\n(.*?)```", (DOCS / page).read_text(), re.S)
    assert match is not None, page
    return match.group(1)


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("getting-started.md", "Hello! How can I help you today?\n[completed]\n"),
        (
            "reconnect.md",
            "You said: My name is Ada.\n"
            "reconnected: connection 2, 2 items replayed, after close code 1012\n"
            "You said: Do you remember me.\n"
            "4 items in the conversation\n",
        ),
    ],
)
def test_complete_example_runs(page: str, expected: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(_first_python_block(page))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
