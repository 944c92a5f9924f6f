"""rtsession.local: the OpenAI GA dialect spoken from the server side.

Most tests talk to a real server on loopback through a plain trio-websocket client, with the
protocol-only engines (an energy VAD, transcripts chosen by duration, tones for speech), so the
wire is exactly what a client sees. Races that a socket cannot pin down (a barge-in, a cancel
after exactly n deltas) are tested on the sans-I/O ``ServerSession``. One test runs the real
engines on the bundled JFK clip.

The server has no timers: turn detection counts audio samples, not wall-clock time, so no test
needs a clock; every I/O wait is bounded by ``trio.fail_after``.
"""

from __future__ import annotations

import base64
import importlib.resources
import json
import math
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pytest
import trio
import trio_websocket

from _servers import upgrade_status
from rtsession import audio, messages as m
from rtsession.local import (
    EnergyVad,
    LocalServer,
    TableSTT,
    ToneTTS,
    default_engines,
    open_local_server,
    protocol_only_engines,
)
from rtsession.local._config import ServiceRules, default_session
from rtsession.local._conversation import Entry
from rtsession.local._ids import IdFactory
from rtsession.local._replies import (
    CallFunction,
    Say,
    answer_from_output,
    decide_reply,
    function_arguments,
)
from rtsession.local._session import ServerSession, Step, Stream, Synthesize, Transcribe

RATE = 24000
TIMEOUT = 10  # seconds per socket operation
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
        "required": ["location"],
    },
}
LONG_TEXT = " ".join(f"word{i}" for i in range(2000))


def tone(ms: int) -> bytes:
    """A 440 Hz tone at -12 dBFS: speech to the energy VAD."""
    t = np.arange(ms * RATE // 1000) / RATE
    return audio.array_to_pcm16(0.25 * np.sin(2 * np.pi * 440 * t))


def silence(ms: int) -> bytes:
    return bytes(ms * RATE // 1000 * 2)


def b64(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode()


# --- a small client --------------------------------------------------------------------------


class Client:
    """A raw WebSocket client speaking JSON events, every wait bounded."""

    def __init__(self, ws: trio_websocket.WebSocketConnection) -> None:
        self.ws = ws

    async def send(self, event: dict[str, Any]) -> None:
        await self.send_raw(json.dumps(event))

    async def send_raw(self, frame: str) -> None:
        with trio.fail_after(TIMEOUT):
            await self.ws.send_message(frame)

    async def send_audio(self, pcm: bytes, chunk_ms: int = 20) -> None:
        size = RATE * chunk_ms // 1000 * 2
        for i in range(0, len(pcm), size):
            await self.send({"type": "input_audio_buffer.append", "audio": b64(pcm[i : i + size])})

    async def recv(self) -> dict[str, Any]:
        with trio.fail_after(TIMEOUT):
            event: dict[str, Any] = json.loads(await self.ws.get_message())
        return event

    async def until(self, event_type: str) -> list[dict[str, Any]]:
        """Every event up to and including the first of ``event_type``."""
        events = []
        while True:
            event = await self.recv()
            events.append(event)
            if event["type"] == event_type:
                return events

    async def expect(self, event_type: str) -> dict[str, Any]:
        """The next event, which must be of ``event_type``."""
        event = await self.recv()
        assert event["type"] == event_type, event
        return event


@asynccontextmanager
async def connect(
    server: LocalServer, path: str = "/v1/realtime?model=gpt-realtime"
) -> AsyncIterator[Client]:
    """A client connected to ``server``, past its ``session.created``."""
    async with trio_websocket.open_websocket_url(
        server.url + path, connect_timeout=TIMEOUT, disconnect_timeout=TIMEOUT
    ) as ws:
        client = Client(ws)
        await client.expect("session.created")
        yield client


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    async with open_local_server(engines=protocol_only_engines()) as local:
        yield local


def shape(events: list[dict[str, Any]]) -> list[str]:
    """Event types in order, each run of deltas folded into one ``"deltas"``."""
    out: list[str] = []
    for event in events:
        kind = "deltas" if event["type"].endswith(".delta") else event["type"]
        if not (kind == "deltas" and out and out[-1] == "deltas"):
            out.append(kind)
    return out


def joined(events: list[dict[str, Any]], event_type: str) -> str:
    return "".join(e["delta"] for e in events if e["type"] == event_type)


AUDIO_RESPONSE = [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "deltas",
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
    "rate_limits.updated",
]
TEXT_RESPONSE = [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "deltas",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
    "rate_limits.updated",
]


async def say(client: Client, text: str, item_id: str | None = None) -> dict[str, Any]:
    """Add a user text item; returns its ``conversation.item.done``."""
    item: dict[str, Any] = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }
    if item_id is not None:
        item["id"] = item_id
    await client.send({"type": "conversation.item.create", "item": item})
    await client.expect("conversation.item.added")
    return await client.expect("conversation.item.done")


async def update(client: Client, **session: Any) -> dict[str, Any]:
    await client.send({"type": "session.update", "session": {"type": "realtime", **session}})
    return await client.expect("session.updated")


# --- session ---------------------------------------------------------------------------------


async def test_session_created_carries_the_service_defaults(server: LocalServer) -> None:
    with trio.fail_after(TIMEOUT):
        async with trio_websocket.open_websocket_url(
            f"{server.websocket_base_url}/realtime?model=gpt-realtime-mini"
        ) as ws:
            created = json.loads(await ws.get_message())
    session = created["session"]
    assert created["type"] == "session.created"
    assert created["event_id"].startswith("event_")
    assert session["id"].startswith("sess_")
    assert session["object"] == "realtime.session"
    assert session["expires_at"] > time.time() + 3500
    assert session["type"] == "realtime"
    assert session["model"] == "gpt-realtime-mini"
    assert session["output_modalities"] == ["audio"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "marin",
        "speed": 1.0,
    }
    assert session["audio"]["input"]["transcription"] is None
    assert session["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
        "create_response": True,
        "interrupt_response": True,
    }
    assert session["tools"] == []
    assert session["tool_choice"] == "auto"
    assert session["max_output_tokens"] == "inf"


async def test_session_update_merges_into_the_session(server: LocalServer) -> None:
    async with connect(server) as client:
        updated = await update(
            client,
            instructions="be brief",
            audio={"input": {"turn_detection": {"type": "server_vad", "threshold": 0.7}}},
        )
        session = updated["session"]
        assert session["instructions"] == "be brief"
        assert session["audio"]["input"]["turn_detection"] == {
            "type": "server_vad",
            "threshold": 0.7,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 200,
            "create_response": True,
            "interrupt_response": True,
        }
        assert session["audio"]["output"]["voice"] == "marin"  # untouched fields stay
        session = (await update(client, output_modalities=["text"]))["session"]
        assert session["instructions"] == "be brief"
        assert session["output_modalities"] == ["text"]


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        ({"audio": {"output": {"speed": 3.0}}}, "invalid_value", "session.audio.output.speed"),
        (
            {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
            "invalid_value",
            "session.audio.input.format.rate",
        ),
        ({"output_modalities": ["audio", "text"]}, "invalid_value", "session.output_modalities"),
        ({"max_output_tokens": 5000}, "invalid_value", "session.max_output_tokens"),
        (
            {"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 1.5}}}},
            "invalid_value",
            "session.audio.input.turn_detection.threshold",
        ),
    ],
)
async def test_an_invalid_session_update_changes_nothing(
    server: LocalServer, session: dict[str, Any], code: str, param: str
) -> None:
    async with connect(server) as client:
        await client.send(
            {
                "type": "session.update",
                "event_id": "evt_1",
                "session": {"type": "realtime", **session},
            }
        )
        error = (await client.expect("error"))["error"]
        assert error["type"] == "invalid_request_error"
        assert (error["code"], error["param"], error["event_id"]) == (code, param, "evt_1")
        assert error["message"]
        session_now = (await update(client))["session"]  # the connection goes on, unchanged
        assert session_now["audio"]["output"]["speed"] == 1.0
        assert session_now["output_modalities"] == ["audio"]


@pytest.mark.parametrize(
    ("frame", "code", "param", "event_id"),
    [
        ("{not json", "invalid_json", None, None),
        ('{"type": "foo.bar", "event_id": "evt_2"}', "invalid_value", "type", "evt_2"),
        ('{"event_id": "evt_3"}', "missing_required_parameter", "type", "evt_3"),
        (
            '{"type": "conversation.item.truncate", "event_id": "evt_4", "item_id": "item_1", '
            '"content_index": 0}',
            "missing_required_parameter",
            "audio_end_ms",
            "evt_4",
        ),
        (
            '{"type": "conversation.item.truncate", "event_id": "evt_5", "item_id": "item_1", '
            '"content_index": 0, "audio_end_ms": "soon"}',
            "invalid_type",
            "audio_end_ms",
            "evt_5",
        ),
        (
            '{"type": "conversation.item.create", "event_id": "evt_6", "item": {"type": "message",'
            ' "role": "user", "content": [{"type": "input_text", "text": 7}]}}',
            "invalid_type",
            "item.content[0].text",
            "evt_6",
        ),
    ],
    ids=["bad-json", "unknown-type", "missing-type", "missing-field", "mistyped", "nested"],
)
async def test_an_invalid_event_gets_the_service_error(
    server: LocalServer, frame: str, code: str, param: str | None, event_id: str | None
) -> None:
    async with connect(server) as client:
        await client.send_raw(frame)
        error_event = await client.expect("error")
        assert error_event["event_id"].startswith("event_")
        error = error_event["error"]
        assert error["type"] == "invalid_request_error"
        assert error["message"]
        assert error["code"] == code
        assert error.get("param") == param
        assert error.get("event_id") == event_id
        await update(client)  # the connection goes on


async def handshake(server: LocalServer, target: str, *headers: str) -> int:
    """Send a WebSocket upgrade request by hand; returns the HTTP status of the answer."""
    return await upgrade_status(server.host, server.port, target, *headers)


async def test_routing_by_path_and_header(server: LocalServer) -> None:
    assert await handshake(server, "/v2/elsewhere") == 404
    # the beta dialect (OpenAI-Beta: realtime=v1) is tests/test_local_beta.py
    assert await handshake(server, "/v1/realtime?model=m", "OpenAI-Beta: realtime=v2") == 400
    assert await handshake(server, "/v1/realtime?model=m") == 101
    async with connect(server, "/openai/v1/realtime?model=my-deployment") as client:
        assert (await update(client))["session"]["model"] == "my-deployment"


# --- responses -------------------------------------------------------------------------------


async def test_a_text_item_gets_a_spoken_reply_in_the_service_order(server: LocalServer) -> None:
    async with connect(server) as client:
        done = await say(client, "Hello there!")
        assert done["item"]["status"] == "completed"
        await client.send({"type": "response.create"})
        events = await client.until("rate_limits.updated")
    assert shape(events) == AUDIO_RESPONSE
    reply = "Hello! How can I help you today?"
    assert joined(events, "response.output_audio_transcript.delta") == reply
    pcm = base64.b64decode(joined(events, "response.output_audio.delta"))
    expected_ms = ToneTTS().duration_ms(reply)
    assert len(pcm) == expected_ms * RATE // 1000 * 2
    chunk_ms = [
        len(base64.b64decode(e["delta"])) / 2 / RATE * 1000
        for e in events
        if e["type"] == "response.output_audio.delta"
    ]
    assert all(20 <= ms <= 40 for ms in chunk_ms[:-1])
    by_type = {e["type"]: e for e in events}
    created, done_response = by_type["response.created"], by_type["response.done"]["response"]
    assert created["response"]["status"] == "in_progress"
    assert created["response"]["conversation_id"].startswith("conv_")
    assert done_response["status"] == "completed"
    item = done_response["output"][0]
    assert item["content"] == [{"type": "output_audio", "transcript": reply}]
    assert by_type["conversation.item.added"]["previous_item_id"] == done["item"]["id"]
    usage = done_response["usage"]
    instructions = default_session("gpt-realtime", RATE).instructions or ""
    input_text = math.ceil(len(instructions) / 4) + math.ceil(len("Hello there!") / 4)
    assert usage["input_token_details"]["text_tokens"] == input_text
    assert usage["output_token_details"] == {
        "text_tokens": math.ceil(len(reply) / 4),
        "audio_tokens": math.ceil(expected_ms / 50),
    }
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    limits = {r["name"]: r for r in by_type["rate_limits.updated"]["rate_limits"]}
    assert limits["tokens"]["remaining"] == 40000 - usage["total_tokens"]


async def test_text_only_modality(server: LocalServer) -> None:
    async with connect(server) as client:
        await update(client, output_modalities=["text"])
        await say(client, "What time is it?")
        await client.send({"type": "response.create"})
        events = await client.until("rate_limits.updated")
    assert shape(events) == TEXT_RESPONSE
    assert joined(events, "response.output_text.delta") == "It is twelve o'clock."
    done = events[-2]["response"]
    assert done["output_modalities"] == ["text"]
    assert done["output"][0]["content"] == [
        {"type": "output_text", "text": "It is twelve o'clock."}
    ]
    assert done["usage"]["output_token_details"]["audio_tokens"] == 0


async def test_server_vad_turn_with_input_transcription(server: LocalServer) -> None:
    async with connect(server) as client:
        await update(
            client,
            output_modalities=["text"],
            audio={"input": {"transcription": {"model": "whisper-1"}}},
        )
        await client.send_audio(silence(500) + tone(1200) + silence(400))
        events = await client.until("rate_limits.updated")
    transcription = [e for e in events if e["type"].startswith("conversation.item.input_audio")]
    turn = [e for e in events if e not in transcription]
    started, stopped, committed, added = turn[:4]
    assert [e["type"] for e in turn[:5]] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    # the transcription streams while the user speaks (before speech_stopped)
    assert events.index(transcription[0]) < events.index(stopped)
    # onset at 500 ms minus 300 ms of prefix padding; speech ends at 1700 ms, plus 200 ms
    assert started["audio_start_ms"] == 200
    assert stopped["audio_end_ms"] == 1900
    item_id = started["item_id"]
    assert stopped["item_id"] == committed["item_id"] == added["item"]["id"] == item_id
    assert added["item"] == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio"}],
        "id": item_id,
        "status": "completed",
    }
    assert TableSTT().transcript_for(1900 - 200) == "what is the weather in paris today"
    transcript = "What is the weather in paris today?"  # sentence case, end punctuation
    assert "".join(e["delta"] for e in transcription[:-1]) == transcript
    completed = transcription[-1]
    assert completed["type"] == "conversation.item.input_audio_transcription.completed"
    assert (completed["item_id"], completed["transcript"]) == (item_id, transcript)
    assert completed["usage"]["input_tokens"] == 17  # 1700 ms of audio
    rest = turn[5:]
    assert shape(rest) == TEXT_RESPONSE
    assert joined(rest, "response.output_text.delta") == "It is sunny and 21 degrees in Paris."


async def test_push_to_talk_commit_and_clear(server: LocalServer) -> None:
    async with connect(server) as client:
        await update(client, audio={"input": {"turn_detection": None}})
        await client.send({"type": "input_audio_buffer.commit", "event_id": "evt_c1"})
        error = (await client.expect("error"))["error"]
        assert error["code"] == "input_audio_buffer_commit_empty"
        assert error["event_id"] == "evt_c1"
        await client.send_audio(tone(300))
        await client.send({"type": "input_audio_buffer.clear"})
        await client.expect("input_audio_buffer.cleared")
        await client.send({"type": "input_audio_buffer.commit"})
        assert (await client.expect("error"))["error"]["code"] == "input_audio_buffer_commit_empty"
        await client.send_audio(silence(100) + tone(2500) + silence(100))  # no VAD events
        await client.send({"type": "input_audio_buffer.commit"})
        committed = await client.expect("input_audio_buffer.committed")
        added = await client.expect("conversation.item.added")
        await client.expect("conversation.item.done")
        assert added["item"]["id"] == committed["item_id"]
        await client.send({"type": "response.create"})  # push-to-talk: nothing automatic
        events = await client.until("rate_limits.updated")
    assert shape(events) == AUDIO_RESPONSE
    # 2.7 s of audio: the protocol-only transcript for 2-3 s
    reply = joined(events, "response.output_audio_transcript.delta")
    assert reply == "You said: Call the function get time."


async def test_function_call_and_the_answer_from_its_output(server: LocalServer) -> None:
    async with connect(server) as client:
        await update(client, output_modalities=["text"], tools=[WEATHER_TOOL])
        await say(client, "What's the weather in Paris today?")
        await client.send({"type": "response.create"})
        events = await client.until("rate_limits.updated")
        assert shape(events) == [
            "response.created",
            "response.output_item.added",
            "conversation.item.added",
            "deltas",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "conversation.item.done",
            "response.done",
            "rate_limits.updated",
        ]
        args_done = events[-5]
        assert args_done["name"] == "get_weather"
        assert args_done["arguments"] == '{"location":"Paris"}'
        assert joined(events, "response.function_call_arguments.delta") == args_done["arguments"]
        call = events[-2 - 2]["item"]
        assert call["type"] == "function_call"
        assert call["status"] == "completed"
        assert (call["call_id"], call["arguments"]) == (
            args_done["call_id"],
            '{"location":"Paris"}',
        )

        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": call["call_id"],
                    "output": json.dumps({"temperature": 21, "condition": "sunny"}),
                },
            }
        )
        await client.expect("conversation.item.added")
        await client.expect("conversation.item.done")
        await client.send({"type": "response.create"})
        events = await client.until("rate_limits.updated")
    assert joined(events, "response.output_text.delta") == "It is sunny and 21 degrees in Paris."


async def test_a_function_output_must_answer_a_call(server: LocalServer) -> None:
    async with connect(server) as client:
        await client.send(
            {
                "type": "conversation.item.create",
                "event_id": "evt_o",
                "item": {"type": "function_call_output", "call_id": "call_x", "output": "{}"},
            }
        )
        error = (await client.expect("error"))["error"]
    assert (error["param"], error["event_id"]) == ("item.call_id", "evt_o")


async def test_conversation_already_has_active_response(server: LocalServer) -> None:
    async with connect(server) as client:
        await update(client, output_modalities=["text"])
        long_reply = {"instructions": f'Say "{LONG_TEXT}"'}
        await client.send({"type": "response.create", "response": long_reply})
        await client.send({"type": "response.create", "event_id": "evt_2nd"})
        events = await client.until("rate_limits.updated")
    errors = [e["error"] for e in events if e["type"] == "error"]
    assert len(errors) == 1
    assert errors[0]["code"] == "conversation_already_has_active_response"
    assert errors[0]["event_id"] == "evt_2nd"
    response_id = events[0]["response"]["id"]
    assert f"active response in progress: {response_id}" in errors[0]["message"]
    assert [e["type"] for e in events].count("response.created") == 1
    assert joined(events, "response.output_text.delta") == LONG_TEXT
    assert events[-2]["response"]["status"] == "completed"


async def test_response_cancel_mid_stream(server: LocalServer) -> None:
    async with connect(server) as client:
        await update(client, output_modalities=["text"])
        await client.send(
            {"type": "response.create", "response": {"instructions": f'Say "{LONG_TEXT}"'}}
        )
        events = await client.until("response.output_text.delta")
        await client.send({"type": "response.cancel"})
        events += await client.until("rate_limits.updated")
        await client.send({"type": "response.cancel", "event_id": "evt_late"})
        late = (await client.expect("error"))["error"]
    assert (late["code"], late["event_id"]) == ("response_cancel_not_active", "evt_late")
    sent = joined(events, "response.output_text.delta")
    assert len(sent) < len(LONG_TEXT)
    by_type = {e["type"]: e for e in events}
    assert by_type["response.output_text.done"]["text"] == sent
    assert by_type["response.content_part.done"]["part"] == {"type": "text", "text": sent}
    assert by_type["response.output_item.done"]["item"]["status"] == "incomplete"
    assert by_type["conversation.item.done"]["item"]["status"] == "incomplete"
    done = by_type["response.done"]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert done["usage"]["output_tokens"] == math.ceil(len(sent) / 4)
    assert events[-1]["type"] == "rate_limits.updated"


async def test_truncate_an_assistant_audio_item(server: LocalServer) -> None:
    async with connect(server) as client:
        user = await say(client, "hello")
        await client.send({"type": "response.create"})
        events = await client.until("rate_limits.updated")
        item_id = events[-2]["response"]["output"][0]["id"]
        audio_ms = len(base64.b64decode(joined(events, "response.output_audio.delta"))) // 48

        truncate = {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0}
        await client.send({**truncate, "event_id": "evt_t1", "audio_end_ms": audio_ms + 1})
        error = (await client.expect("error"))["error"]
        assert (
            error["message"]
            == f"Audio content of {audio_ms}ms is already shorter than {audio_ms + 1}ms"
        )
        assert (error["param"], error["event_id"]) == ("audio_end_ms", "evt_t1")

        await client.send({**truncate, "item_id": user["item"]["id"], "audio_end_ms": 0})
        error = (await client.expect("error"))["error"]
        assert error["message"] == "Only model output audio messages can be truncated"

        await client.send({**truncate, "audio_end_ms": 500})
        truncated = await client.expect("conversation.item.truncated")
        assert (truncated["item_id"], truncated["audio_end_ms"]) == (item_id, 500)
        await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
        item = (await client.expect("conversation.item.retrieved"))["item"]
    (part,) = item["content"]
    assert part["type"] == "output_audio"
    assert "transcript" not in part  # the service drops the transcript of truncated audio
    assert len(base64.b64decode(part["audio"])) == 500 * RATE // 1000 * 2


async def test_out_of_band_response(server: LocalServer) -> None:
    async with connect(server) as client:
        await update(client, output_modalities=["text"])
        await say(client, "hello")
        await client.send(
            {
                "type": "response.create",
                "response": {
                    "conversation": "none",
                    "metadata": {"topic": "summary"},
                    "instructions": "Say 'The user greeted us.'",
                },
            }
        )
        events = await client.until("rate_limits.updated")
        assert "conversation.item.added" not in [e["type"] for e in events]
        created, done = events[0]["response"], events[-2]["response"]
        for response in (created, done):
            assert response.get("conversation_id") is None
            assert response["metadata"] == {"topic": "summary"}
        assert joined(events, "response.output_text.delta") == "The user greeted us."
        out_of_band_id = done["output"][0]["id"]
        await client.send({"type": "conversation.item.retrieve", "item_id": out_of_band_id})
        assert (await client.expect("error"))["error"]["code"] == "item_not_found"
        # the default conversation is free: out-of-band responses are not active responses
        await client.send({"type": "response.create"})
        events = await client.until("rate_limits.updated")
    assert joined(events, "response.output_text.delta") == "Hello! How can I help you today?"


async def test_out_of_band_response_with_its_own_input(server: LocalServer) -> None:
    async with connect(server) as client:
        await update(client, output_modalities=["text"])
        first = await say(client, "thank you")
        await say(client, "goodbye")
        await client.send(
            {
                "type": "response.create",
                "response": {
                    "conversation": "none",
                    "input": [{"type": "item_reference", "id": first["item"]["id"]}],
                },
            }
        )
        events = await client.until("rate_limits.updated")
    assert joined(events, "response.output_text.delta") == "You are welcome."


async def test_conversation_item_operations(server: LocalServer) -> None:
    async with connect(server) as client:
        await say(client, "one", item_id="cli_1")
        await client.send(
            {
                "type": "conversation.item.create",
                "event_id": "evt_dup",
                "item": {"type": "message", "role": "user", "id": "cli_1", "content": []},
            }
        )
        error = (await client.expect("error"))["error"]
        assert (error["param"], error["event_id"]) == ("item.id", "evt_dup")
        await client.send(
            {
                "type": "conversation.item.create",
                "previous_item_id": "nope",
                "item": {"type": "message", "role": "user", "content": []},
            }
        )
        error = (await client.expect("error"))["error"]
        assert (error["code"], error["param"]) == ("item_not_found", "previous_item_id")
        await client.send(
            {
                "type": "conversation.item.create",
                "previous_item_id": "root",
                "item": {
                    "type": "message",
                    "role": "system",
                    "id": "sys_1",
                    "content": [{"type": "input_text", "text": "be kind"}],
                },
            }
        )
        added = await client.expect("conversation.item.added")
        assert added.get("previous_item_id") is None
        await client.expect("conversation.item.done")
        await client.send({"type": "conversation.item.retrieve", "item_id": "cli_1"})
        retrieved = (await client.expect("conversation.item.retrieved"))["item"]
        assert retrieved["content"] == [{"type": "input_text", "text": "one"}]
        await client.send({"type": "conversation.item.delete", "item_id": "cli_1"})
        assert (await client.expect("conversation.item.deleted"))["item_id"] == "cli_1"
        await client.send({"type": "conversation.item.delete", "item_id": "cli_1"})
        assert (await client.expect("error"))["error"]["code"] == "item_not_found"
        done = await say(client, "two")
    assert done["previous_item_id"] == "sys_1"


async def test_connections_are_served_concurrently(server: LocalServer) -> None:
    replies: dict[str, str] = {}

    async def converse(text: str) -> None:
        async with connect(server) as client:
            await update(client, output_modalities=["text"])
            await say(client, text)
            await client.send({"type": "response.create"})
            events = await client.until("rate_limits.updated")
            replies[text] = joined(events, "response.output_text.delta")

    async with trio.open_nursery() as nursery:
        for text in ("thanks", "who are you"):
            nursery.start_soon(converse, text)
    assert replies == {
        "thanks": "You are welcome.",
        "who are you": "I am the rtsession local server.",
    }


# --- the state machine, without sockets --------------------------------------------------------


class Driver:
    """Runs a ``ServerSession`` with the protocol-only engines, jobs held until released."""

    def __init__(self, **changes: Any) -> None:
        self.session = ServerSession(
            options=default_session("gpt-realtime", RATE),
            vad_factory=EnergyVad,
            ids=IdFactory(1),
            rules=ServiceRules(frozenset({RATE})),
            expires_at=0,
        )
        self.jobs: list[Transcribe | Synthesize | Stream] = []
        self.sent: list[m.ServerMessage] = []
        self.take(self.session.start())

    def take(self, step: Step) -> list[m.ServerMessage]:
        self.sent += step.messages
        self.jobs += step.jobs
        return step.messages

    def send(self, message: m.ClientMessage) -> list[m.ServerMessage]:
        return self.take(self.session.handle(message))

    def append(self, pcm: bytes) -> list[m.ServerMessage]:
        out: list[m.ServerMessage] = []
        for i in range(0, len(pcm), 960):
            out += self.send(m.InputAudioBufferAppend(audio=pcm[i : i + 960]))
        return out

    def run(
        self, job: Transcribe | Synthesize | Stream, batches: int = 10**6
    ) -> list[m.ServerMessage]:
        """Run one held job (a stream for at most ``batches`` steps)."""
        self.jobs.remove(job)
        if isinstance(job, Transcribe):
            return self.take(
                self.session.transcribed(job.item_id, TableSTT().transcribe(job.audio, job.rate))
            )
        if isinstance(job, Synthesize):
            return self.take(
                self.session.synthesized(job.response_id, ToneTTS().synthesize(job.text, job.rate))
            )
        out: list[m.ServerMessage] = []
        for _ in range(batches):
            step = self.take(self.session.stream(job.response_id))
            if not step:
                break
            out += step
        return out

    def job(self, kind: type[Transcribe | Synthesize | Stream]) -> Any:
        (found,) = [j for j in self.jobs if isinstance(j, kind)]
        return found


def types(messages: list[m.ServerMessage]) -> list[type[m.ServerMessage]]:
    return [type(msg) for msg in messages]


def test_barge_in_cancels_the_active_response() -> None:
    d = Driver()
    d.append(silence(500) + tone(1200) + silence(300))
    d.run(d.job(Transcribe))
    d.run(d.job(Synthesize))
    stream = d.job(Stream)
    opening = d.run(stream, batches=5)  # the reply is still going out
    assert m.ResponseOutputAudioDelta in types(opening)
    barge = d.append(tone(200))
    assert types(barge) == [
        m.InputAudioBufferSpeechStarted,
        m.ResponseOutputAudioDone,
        m.ResponseOutputAudioTranscriptDone,
        m.ResponseContentPartDone,
        m.ResponseOutputItemDone,
        m.ConversationItemDone,
        m.ResponseDone,
        m.RateLimitsUpdated,
    ]
    done = barge[-2]
    assert isinstance(done, m.ResponseDone)
    assert done.response.status == "cancelled"
    assert done.response.status_details == m.ResponseStatusDetails(
        type="cancelled", reason="turn_detected"
    )
    assert d.take(d.session.stream(stream.response_id)) == []  # the cancelled stream ends


def test_barge_in_leaves_the_response_alone_without_interrupt_response() -> None:
    d = Driver()
    d.send(
        m.SessionUpdate(
            session=m.SessionOptions(turn_detection=m.ServerVad(interrupt_response=False))
        )
    )
    d.append(silence(500) + tone(1200) + silence(300))
    d.run(d.job(Transcribe))
    assert types(d.append(tone(200))) == [m.InputAudioBufferSpeechStarted]


def test_turn_positions_count_all_audio_across_turn_detection_changes() -> None:
    d = Driver()
    d.append(silence(1000))
    d.send(m.SessionUpdate(session=m.SessionOptions(turn_detection=m.DISABLED)))
    assert d.append(tone(500)) == []  # push-to-talk: no turn events
    d.send(m.InputAudioBufferClear())
    d.send(m.SessionUpdate(session=m.SessionOptions(turn_detection=m.SemanticVad(eagerness="low"))))
    started, *_ = d.append(silence(500) + tone(1200))
    assert isinstance(started, m.InputAudioBufferSpeechStarted)
    assert started.audio_start_ms == 2000 - 300  # onset at 2000 ms of connection audio
    assert d.append(silence(900)) == []  # semantic "low" waits 1000 ms of silence
    stopped, *_ = d.append(silence(200))
    assert isinstance(stopped, m.InputAudioBufferSpeechStopped)
    assert stopped.audio_end_ms == 3200 + 1000
    transcribe = d.job(Transcribe)
    assert len(transcribe.audio) == (4200 - 1700) * RATE // 1000 * 2


def test_cancel_closes_out_exactly_what_was_sent() -> None:
    d = Driver()
    d.send(
        m.ConversationItemCreate(item=m.MessageItem(role="user", content=(m.InputText(text="hi"),)))
    )
    d.send(m.ResponseCreate())
    d.run(d.job(Synthesize))
    sent = d.run(d.job(Stream), batches=4)  # the opening events and three audio deltas
    audio_sent = b"".join(msg.delta for msg in sent if isinstance(msg, m.ResponseOutputAudioDelta))
    words = "".join(
        msg.delta for msg in sent if isinstance(msg, m.ResponseOutputAudioTranscriptDelta)
    )
    assert len(audio_sent) == 3 * 40 * RATE // 1000 * 2
    closing = d.send(m.ResponseCancel(message_id="evt_x"))
    by_type = {type(msg): msg for msg in closing}
    transcript_done = by_type[m.ResponseOutputAudioTranscriptDone]
    assert isinstance(transcript_done, m.ResponseOutputAudioTranscriptDone)
    assert transcript_done.transcript == words
    item_done = by_type[m.ResponseOutputItemDone]
    assert isinstance(item_done, m.ResponseOutputItemDone)
    assert item_done.item == m.MessageItem(
        role="assistant",
        content=(m.OutputAudio(transcript=words),),
        id=item_done.item.id,
        status="incomplete",
    )
    response_done = by_type[m.ResponseDone]
    assert isinstance(response_done, m.ResponseDone)
    usage = response_done.response.usage
    assert usage is not None
    assert usage.output_audio_tokens == math.ceil(120 / 50)
    assert usage.output_text_tokens == math.ceil(len(words) / 4)
    # the truncatable audio is what was sent
    retrieved = d.send(m.ConversationItemRetrieve(item_id=item_done.item.id or ""))
    (message,) = retrieved
    assert isinstance(message, m.ConversationItemRetrieved)
    assert isinstance(message.item, m.MessageItem)
    assert message.item.content == (m.OutputAudio(audio=audio_sent, transcript=words),)


def test_results_of_a_cancelled_response_are_dropped() -> None:
    d = Driver()
    d.send(m.ResponseCreate())
    synthesize = d.job(Synthesize)
    d.send(m.ResponseCancel())
    assert d.run(synthesize) == []
    assert d.jobs == []


def test_a_failed_synthesis_fails_the_response() -> None:
    d = Driver()
    d.send(m.ResponseCreate())
    job = d.job(Synthesize)
    d.jobs.remove(job)
    (done, _) = d.take(d.session.synthesis_failed(job.response_id))
    assert isinstance(done, m.ResponseDone)
    assert done.response.status == "failed"
    assert done.response.status_details == m.ResponseStatusDetails(
        type="failed", error_type="server_error", error_code="speech_engine_failed"
    )


def test_a_response_waits_for_the_transcription_of_its_input() -> None:
    d = Driver()
    d.send(m.SessionUpdate(session=m.SessionOptions(turn_detection=m.DISABLED)))
    d.append(tone(1500))
    d.send(m.InputAudioBufferCommit())
    created = d.send(m.ResponseCreate())
    assert types(created) == [m.ResponseCreated]
    assert not any(isinstance(j, Synthesize) for j in d.jobs)
    d.run(d.job(Transcribe))
    assert d.job(Synthesize).text == "It is sunny and 21 degrees in Paris."


def test_the_voice_is_fixed_once_assistant_audio_exists() -> None:
    d = Driver()
    assert types(d.send(m.SessionUpdate(session=m.SessionOptions(voice="cedar")))) == [
        m.SessionUpdated
    ]
    d.send(m.ResponseCreate())
    d.run(d.job(Synthesize))
    d.run(d.job(Stream))
    (error,) = d.send(m.SessionUpdate(session=m.SessionOptions(voice="ash")))
    assert isinstance(error, m.Error)
    assert (error.code, error.param) == ("cannot_update_voice", None)
    assert types(d.send(m.SessionUpdate(session=m.SessionOptions(voice="cedar")))) == [
        m.SessionUpdated
    ]


# --- the reply rules ---------------------------------------------------------------------------


def user(text: str) -> Entry:
    return Entry(m.MessageItem(role="user", content=(m.InputText(text=text),), id="u"))


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("Hello, how are you doing today", "Hello! How can I help you today?"),
        ("how are you", "I am fine, thank you. How can I help you?"),
        ("What is the weather in new york today?", "It is sunny and 21 degrees in New York."),
        ("nice weather", "It is sunny and 21 degrees."),
        ("What time is it", "It is twelve o'clock."),
        (
            "ask not what your country can do for you.",
            "You said: ask not what your country can do for you.",
        ),
        ("", "Sorry, I did not catch that."),
    ],
)
def test_phrase_rules(text: str, reply: str) -> None:
    assert decide_reply([user(text)], instructions=None, tools=(), tool_choice="auto") == Say(reply)


def test_the_context_decides_without_a_user_message() -> None:
    def reply(*entries: Entry, instructions: str | None = None) -> Any:
        return decide_reply(entries, instructions=instructions, tools=(), tool_choice="auto")

    assistant = Entry(m.MessageItem(role="assistant", content=(m.OutputText(text="hi"),), id="a"))
    call = Entry(m.FunctionCallItem(name="get_time", arguments="{}", call_id="c", id="f"))
    assert reply() == Say("Hello! How can I help you today?")
    assert reply(user("hi"), assistant) == Say("Is there anything else I can help you with?")
    assert reply(call) == Say("I am waiting for the result of get_time.")
    assert reply(user("hi"), instructions="Always say: \u201cbonjour\u201d.") == Say("bonjour")


def test_tool_choice_decides_when_to_call() -> None:
    weather = m.FunctionTool(name="get_weather", parameters=WEATHER_TOOL["parameters"])
    time_tool = m.FunctionTool(name="getCurrentTime")
    tools = (weather, time_tool)

    def reply(text: str, choice: m.ToolChoice) -> Any:
        return decide_reply([user(text)], instructions=None, tools=tools, tool_choice=choice)

    assert reply("what time is it", "auto") == CallFunction("getCurrentTime", "{}")
    assert reply("weather in Rome in fahrenheit", "auto") == CallFunction(
        "get_weather", '{"location":"Rome","unit":"fahrenheit"}'
    )
    assert reply("what time is it", "none") == Say("It is twelve o'clock.")
    assert reply("hello", "required") == CallFunction("get_weather", '{"location":""}')
    assert reply("hello", m.ToolChoiceFunction(name="getCurrentTime")) == CallFunction(
        "getCurrentTime", "{}"
    )
    assert reply("hello", "auto") == Say("Hello! How can I help you today?")


def test_function_arguments_from_the_schema() -> None:
    tool = m.FunctionTool(
        name="book",
        parameters={
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "guests": {"type": "integer"},
                "nights": {"type": ["number", "null"]},
                "query": {"type": "string"},
                "vip": {"type": "boolean"},
                "note": {"type": "string"},
            },
            "required": ["vip"],
        },
    )
    assert json.loads(
        function_arguments(tool, "Book twenty one guests at San Francisco please")
    ) == {
        "city": "San Francisco",
        "guests": 21,
        "nights": 21,
        "query": "Book twenty one guests at San Francisco please",
        "vip": False,
    }
    assert json.loads(function_arguments(tool, "3.5 nights")) == {
        "guests": 3,
        "nights": 3.5,
        "query": "3.5 nights",
        "vip": False,
    }


@pytest.mark.parametrize(
    ("output", "call_arguments", "answer"),
    [
        (
            '{"temperature": 21, "condition": "sunny"}',
            '{"location": "Paris"}',
            "It is sunny and 21 degrees in Paris.",
        ),
        ('{"temp": 18.0, "city": "Oslo"}', "{}", "It is 18 degrees in Oslo."),
        ('{"time": "10:30"}', "{}", "The time is 10:30."),
        ('{"a": 1, "b_c": "x"}', "{}", "Here is the result of lookup: a is 1, b c is x."),
        ("42", "{}", "The result of lookup is 42."),
        ("not json", "{}", "The result of lookup is not json."),
    ],
)
def test_answers_from_function_outputs(output: str, call_arguments: str, answer: str) -> None:
    call = m.FunctionCallItem(name="lookup", arguments=call_arguments, call_id="c")
    assert answer_from_output(output, call) == answer


# --- real speech -------------------------------------------------------------------------------


def _jfk_24k() -> bytes:
    pcm, rate = audio.read_wav(importlib.resources.files("rtsession") / "_data" / "jfk.wav")
    return audio.resample(pcm, rate, RATE)


@pytest.fixture
def real_engines() -> Any:
    return default_engines()  # fails loudly without the local extra


async def test_server_vad_on_real_speech(
    real_engines: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Silence, then "And so my fellow Americans, ask not", then silence: one turn, a real
    transcript and a spoken reply; meanwhile the event loop serves another connection."""
    speech = _jfk_24k()[: 5 * RATE * 2]  # the first 5 s: the first phrase
    async with open_local_server(engines=real_engines) as local, connect(local) as client:
        await update(client, audio={"input": {"transcription": {"model": "whisper-1"}}})
        await client.send_audio(silence(1000) + speech + silence(1000))
        started = await client.expect("input_audio_buffer.speech_started")
        stopped = await client.expect("input_audio_buffer.speech_stopped")
        stopped_at = time.perf_counter()
        # the turn is being transcribed now, in a worker process: another client is served
        async with connect(local) as other:
            await update(other, instructions="meanwhile")
        served_in = time.perf_counter() - stopped_at
        events = await client.until("response.output_audio.delta")
        first_audio = time.perf_counter() - stopped_at
        events += await client.until("rate_limits.updated")
    assert served_in < min(1.0, first_audio)
    assert 600 <= started["audio_start_ms"] <= 1000  # speech from about 1.08 s, minus 300 ms
    assert 5400 <= stopped["audio_end_ms"] <= 6200  # "ask not" ends about 5.6 s in
    (completed,) = [e for e in events if e["type"].endswith("input_audio_transcription.completed")]
    transcript = completed["transcript"]
    words = set(re.findall(r"[a-z']+", transcript.lower()))
    assert {"fellow", "american", "americans"} & words, transcript
    assert transcript[0].isupper(), transcript  # sentence case
    assert transcript[-1] in ".?", transcript
    reply = [e for e in events if e["type"] == "response.output_audio_transcript.done"]
    assert reply[0]["transcript"] == f"You said: {transcript.rstrip('.?')}."
    assert len(base64.b64decode(joined(events, "response.output_audio.delta"))) > RATE  # > 0.5 s
    with capsys.disabled():
        print(
            f"\n[jfk] {transcript!r}; speech end -> first reply audio {first_audio:.2f} s; "
            f"another connection served in {served_in * 1000:.0f} ms meanwhile"
        )
