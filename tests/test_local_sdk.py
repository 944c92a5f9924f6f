"""Clients against rtsession.local: the official ``openai`` SDK, rtsession's own session, and
the ``rtsession`` command line.

The SDK is asyncio-only, so it runs in a subprocess (``tests/sdk_clients/openai_turns.py``)
that prints the events it received as JSON lines, each checked against the SDK's own models.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from typing import Any

import pytest
import trio

from _sdk import TIMEOUT, run_sdk_script
from rtsession import messages as m
from rtsession.cli import main
from rtsession.local import open_local_server, protocol_only_engines
from rtsession.providers import OpenAIRealtime
from rtsession.session import open_session


def shape(lines: list[dict[str, Any]]) -> list[str]:
    """Event types in order, each run of deltas folded into one ``"deltas"``."""
    out: list[str] = []
    for line in lines:
        kind = "deltas" if line["type"].endswith(".delta") else line["type"]
        if not (kind == "deltas" and out and out[-1] == "deltas"):
            out.append(kind)
    return out


def response_shape(modality: str) -> list[str]:
    part = (
        ["response.output_audio.done", "response.output_audio_transcript.done"]
        if modality == "audio"
        else ["response.output_text.done"]
    )
    return [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "deltas",
        *part,
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
        "rate_limits.updated",
    ]


async def run_sdk_turns(base_url: str) -> list[dict[str, Any]]:
    return await run_sdk_script("openai_turns.py", base_url)


def check_sdk_turns(lines: list[dict[str, Any]]) -> None:
    turns = {
        turn: [line for line in lines if line["turn"] == turn]
        for turn in ("setup", "text", "audio")
    }
    assert shape(turns["setup"]) == ["session.created", "session.updated"]
    assert shape(turns["text"]) == [
        "conversation.item.added",
        "conversation.item.done",
        *response_shape("text"),
    ]
    assert shape(turns["audio"]) == [
        "session.updated",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        *response_shape("audio"),
    ]
    (text_done,) = [line for line in turns["text"] if line["type"] == "response.output_text.done"]
    assert text_done["text"] == "Hello! How can I help you today?"
    (spoken,) = [
        line for line in turns["audio"] if line["type"] == "response.output_audio_transcript.done"
    ]
    # 1.2 s of tone: a 1.7 s turn with padding, which the protocol-only STT hears as a question
    # about the weather in Paris
    assert spoken["transcript"] == "It is sunny and 21 degrees in Paris."


async def test_the_official_sdk_completes_a_text_turn_and_an_audio_turn() -> None:
    async with open_local_server(engines=protocol_only_engines()) as server:
        lines = await run_sdk_turns(server.base_url)
    check_sdk_turns(lines)


async def test_the_rtsession_client_completes_a_turn() -> None:
    async with open_local_server(engines=protocol_only_engines()) as server:
        provider = OpenAIRealtime(base_url=server.base_url, api_key="local")
        options = m.SessionOptions(output_modalities=("text",))
        with trio.fail_after(10):
            async with open_session(provider, options) as session:
                item = m.MessageItem(role="user", content=(m.InputText(text="thanks!"),))
                await session.send(m.ConversationItemCreate(item=item))
                await session.send(m.ResponseCreate())
                received: list[m.ServerMessage] = []
                async for event in session:
                    received.append(event)
                    if isinstance(event, m.ResponseDone):
                        break
    assert isinstance(received[0], m.SessionCreated)
    assert isinstance(received[1], m.SessionUpdated)
    assert received[1].session.output_modalities == ("text",)
    (text,) = [e.text for e in received if isinstance(e, m.ResponseOutputTextDone)]
    assert text == "You are welcome."
    assert not [e for e in received if isinstance(e, m.Error | m.InvalidServerMessage)]


# --- the command line ----------------------------------------------------------------------------


def test_rtsession_without_a_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "usage: rtsession" in out
    assert "serve" in out


def test_rtsession_with_an_unknown_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'nope'" in err
    assert "usage: rtsession" in err


def test_rtsession_serve_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--host", "--port", "--protocol-only"):
        assert flag in out
    assert main(["serve", "--port", "many"]) == 2


def test_rtsession_serve_on_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port), "--protocol-only"]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


async def test_rtsession_serve_with_the_official_sdk() -> None:
    command = [sys.executable, "-m", "rtsession.cli", "serve", "--port", "0", "--protocol-only"]
    process = await trio.lowlevel.open_process(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        banner = b""
        with trio.fail_after(TIMEOUT):
            while b"Press Ctrl+C" not in banner:
                chunk = await process.stdout.receive_some()
                assert chunk, banner
                banner += chunk
        text = banner.decode()
        listening = next(line for line in text.splitlines() if line.startswith("listening on"))
        url = listening.removeprefix("listening on ").strip()
        assert url.startswith("ws://127.0.0.1:")
        base_url = "http://" + url.removeprefix("ws://").split("/realtime")[0]
        assert f'AsyncOpenAI(api_key="local", base_url="{base_url}")' in text
        check_sdk_turns(await run_sdk_turns(base_url))
        process.send_signal(signal.SIGINT)
        with trio.fail_after(TIMEOUT):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:  # pragma: no cover - only when the test failed
            process.kill()
            await process.wait()
