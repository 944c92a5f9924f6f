"""No credential reaches an error, a log record or a recording, in any form a server may echo
it back: plain, JSON-escaped (``\\/``), URL-encoded (``%2F``) or base64. Each failure path runs
at DEBUG (every logger) with a recognisable key, and everything produced is searched."""

from __future__ import annotations

import base64
import json
import logging
import traceback
import urllib.parse
from pathlib import Path

import pytest
import trio
import trio_websocket

from _servers import HOST, RealtimeServer, serve_raw, serve_realtime
from rtsession import ConnectError, SessionClosedError, messages as m
from rtsession._redact import Redactor
from rtsession.middleware import Logging
from rtsession.providers import (
    AzureOpenAIRealtime,
    GeminiLive,
    OpenAIRealtime,
    Provider,
    VertexGeminiLive,
)
from rtsession.session import open_session
from rtsession.transport import (
    RecordingTransport,
    Transport,
    TrioWebsocketTransport,
    WebsocketsTrioTransport,
)

KEY = "sk-test/SECRET+key=0123456789abcdef"  # a '/', a '+' and a '=' to escape
FORMS = {
    "plain": KEY,
    "json": json.dumps(KEY)[1:-1].replace("/", "\\/"),
    "url": urllib.parse.quote(KEY, safe=""),
    "url+": urllib.parse.quote_plus(KEY),
    "base64": base64.b64encode(KEY.encode()).decode(),
}


def providers(port: int) -> dict[str, Provider]:
    """Every provider, each with ``KEY`` as its credential, dialling ``port``."""
    root = f"http://{HOST}:{port}"
    return {
        "openai": OpenAIRealtime(api_key=KEY, base_url=f"{root}/v1"),
        "azure-key": AzureOpenAIRealtime(root, "gpt-realtime", api_key=KEY),
        "azure-entra": AzureOpenAIRealtime(root, "gpt-realtime", token_provider=lambda: KEY),
        "gemini-key": GeminiLive(api_key=KEY, base_url=root),
        "gemini-ephemeral": GeminiLive(ephemeral_token=KEY, base_url=root),
        "vertex": VertexGeminiLive(project="p", token_provider=lambda: KEY, base_url=root),
    }


PROVIDERS = list(providers(1))
TRANSPORTS = [
    pytest.param(TrioWebsocketTransport, id="trio-websocket"),
    pytest.param(WebsocketsTrioTransport, id="websockets"),
]


def leaks(text: str) -> list[str]:
    """The forms of ``KEY`` found in ``text``."""
    return [name for name, form in FORMS.items() if form in text]


def chain_text(exc: BaseException) -> str:
    """Everything an exception shows: its traceback with the whole cause and context chain."""
    return "".join(traceback.format_exception(exc))


@pytest.fixture
def everything(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record of every logger, at DEBUG."""
    caplog.set_level(logging.DEBUG)
    return caplog


def all_records(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() + repr(record.__dict__) for record in caplog.records)


async def read_to_the_end(provider: Provider, transport: Transport) -> list[m.ServerMessage]:
    """A session with ``Logging``, read until its stream ends."""
    async with open_session(provider, transport=transport, middleware=[Logging()]) as session:
        return [event async for event in session]


def echo(form: str) -> str:
    return f"bad key {FORMS[form]} given"


@pytest.mark.parametrize("form", FORMS)
def test_the_redactor_hides_every_form(form: str) -> None:
    redactor = Redactor([f"Bearer {KEY}"])
    text = redactor.text(f"the server said: {echo(form)}")
    assert leaks(text) == []
    assert "<redacted>" in text


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("form", ["plain", "json", "url"])
async def test_a_close_reason_that_echoes_the_key(
    provider: str,
    transport: type,
    form: str,
    everything: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    async def close_with_the_key(ws: trio_websocket.WebSocketConnection) -> None:
        await ws.aclose(4000, echo(form))

    recording = tmp_path / "session.jsonl"
    async with trio.open_nursery() as nursery:
        server = await serve_realtime(nursery, RealtimeServer(script=close_with_the_key))
        transport_ = RecordingTransport(transport(), recording)
        with pytest.raises(SessionClosedError) as closed:
            await read_to_the_end(providers(server.port)[provider], transport_)
        nursery.cancel_scope.cancel()
    assert leaks(chain_text(closed.value)) == []
    assert leaks(closed.value.reason) == []
    assert leaks(recording.read_text()) == []
    assert leaks(all_records(everything)) == []


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_error_event_that_echoes_the_key(
    transport: type, everything: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    error = {
        "type": "error",
        "event_id": "e1",
        "error": {"type": "invalid_request_error", "code": "x", "message": echo("plain")},
    }

    async def send_the_key(ws: trio_websocket.WebSocketConnection) -> None:
        await ws.send_message(json.dumps(error).replace("/", "\\/"))
        await ws.aclose()

    recording = tmp_path / "session.jsonl"
    async with trio.open_nursery() as nursery:
        server = await serve_realtime(nursery, RealtimeServer(script=send_the_key))
        provider = OpenAIRealtime(api_key=KEY, base_url=server.http_url)
        received = await read_to_the_end(provider, RecordingTransport(transport(), recording))
        nursery.cancel_scope.cancel()
    (event,) = [e for e in received if isinstance(e, m.Error)]
    assert leaks(event.message) == ["plain"]  # the app gets what the server said
    assert leaks(recording.read_text()) == []
    assert leaks(all_records(everything)) == []


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("form", ["plain", "url"])
async def test_a_non_http_answer_that_echoes_the_key(
    transport: type, form: str, everything: pytest.LogCaptureFixture
) -> None:
    async def garbage(stream: trio.SocketStream) -> None:
        await stream.receive_some()
        await stream.send_all(f"NOT HTTP {echo(form)}\r\n\r\n".encode())
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        port = await serve_raw(nursery, garbage)
        provider = OpenAIRealtime(api_key=KEY, base_url=f"http://{HOST}:{port}/v1")
        with pytest.raises(ConnectError) as failed:
            async with open_session(provider, transport=transport()):
                pass  # pragma: no cover
        nursery.cancel_scope.cancel()
    assert leaks(chain_text(failed.value)) == []
    assert leaks(all_records(everything)) == []


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_whole_session_at_debug_logs_no_key(
    provider: str, transport: type, everything: pytest.LogCaptureFixture
) -> None:
    async with trio.open_nursery() as nursery:
        server = await serve_realtime(nursery)
        async with open_session(
            providers(server.port)[provider], transport=transport(), middleware=[Logging()]
        ):
            pass
        nursery.cancel_scope.cancel()
    sent = server.handshakes[0]
    assert KEY in f"{sent.path} {sent.headers}"  # the credential did go out
    assert any(r.name.startswith(("websockets", "trio-websocket")) for r in everything.records)
    assert leaks(all_records(everything)) == []
