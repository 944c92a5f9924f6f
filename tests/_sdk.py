"""Running the official SDKs' client scripts (``tests/sdk_clients``) in a subprocess."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import trio

SCRIPTS = Path(__file__).parent / "sdk_clients"
TIMEOUT = 60  # seconds: a subprocess that imports the SDK


async def run_sdk_script(name: str, *args: str) -> list[dict[str, Any]]:
    """Run ``sdk_clients/<name>`` with ``args``; the JSON lines it printed. Fails the test
    when the script fails, or when a line reports ``problems`` (what the SDK's models
    refused)."""
    with trio.fail_after(TIMEOUT):
        result = await trio.run_process(
            [sys.executable, str(SCRIPTS / name), *args],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert result.returncode == 0, result.stderr.decode()
    lines: list[dict[str, Any]] = [json.loads(x) for x in result.stdout.decode().splitlines()]
    assert [line for line in lines if "problems" in line] == []
    return lines
