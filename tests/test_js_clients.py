"""``rtsession.local`` judged by JavaScript clients nobody here wrote: the official Google Gen AI
SDK (which dials ``//ws/...`` and writes tool schemas in Gemini's upper-case types) and the
``ws`` library authenticating as OpenAI's browser clients do (subprotocols). Both failed
against the server before: a 404, and "Server sent no subprotocol".

The clients' packages are pinned in ``tests/js_clients/package-lock.json`` and installed with
``npm ci --prefix tests/js_clients`` (the README's test command and ``.ci/run`` do; ``.ci/run``
also installs Node.js from Debian's packages when missing). Without them the tests fail, saying
so; they never download anything themselves.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import trio

from rtsession.local import LocalServer, open_local_server, protocol_only_engines

CLIENTS = Path(__file__).parent / "js_clients"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def js_clients() -> Path:
    """The directory of the JavaScript clients, with their pinned packages installed."""
    if shutil.which("node") is None:
        pytest.fail("Node.js is needed for these tests (Debian: apt-get install nodejs npm)")
    if not (CLIENTS / "node_modules").is_dir():
        pytest.fail("the JavaScript clients are not installed: npm ci --prefix tests/js_clients")
    return CLIENTS


async def run_node(where: Path, script: str, *args: str) -> list[dict[str, object]]:
    node = shutil.which("node")
    assert node is not None
    with trio.fail_after(60):
        done = await trio.run_process(
            [node, script, *args], cwd=where, capture_stdout=True, capture_stderr=True, check=False
        )
    assert done.returncode == 0, done.stderr.decode()
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


async def test_the_google_genai_javascript_sdk_completes_a_turn_and_a_tool_call(
    js_clients: Path,
) -> None:
    async with open_local_server(engines=protocol_only_engines()) as server:
        text, tool = await run_node(js_clients, "gemini_turns.mjs", http_root(server))
    assert text == {"said": "Hello! How can I help you today?", "call": None}
    assert tool == {"said": "", "call": {"name": "get_weather", "args": {"city": "Paris"}}}


async def test_a_browser_style_client_gets_the_realtime_subprotocol(js_clients: Path) -> None:
    async with open_local_server(engines=protocol_only_engines()) as server:
        (result,) = await run_node(
            js_clients, "openai_browser_auth.mjs", f"{server.url}/v1/realtime?model=gpt-realtime"
        )
    assert result == {
        "protocol": "realtime",
        "status": "completed",
        "text": "Hello! How can I help you today?",
    }


def http_root(server: LocalServer) -> str:
    """``http://HOST:PORT``, the base URL the Google Gen AI SDK takes."""
    return f"http://{server.host}:{server.port}"
