"""``rtsession serve`` as a process: TLS from the command line, and a clean stop on SIGTERM or
SIGINT sent to the process or to its whole group (what ``timeout``, systemd and Docker do)."""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest

from rtsession import messages as m
from rtsession.providers import OpenAIRealtime
from rtsession.session import open_session


@attrs.define
class Served:
    """A running ``rtsession serve``: its process, what it printed before it listened, and
    where."""

    process: subprocess.Popen[str]
    banner: str
    url: str


@contextmanager
def serve(*flags: str) -> Iterator[Served]:
    """Start ``rtsession serve --port 0 FLAGS`` in its own process group and wait for its
    banner; the process is killed if the block leaves it running."""
    command = [sys.executable, "-m", "rtsession.cli", "serve", "--port", "0", *flags]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl+C"):
                break
        banner = "".join(lines)
        found = re.search(r"listening on (wss?://[\d.]+:\d+)", banner)
        assert found is not None, banner + (process.stderr.read() if process.stderr else "")
        yield Served(process, banner, found.group(1))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def stop(served: Served, how: signal.Signals, *, group: bool) -> tuple[int, str]:
    """Send ``how`` to the server process (or its whole group); its exit code and stderr."""
    if group:
        os.killpg(served.process.pid, how)
    else:
        served.process.send_signal(how)
    _, stderr = served.process.communicate(timeout=30)
    return served.process.returncode, stderr


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("group", [True, False], ids=["group", "process"])
def test_a_signal_stops_the_server_cleanly(how: signal.Signals, group: bool) -> None:
    """With the real engines the speech worker processes are in the group too: a signal to
    the group used to kill them first, and the server died with a
    ``BrokenWorkerProcessError`` traceback and exit code 1."""
    with serve() as served:
        code, stderr = stop(served, how, group=group)
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().endswith("stopped")


async def one_turn(url: str, context: ssl.SSLContext) -> m.ResponseDone:
    base_url = url.replace("wss://", "https://") + "/v1"
    provider = OpenAIRealtime(base_url=base_url, api_key="local", ssl_context=context)
    async with open_session(provider, m.SessionOptions(output_modalities=("text",))) as session:
        item = m.MessageItem(role="user", content=(m.InputText(text="Hello."),))
        await session.send(m.ConversationItemCreate(item=item))
        await session.send(m.ResponseCreate())
        async for event in session:
            if isinstance(event, m.ResponseDone):
                return event
    raise AssertionError("the session ended without a response")


async def test_serve_tls_makes_a_certificate_and_says_what_to_trust() -> None:
    with serve("--protocol-only", "--tls") as served:
        assert served.url.startswith("wss://")
        trust = re.search(r"trust this certificate authority: (\S+)", served.banner)
        assert trust is not None, served.banner
        context = ssl.create_default_context(cafile=trust.group(1))
        done = await one_turn(served.url, context)
        code, stderr = stop(served, signal.SIGTERM, group=True)
    assert done.response.status == "completed"
    assert code == 0, stderr


async def test_serve_tls_with_a_certificate_of_ones_own(tmp_path: Path) -> None:
    import trustme

    authority = trustme.CA()
    leaf = authority.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    client = ssl.create_default_context()
    authority.configure_trust(client)
    with serve("--protocol-only", "--certfile", str(cert), "--keyfile", str(key)) as served:
        assert served.url.startswith("wss://")
        done = await one_turn(served.url, client)
        stop(served, signal.SIGTERM, group=True)
    assert done.response.status == "completed"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--certfile", "cert.pem"], "--certfile and --keyfile go together"),
        (["--tls", "--certfile", "c", "--keyfile", "k"], "--tls makes its own certificate"),
        (["--certfile", "missing.pem", "--keyfile", "missing.pem"], "cannot load"),
        (["--port", "99999"], "a port is 0 to 65535, not 99999"),
        (["--speech-processes", "0"], "at least 1"),
    ],
)
def test_serve_refuses_bad_tls_flags(flags: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rtsession.cli", "serve", "--protocol-only", "--port", "0", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert message in done.stderr
