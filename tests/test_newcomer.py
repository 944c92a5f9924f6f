"""What a newcomer meets first: errors that say what to do (issue "A newcomer's first hour")."""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import trio
import trio.testing

import rtsession
from rtsession import messages as m
from rtsession.cli import main
from rtsession.local import open_local_server, protocol_only_engines
from rtsession.testing import AppInbox, FakeProvider


def test_asyncio_gets_an_error_that_says_to_use_trio() -> None:
    """Under asyncio, open_session used to fail deep inside trio with
    ``AttributeError: 'RunContext' object has no attribute 'runner'``."""

    async def session() -> None:
        provider = rtsession.OpenAIRealtime(base_url="http://127.0.0.1:9/v1", api_key="x")
        async with rtsession.open_session(provider, m.SessionOptions()):
            pass  # pragma: no cover - refused

    async def server() -> None:
        async with open_local_server(engines=protocol_only_engines()):
            pass  # pragma: no cover - refused

    for entry in (session, server):
        with pytest.raises(rtsession.NotInTrioError, match=r"from asyncio.*trio\.run\(main\)"):
            asyncio.run(entry())


def test_the_providers_are_where_the_docs_use_them() -> None:
    assert rtsession.VertexGeminiLive is rtsession.providers.VertexGeminiLive


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "No such file or directory"), (b"RIFFjunk", "not a WAV file")],
)
def test_the_demo_says_in_one_line_what_is_wrong_with_a_file(
    content: bytes | None, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``rtsession demo missing.wav`` printed an 80-line ExceptionGroup."""
    path = tmp_path / "clip.wav"
    if content is not None:
        path.write_bytes(content)
    assert main(["demo", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"rtsession demo: cannot read {path}: {err.split(': ', 2)[2]}"
    assert says in err
    assert err.count("\n") == 1


SCRIPT = """\
import trio
from rtsession.local import open_local_server

async def main():
    async with open_local_server() as server:
        print("listening")

{call}
"""


@pytest.mark.parametrize("guarded", [False, True])
def test_a_script_without_the_main_guard_is_told_at_once(guarded: bool, tmp_path: Path) -> None:
    """The speech workers import the main script: without the guard it used to die after a
    145-line traceback ("a speech worker process died")."""
    call = 'if __name__ == "__main__":\n    trio.run(main)' if guarded else "trio.run(main)"
    script = tmp_path / "script.py"
    script.write_text(SCRIPT.format(call=call))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    if guarded:
        assert (done.returncode, done.stdout) == (0, "listening\n"), done.stderr
    else:
        assert done.returncode == 1
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("rtsession.local.SpeechWorkerError: ")  # its public home
        assert 'has no `if __name__ == "__main__":` guard' in last
        assert "worker process died" not in done.stderr


def audio_block() -> str:
    """The Python block of docs/getting-started.md's "Audio" section."""
    page = (Path(__file__).parents[1] / "docs" / "getting-started.md").read_text()
    section = page[page.index("## Audio") :]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None
    return found.group(1)


@pytest.mark.slow
async def test_the_getting_started_audio_block_gets_a_reply(
    lazy_clock: trio.testing.MockClock,
) -> None:
    """The block streamed a WAV that does not exist, and stopped at the last word, where
    server VAD may wait for more speech forever. It runs here as written, continuing a
    session (the clip streams in real time: about 12 s)."""
    namespace: dict[str, object] = {}
    body = textwrap.indent(audio_block(), "    ")
    exec(f"async def speak(session, m):\n{body}", namespace)
    inbox = AppInbox()
    async with (
        open_local_server(engines=protocol_only_engines()) as server,
        rtsession.open_session(
            rtsession.OpenAIRealtime(base_url=server.base_url, api_key="local"),
            m.SessionOptions(),
        ) as session,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(inbox.drain, session)
        with trio.fail_after(60):
            await namespace["speak"](session, m)  # type: ignore[operator]
            done = await inbox.receive_of(m.ResponseDone)
        nursery.cancel_scope.cancel()
    assert done.response.status == "completed"
    assert any(isinstance(e, m.ResponseOutputAudioDelta) for e in inbox.received)


@pytest.mark.parametrize("ask", [False, True])
async def test_a_text_turn_without_a_response_request_gets_a_debug_hint(
    ask: bool, lazy_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A text turn without ``ResponseCreate`` waited forever, silently."""
    caplog.set_level(logging.DEBUG, logger="rtsession.session")
    async with (
        open_local_server(engines=protocol_only_engines()) as server,
        rtsession.open_session(
            rtsession.OpenAIRealtime(base_url=server.base_url, api_key="local"),
            m.SessionOptions(output_modalities=("text",)),
        ) as session,
    ):
        item = m.MessageItem(role="user", content=(m.InputText(text="Hello."),))
        await session.send(m.ConversationItemCreate(item=item))
        if ask:
            await session.send(m.ResponseCreate())
        await trio.sleep(6)
    hints = [r for r in caplog.records if "no response was asked for" in r.getMessage()]
    assert len(hints) == (0 if ask else 1)
    assert all(r.levelno == logging.DEBUG for r in hints)


def test_the_pytest_plugin_example_runs_without_a_conftest(tmp_path: Path) -> None:
    """docs/testing.md's plugin example, as a project of its own: its fixtures come from the
    installed plugin, with only pytest-trio's trio mode set."""
    page = (Path(__file__).parents[1] / "docs" / "testing.md").read_text()
    section = page[page.index("## The pytest plugin") :]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    (tmp_path / "test_agent.py").write_text(blocks[0])
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\ntrio_mode = true\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_agent.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


async def test_a_second_concurrent_reader_is_refused() -> None:
    """Two tasks iterating one session split its events silently; the second now gets
    ``trio.BusyResourceError`` (a clone is the way to split them on purpose)."""
    fake = FakeProvider([m.SessionCreated(session=m.SessionOptions())])
    async with rtsession.open_session(fake, transport=fake) as session:
        await session.receive_channel.receive()  # the greeting
        async with trio.open_nursery() as nursery:
            nursery.start_soon(session.receive_channel.receive)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(trio.BusyResourceError, match="already receiving"):
                async for _ in session:
                    pass  # pragma: no cover - refused
            clone = session.receive_channel.clone()
            with trio.move_on_after(0.1):
                await clone.receive()  # a clone is a reader of its own
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("voice", 5, "SessionOptions.voice must be str or None, not 5 (int)"),
        ("instructions", ["be brief"], "SessionOptions.instructions must be str or None"),
        ("output_speed", "fast", "SessionOptions.output_speed must be int or float or None"),
        ("input_audio_format", "pcm16", "must be AudioFormat or None, not 'pcm16' (str)"),
    ],
)
def test_options_of_the_wrong_type_fail_where_they_are_made(
    field: str, value: object, says: str
) -> None:
    with pytest.raises(TypeError, match=re.escape(says)):
        m.SessionOptions(**{field: value})  # type: ignore[arg-type]
