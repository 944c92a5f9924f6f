"""The documentation's code: every Python block in ``docs/`` and the README compiles, every
block that is a whole program runs as written, and the complete examples print what their
pages say.

A block that is only an excerpt of a program (it continues a session opened above, or shows
a signature) says so in a line the reader sees, right before its fence
(``*Excerpt, not a whole program:*``; the README's first program, for the real service, says
why it cannot run offline): it is compiled (top-level ``await`` allowed), not run. A program
that needs a microphone and a speaker is marked ``<!-- program: sound -->`` and run on the
test sound server by ``tests/test_voice_agent.py``. Any other block is run as a script.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
EXCERPT = "*Excerpt, not a whole program:*"
SERVICE = (
    "*A whole program for the real OpenAI service (set `OPENAI_API_KEY`); the tests compile "
    "it but, offline, cannot run it:*"
)
SOUND = "<!-- program: sound -->"


def blocks() -> list[tuple[str, int, str, str]]:
    """``(page, index, code, marker)`` for every Python block of the docs and README; the
    marker is the line right before the fence (``""`` when it is not a marker)."""
    found = []
    for page in [*sorted(DOCS.glob("**/*.md")), ROOT / "README.md"]:
        text = page.read_text()
        for index, match in enumerate(re.finditer(r"```python\n(.*?)```", text, re.S)):
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
            name = str(page.relative_to(ROOT))
            marker = EXCERPT if before == SERVICE else before
            found.append(
                (name, index, match.group(1), marker if marker in (EXCERPT, SOUND) else "")
            )
    return found


BLOCKS = blocks()
IDS = [f"{page}#{index}" for page, index, _, _ in BLOCKS]


@pytest.mark.parametrize(("page", "index", "code", "marker"), BLOCKS, ids=IDS)
def test_every_block_compiles(page: str, index: int, code: str, marker: str) -> None:
    compile(code, f"{page}#{index}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


PROGRAMS = [(page, index, code) for page, index, code, marker in BLOCKS if not marker]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("page", "index", "code"), PROGRAMS, ids=[f"{p}#{i}" for p, i, _ in PROGRAMS]
)
def test_every_program_runs(page: str, index: int, code: str, tmp_path: Path) -> None:
    script = tmp_path / "block.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{page}#{index}:\n{done.stderr}"


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
