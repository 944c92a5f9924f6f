"""``rtsession.local`` behaves like the service for any client: misbehaving clients cannot stop
it, it takes the paths, subprotocols and schema forms real client libraries use, and the beta
dialect follows the beta service's rules (issue "The local server as real as the service")."""

from __future__ import annotations

import json
import logging
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio_websocket

from _servers import trusted_tls
from rtsession import messages as m
from rtsession.local import LocalServer, open_local_server, protocol_only_engines
from rtsession.providers import OpenAIRealtime
from rtsession.session import open_session
from rtsession.testing import AppInbox

GEMINI_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


@asynccontextmanager
async def local() -> AsyncIterator[LocalServer]:
    async with open_local_server(engines=protocol_only_engines()) as server:
        yield server


def upgrade(path: str, port: int, *extra: str) -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def reset(stream: trio.SocketStream) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a client library giving up does."""
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    await stream.aclose()


async def reset_during_handshake(port: int, path: str) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(upgrade(path, port))
    await reset(stream)


async def garbage_then_reset(port: int) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(b"\x16\x03\x01 not http at all\r\n\r\n")
    await reset(stream)


async def half_open(port: int, done: trio.Event) -> None:
    """Connects, sends half a request, then neither sends nor reads until the test ends."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(upgrade("/v1/realtime", port)[:40])
    await done.wait()
    await reset(stream)


async def bad_frames(server: LocalServer) -> None:
    async with trio_websocket.open_websocket_url(
        f"{server.url}/v1/realtime?model=gpt-realtime"
    ) as ws:
        await ws.send_message("not json")
        await ws.send_message(b"\x00\x01 binary")
        await ws.send_message(json.dumps({"type": "no.such.event"}))
        await ws.send_message(json.dumps([1, 2, 3]))
        for _ in range(200):  # a flood it never reads the answers of
            await ws.send_message(json.dumps({"type": "input_audio_buffer.clear"}))


async def oversized(server: LocalServer) -> None:
    """A frame over the server's limit: the server closes this connection (1009). (On its
    own stream: trio-websocket's client leaves its socket open after such a close.)"""
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    try:
        async with trio.open_nursery() as nursery:
            ws = await trio_websocket.wrap_client_stream(
                nursery, stream, "127.0.0.1", "/v1/realtime?model=gpt-realtime"
            )
            assert json.loads(await ws.get_message())["type"] == "session.created"
            await ws.send_message("x" * (16 * 1024 * 1024 + 1))
            with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                await ws.get_message()
            assert closed.value.reason.code == 1009
            nursery.cancel_scope.cancel()
    finally:
        await trio.aclose_forcefully(stream)


async def test_misbehaving_clients_do_not_stop_the_server_or_a_good_session() -> None:
    """The issue's first failure: a client that resets during the handshake raised out of
    ``request.reject()`` / ``accept()`` and stopped the server. 200 misbehaving connections
    run alongside one good session, which completes its turn; the server then still serves."""
    inbox = AppInbox()
    with trio.fail_after(60):
        async with local() as server, trio.open_nursery() as nursery:
            done = trio.Event()
            for n in range(40):
                nursery.start_soon(reset_during_handshake, server.port, "/nowhere")
                nursery.start_soon(reset_during_handshake, server.port, "/v1/realtime")
                nursery.start_soon(garbage_then_reset, server.port)
                nursery.start_soon(half_open, server.port, done)
                if n % 2:
                    nursery.start_soon(bad_frames, server)
                else:
                    nursery.start_soon(oversized, server)
            provider = OpenAIRealtime(base_url=server.base_url, api_key="local")
            options = m.SessionOptions(output_modalities=("text",))
            async with open_session(provider, options) as session:
                nursery.start_soon(inbox.drain, session)
                item = m.MessageItem(role="user", content=(m.InputText(text="Hello."),))
                await session.send(m.ConversationItemCreate(item=item))
                await session.send(m.ResponseCreate())
                turn = await inbox.receive_of(m.ResponseDone)
            done.set()
            assert turn.response.status == "completed"
            async with open_session(provider, options):
                pass  # still serving


async def test_rejections_are_logged_with_their_reason(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="rtsession.local"):
        async with local() as server, await trio.open_tcp_stream("127.0.0.1", server.port) as s:
            await s.send_all(upgrade("/nowhere", server.port))
            answer = await s.receive_some()
    assert answer.startswith(b"HTTP/1.1 404")
    assert any("404" in r.getMessage() and "/nowhere" in r.getMessage() for r in caplog.records), [
        r.getMessage() for r in caplog.records
    ]


async def setup_turn(url: str, tool: dict[str, Any], text: str) -> dict[str, Any]:
    """A raw Gemini client: setup with one tool, a user text turn; the first ``toolCall``."""
    async with trio_websocket.open_websocket_url(url) as ws:
        setup = {
            "setup": {"model": "models/gemini-live", "tools": [{"functionDeclarations": [tool]}]}
        }
        await ws.send_message(json.dumps(setup))
        assert "setupComplete" in json.loads(await ws.get_message())
        turn = {"role": "user", "parts": [{"text": text}]}
        await ws.send_message(
            json.dumps({"clientContent": {"turns": [turn], "turnComplete": True}})
        )
        while True:
            message = json.loads(await ws.get_message())
            if "toolCall" in message:
                call: dict[str, Any] = message["toolCall"]["functionCalls"][0]
                return call


async def test_the_double_slash_gemini_path_is_served() -> None:
    """A widely used client dials the AI Studio endpoint with ``//ws/...``; the service
    accepts it, so the local server does."""
    async with (
        local() as server,
        trio_websocket.open_websocket_url(f"{server.url}/{GEMINI_PATH}?key=x") as ws,
    ):
        await ws.send_message(json.dumps({"setup": {"model": "models/gemini-live"}}))
        assert "setupComplete" in json.loads(await ws.get_message())


WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "The city."}},
    "required": ["city"],
}


def upper_case(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: v.upper() if k == "type" else upper_case(v) for k, v in schema.items()}
    return schema


@pytest.mark.parametrize(
    "declaration",
    [
        {"parameters": upper_case(WEATHER_PARAMETERS)},  # what google-genai always sends
        {"parametersJsonSchema": WEATHER_PARAMETERS},
        {"parameters": WEATHER_PARAMETERS},
    ],
    ids=["gemini-schema", "json-schema", "lower-case"],
)
async def test_gemini_schema_forms_drive_the_tool_rule_alike(declaration: dict[str, Any]) -> None:
    tool = {"name": "get_weather", "description": "The weather in a city.", **declaration}
    async with local() as server:
        call = await setup_turn(
            f"{server.url}{GEMINI_PATH}?key=x", tool, "What is the weather in Paris?"
        )
    assert call["name"] == "get_weather"
    assert call["args"] == {"city": "Paris"}


async def beta_update(session: dict[str, Any]) -> dict[str, Any]:
    """A raw beta client's ``session.update`` and the server's answer to it."""
    async with (
        local() as server,
        trio_websocket.open_websocket_url(
            f"{server.url}/v1/realtime?model=gpt-4o-realtime-preview",
            extra_headers=[("OpenAI-Beta", "realtime=v1")],
        ) as ws,
    ):
        assert json.loads(await ws.get_message())["type"] == "session.created"
        await ws.send_message(json.dumps({"type": "session.update", "session": session}))
        answer: dict[str, Any] = json.loads(await ws.get_message())
    return answer


@pytest.mark.parametrize("modalities", [["text", "audio"], ["audio", "text"], ["text"], ["audio"]])
async def test_the_beta_dialect_takes_the_beta_modalities(modalities: list[str]) -> None:
    """A beta ``session.update`` with ``modalities: ["text", "audio"]`` (the beta norm) was
    refused with a GA field name and the whole update dropped."""
    answer = await beta_update({"modalities": modalities, "instructions": "Be brief."})
    assert answer["type"] == "session.updated", answer
    assert sorted(answer["session"]["modalities"]) == sorted(modalities)
    assert answer["session"]["instructions"] == "Be brief."


@pytest.mark.parametrize(
    ("update", "param", "says"),
    [
        ({"modalities": []}, "session.modalities", "['audio'] and ['audio', 'text']"),
        ({"max_response_output_tokens": 5000}, "session.max_response_output_tokens", "4096"),
        ({"speed": 3.0}, "session.speed", "1.5"),
    ],
)
async def test_a_beta_error_names_the_beta_field(
    update: dict[str, Any], param: str, says: str
) -> None:
    answer = await beta_update(update)
    assert answer["type"] == "error"
    assert answer["error"]["param"] == param
    assert says in answer["error"]["message"]


async def test_the_browser_subprotocol_form_of_authentication() -> None:
    """OpenAI's browser-style connection offers ``realtime`` and
    ``openai-insecure-api-key.<key>``; the service selects ``realtime``."""
    async with (
        local() as server,
        trio_websocket.open_websocket_url(
            f"{server.url}/v1/realtime?model=gpt-realtime",
            subprotocols=["realtime", "openai-insecure-api-key.sk-test"],
        ) as ws,
    ):
        assert ws.subprotocol == "realtime"
        assert json.loads(await ws.get_message())["type"] == "session.created"


async def test_a_tls_server_survives_clients_that_give_up(tmp_path: Path) -> None:
    """The issue's TLS case: a client library giving up after a 404 (a reset right after the
    answer) took the TLS server down in 3 of 4 runs. Here 30 such clients, 30 that speak
    plain TCP to the TLS port and 30 that reset mid-TLS-handshake; then a session works."""
    tls = trusted_tls(tmp_path)

    async def gives_up_after_404(port: int) -> None:
        stream = trio.SSLStream(
            await trio.open_tcp_stream("127.0.0.1", port), tls.client, server_hostname="127.0.0.1"
        )
        await stream.send_all(upgrade("/nowhere", port))
        assert (await stream.receive_some()).startswith(b"HTTP/1.1 404")
        await reset(stream.transport_stream)  # type: ignore[arg-type]

    async def reset_mid_tls(port: int) -> None:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03")  # half a hello
        await reset(stream)

    with trio.fail_after(30):
        async with open_local_server(
            engines=protocol_only_engines(), ssl_context=tls.server
        ) as server:
            async with trio.open_nursery() as nursery:
                for _ in range(30):
                    nursery.start_soon(gives_up_after_404, server.port)
                    nursery.start_soon(garbage_then_reset, server.port)
                    nursery.start_soon(reset_mid_tls, server.port)
            base_url = f"https://127.0.0.1:{server.port}/v1"
            provider = OpenAIRealtime(base_url=base_url, api_key="local", ssl_context=tls.client)
            async with open_session(provider, m.SessionOptions()) as session:
                async for event in session:
                    assert isinstance(event, m.SessionCreated)
                    break
