"""``rtsession web``: the relay protocol over loopback (a page played by trio-websocket against
``rtsession.local``'s protocol-only engines), and the real page in headless Chromium with a
fake microphone fed from the bundled speech, driven by Playwright (``tests/js_clients``)."""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio_websocket
from hypothesis import given, strategies as st

from _servers import upgrade_status
from _speech import tone
from rtsession import messages as m
from rtsession.audio import read_wav, sample, write_wav
from rtsession.cli._demo import get_weather
from rtsession.local import open_local_server, protocol_only_engines
from rtsession.providers import GeminiLive, OpenAIRealtime, Provider
from rtsession.web import MAX_PAGE_ERRORS, PROTOCOL, RELAY_PATH, create_app, serve_web
from rtsession.web._protocol import AudioFrame, PageProtocolError, Played, Stop, parse_page_frame

RATE = 24_000
FRAME = 2 * RATE // 50  # 20 ms of PCM16
OPTIONS = m.SessionOptions(
    input_audio_format=m.AudioFormat(type="audio/pcm", rate=RATE),
    output_audio_format=m.AudioFormat(type="audio/pcm", rate=RATE),
    input_transcription=m.InputTranscription(),
    turn_detection=m.ServerVad(silence_duration_ms=300, create_response=True),
)
# 1.2 s of tone between silences: the protocol-only STT hears it as a weather question
QUESTION = bytes(RATE) + tone(1.2, RATE) + bytes(2 * RATE)
CLIENTS = Path(__file__).parent / "js_clients"


@asynccontextmanager
async def relay_server(
    *, gemini: bool = False, options: m.SessionOptions = OPTIONS, **kwargs: Any
) -> AsyncIterator[str]:
    """``create_app`` over ``rtsession.local`` (spoken to as OpenAI, or as Gemini Live),
    served on a free loopback port; yields the page's URL."""
    async with (
        open_local_server(engines=protocol_only_engines()) as local,
        trio.open_nursery() as nursery,
    ):
        provider: Provider = (
            GeminiLive(base_url=local.url, api_key="local")
            if gemini
            else OpenAIRealtime(base_url=local.base_url, api_key="local")
        )
        app = create_app(provider, options, tools=[get_weather], **kwargs)
        url = await nursery.start(partial(serve_web, app, port=0))
        yield url
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def page(
    url: str, *, origin: str | None = None, subprotocols: tuple[str, ...] = (PROTOCOL,)
) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    """A page's WebSocket to the relay (Origin: the relay's own, unless given). The TCP
    stream is closed here: trio-websocket leaves it open when the server closes first."""
    host, port = url.removeprefix("http://").split(":")
    headers = [("Origin", origin or url)]
    async with await trio.open_tcp_stream(host, int(port)) as stream, trio.open_nursery() as n:
        ws = await trio_websocket.wrap_client_stream(
            n,
            stream,
            f"{host}:{port}",
            RELAY_PATH,
            subprotocols=list(subprotocols),
            extra_headers=headers,
        )
        try:
            yield ws
        finally:
            await ws.aclose()


async def events_until(
    ws: trio_websocket.WebSocketConnection, done: Any, audio: list[bytes] | None = None
) -> list[dict[str, Any]]:
    """Events until one for which ``done(event)`` is true; binary frames go to ``audio``."""
    events: list[dict[str, Any]] = []
    with trio.fail_after(10):
        while True:
            message = await ws.get_message()
            if isinstance(message, bytes):
                if audio is not None:
                    audio.append(message)
                continue
            event = json.loads(message)
            events.append(event)
            if done(event):
                return events


async def read_to_the_end(ws: trio_websocket.WebSocketConnection) -> None:
    while True:
        await ws.get_message()


def of_type(kind: str) -> Any:
    return lambda event: event["type"] == kind


def transcript_done(role: str) -> Any:
    """Whether an event is the end of a transcript of ``role`` (``user``, ``assistant``)."""
    return lambda event: event["type"] == "transcript_done" and event["role"] == role


async def speak(ws: trio_websocket.WebSocketConnection, pcm: bytes = QUESTION) -> None:
    for start in range(0, len(pcm), FRAME):
        await ws.send_message(pcm[start : start + FRAME])


async def test_a_spoken_turn_through_the_relay() -> None:
    async with relay_server() as url, page(url) as ws:
        assert ws.subprotocol == PROTOCOL
        (ready,) = await events_until(ws, of_type("ready"))
        assert ready == {
            "type": "ready",
            "protocol": PROTOCOL,
            "input_rate": RATE,
            "output_rate": RATE,
            "provider": "openai",
            "model": "gpt-realtime",
        }
        await speak(ws)
        audio: list[bytes] = []
        events = await events_until(ws, transcript_done("assistant"), audio)
    kinds = [e["type"] for e in events]
    assert kinds.index("speech_started") < kinds.index("speech_stopped")
    user = next(filter(transcript_done("user"), events))
    assert user["text"] == "What is the weather in paris today?"
    call = next(e for e in events if e["type"] == "tool_call")
    assert (call["name"], json.loads(call["arguments"])) == ("get_weather", {"city": "Paris"})
    result = next(e for e in events if e["type"] == "tool_result")
    assert (result["call_id"], result["outcome"]) == (call["call_id"], "succeeded")
    assert events[-1]["text"] == "It is sunny and 21 degrees in Paris."
    assert any(e["type"] == "audio" for e in events)
    assert sum(len(frame) for frame in audio) > RATE  # more than 0.5 s of reply audio


async def test_a_spoken_turn_with_gemini_rates() -> None:
    """Gemini Live hears 16 kHz and speaks 24 kHz: the page is told both rates, sends
    16 kHz frames and gets 24 kHz audio."""
    gemini_rates = attrs.evolve(
        OPTIONS,
        input_audio_format=m.AudioFormat(type="audio/pcm", rate=16_000),
        input_transcription=m.InputTranscription(),
    )
    async with relay_server(gemini=True, options=gemini_rates) as url, page(url) as ws:
        (ready,) = await events_until(ws, of_type("ready"))
        assert (ready["input_rate"], ready["output_rate"], ready["provider"]) == (
            16_000,
            24_000,
            "gcp.gemini",  # the OpenTelemetry provider name
        )
        question = bytes(16_000) + tone(1.2, 16_000) + bytes(2 * 16_000)
        for start in range(0, len(question), 640):  # 20 ms at 16 kHz
            await ws.send_message(question[start : start + 640])
        audio: list[bytes] = []
        events = await events_until(ws, transcript_done("assistant"), audio)
    assert any(e["type"] == "tool_call" and e["name"] == "get_weather" for e in events)
    assert events[-1]["text"] == "It is sunny and 21 degrees in Paris."
    assert sum(len(frame) for frame in audio) > 24_000  # over 0.5 s at 24 kHz


BAD_FRAMES: list[tuple[bytes | str, str]] = [
    (b"\x00", "bad_audio"),  # half a sample
    (bytes(2 * RATE // 5 + 2), "bad_audio"),  # more than 200 ms
    ("not json", "bad_json"),
    ("[1, 2]", "bad_json"),
    ('{"type": "dance"}', "unknown_event"),
    ('{"type": "played", "item_id": 1, "content_index": 0, "ms": 5}', "bad_event"),
    ('{"type": "played", "item_id": "i", "content_index": 0, "ms": -1}', "bad_event"),
]


async def test_bad_input_gets_an_error_event_and_the_session_goes_on() -> None:
    async with relay_server() as url, page(url) as ws:
        await events_until(ws, of_type("ready"))
        for frame, _ in BAD_FRAMES:
            await ws.send_message(frame)
        errors = await events_until(ws, lambda e: e["type"] == "error" and e["code"] == "bad_event")
        assert [e["code"] for e in errors if e["type"] == "error"][: len(BAD_FRAMES) - 1] == [
            code for _, code in BAD_FRAMES[:-1]
        ]
        await speak(ws)
        done = await events_until(ws, transcript_done("user"))
        assert done[-1]["text"] == "What is the weather in paris today?"


async def test_a_flood_closes_that_page_and_no_other() -> None:
    async with relay_server() as url, page(url) as flood, page(url) as calm:
        await events_until(flood, of_type("ready"))
        await events_until(calm, of_type("ready"))
        for _ in range(MAX_PAGE_ERRORS + 1):
            await flood.send_message("{}")
        with trio.fail_after(10), pytest.raises(trio_websocket.ConnectionClosed) as closed:
            await read_to_the_end(flood)
        assert closed.value.reason is not None
        assert closed.value.reason.code == 1008
        assert closed.value.reason.reason == f"more than {MAX_PAGE_ERRORS} protocol errors"
        await speak(calm)
        done = await events_until(calm, transcript_done("assistant"))
        assert done[-1]["text"] == "It is sunny and 21 degrees in Paris."


async def relay_status(url: str, origin: str, subprotocol: str | None = PROTOCOL) -> int:
    """The HTTP status of a WebSocket upgrade to the relay, from ``origin``, asking for
    ``subprotocol``."""
    host, port = url.removeprefix("http://").split(":")
    headers = [f"Origin: {origin}"]
    if subprotocol:
        headers.append(f"Sec-WebSocket-Protocol: {subprotocol}")
    return await upgrade_status(host, int(port), RELAY_PATH, *headers)


async def test_pages_from_other_origins_and_without_the_subprotocol_are_refused() -> None:
    async with relay_server() as url:
        assert await relay_status(url, url) == 101
        assert await relay_status(url, "https://evil.example") == 403
        assert await relay_status(url, url, None) == 403
        assert await relay_status(url, url, "rtsession.web.v0") == 403
    async with relay_server(allowed_origins=["https://app.example"]) as url:
        assert await relay_status(url, "https://app.example") == 101
        assert await relay_status(url, url) == 403  # its own origin is not in the list


async def test_barge_in_flushes_the_page_and_truncates_at_what_it_played() -> None:
    async with relay_server() as url, page(url) as ws:
        await events_until(ws, of_type("ready"))
        await speak(ws)
        audio: list[bytes] = []
        events = await events_until(ws, transcript_done("assistant"), audio)
        part = next(e for e in reversed(events) if e["type"] == "audio")
        played = {"type": "played", "item_id": part["item_id"], "content_index": 0, "ms": 300}
        await ws.send_message(json.dumps(played))
        await speak(ws, bytes(RATE // 5) + tone(0.6, RATE) + bytes(RATE))  # the user talks over
        after = await events_until(ws, of_type("interrupted"))
    kinds = [e["type"] for e in after]
    assert kinds.index("flush") < kinds.index("interrupted")
    assert after[-1] == {
        "type": "interrupted",
        "item_id": part["item_id"],
        "played_ms": 300,
        "reason": "speech_started",
    }


# --- the real page in a real browser ---------------------------------------------------------


@pytest.mark.slow
def test_the_page_in_headless_chromium(tmp_path: Path) -> None:
    """``rtsession web --provider local`` serves the page; Chromium's fake microphone speaks
    the bundled weather question twice, the second time over the reply; the DOM shows the
    words, the tool call, the replies with the first marked interrupted, and the page played
    the reply audio. Fails (never skips) without Chromium or Node.

    ``RTSESSION_WEB_SCREENSHOT=docs/web.png`` keeps the run's screenshot for the docs."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("Chromium is needed for this test (Debian: apt-get install chromium)")
    node = shutil.which("node")
    if node is None or not (CLIENTS / "node_modules" / "playwright-core").is_dir():
        pytest.fail("Node.js and the JS clients are needed: npm ci --prefix tests/js_clients")
    pcm, rate = read_wav(sample("weather-question"))
    microphone = tmp_path / "microphone.wav"
    # the question, then again 1.5 s after it ends: the second time the user talks over
    # the reply, which starts about 0.5 s after the end of speech (the VAD's silence)
    pause = bytes(3 * rate)
    write_wav(microphone, bytes(2 * rate) + pcm + pause + pcm + bytes(10 * rate), rate)
    server = subprocess.Popen(
        [sys.executable, "-m", "rtsession.cli", "web", "--provider", "local", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = ""
        for line in server.stdout:
            if line.startswith("open "):
                url = line.split()[1]
                break
        assert url.startswith("http://127.0.0.1:"), server.stderr
        screenshot = Path(
            os.environ.get("RTSESSION_WEB_SCREENSHOT", tmp_path / "web.png")
        ).resolve()
        done = subprocess.run(
            [node, "web_page.mjs", url, str(microphone), str(screenshot), "60000"],
            cwd=CLIENTS,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={"CHROMIUM": chromium, "PATH": "/usr/bin:/bin"},
        )
        assert done.returncode == 0, done.stdout + done.stderr
        seen = json.loads(done.stdout)
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    assert "bye" in out, err
    assert seen["problems"] == []
    assert any("What is the weather in paris today?" in text for text in seen["user"])
    assert any("It is sunny and 21 degrees in Paris." in text for text in seen["assistant"])
    assert any(text.startswith('get_weather({"city":"Paris"})') for text in seen["tool"])
    assert seen["interrupted"]  # marked in the transcript
    assert seen["played_ms"] > 2000
    assert seen["latency"].endswith(" ms")
    assert screenshot.stat().st_size > 10_000


@given(
    st.one_of(
        st.binary(max_size=20_000),
        st.text(max_size=200),
        st.from_regex(r'\{"type": ?"(played|stop|x)".*', fullmatch=True),
    )
)
def test_any_page_frame_parses_or_is_refused_with_a_protocol_error(frame: bytes | str) -> None:
    """Whatever a page sends, the parser answers with a message or a ``PageProtocolError``
    (which the relay turns into an ``error`` event), never another exception."""
    outcome: object
    try:
        outcome = parse_page_frame(frame, input_rate=RATE)
    except PageProtocolError as exc:
        outcome = exc.code
    if isinstance(outcome, str):
        assert outcome in {"bad_audio", "bad_json", "bad_event", "unknown_event"}
    elif isinstance(frame, bytes):
        assert outcome == AudioFrame(frame)
        assert len(frame) % 2 == 0
    else:
        assert isinstance(outcome, Played | Stop)


async def test_serve_web_on_a_busy_port_raises_the_os_error() -> None:
    with trio.socket.socket() as taken:
        await taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = create_app(OpenAIRealtime(api_key="unused"), OPTIONS)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            with pytest.raises(OSError, match="in use"):
                await serve_web(app, port=port)
            gc.collect()  # Hypercorn leaves the socket it could not bind for the collector
