"""The event corpus: what a realtime voice conversation puts on the wire, as the live OpenAI GA
service sends it (explicit nulls, ``obfuscation`` keys, ``part.type: "audio"``;
``docs/openai-dialects.md``).

One *cycle* is three turns in wire order: a spoken question answered with 5 s of audio
(250 deltas of 20 ms at 24 kHz, 60 transcript deltas), a question answered with a function
call, and an error. Audio deltas are about 70 % of the events, as in a real voice session.
"""

from __future__ import annotations

import base64
import math
from functools import cache
from typing import Any

import orjson

from rtsession import messages as m

RATE = 24_000
"""Sample rate of all audio, Hz."""
FRAME_MS = 20
"""Audio per delta / append, ms."""
FRAME_BYTES = RATE * FRAME_MS // 1000 * 2
"""960: bytes of PCM16 in 20 ms at 24 kHz."""

TOOL_NAME = "get_weather"


def pcm_frame(index: int = 0) -> bytes:
    """20 ms of a 440 Hz tone as PCM16 (deterministic, not silence, so base64 is realistic)."""
    samples = FRAME_BYTES // 2
    start = index * samples
    return b"".join(
        int(8000 * math.sin(2 * math.pi * 440 * (start + i) / RATE)).to_bytes(
            2, "little", signed=True
        )
        for i in range(samples)
    )


@cache
def audio_b64() -> str:
    return base64.b64encode(pcm_frame()).decode()


_USAGE = {
    "total_tokens": 1253,
    "input_tokens": 532,
    "output_tokens": 721,
    "input_token_details": {
        "text_tokens": 119,
        "audio_tokens": 413,
        "image_tokens": 0,
        "cached_tokens": 64,
        "cached_tokens_details": {"text_tokens": 64, "audio_tokens": 0, "image_tokens": 0},
    },
    "output_token_details": {"text_tokens": 130, "audio_tokens": 591},
}


def _response(rid: str, status: str, output: list[Any], usage: Any) -> dict[str, Any]:
    return {
        "object": "realtime.response",
        "id": rid,
        "status": status,
        "status_details": None,
        "output": output,
        "conversation_id": "conv_C1",
        "output_modalities": ["audio"],
        "max_output_tokens": "inf",
        "audio": {"output": {"format": {"type": "audio/pcm", "rate": RATE}, "voice": "marin"}},
        "usage": usage,
        "metadata": None,
    }


class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"event_C{self.n:06d}"


def _voice_turn(ev: _Ids, turn: int) -> list[dict[str, Any]]:
    user, item, rid = f"item_U{turn}", f"item_A{turn}", f"resp_{turn}"
    common = {"response_id": rid, "item_id": item, "output_index": 0, "content_index": 0}
    user_item = {
        "id": user,
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    out: list[dict[str, Any]] = [
        {
            "type": "input_audio_buffer.speech_started",
            "event_id": ev(),
            "audio_start_ms": 1000,
            "item_id": user,
        },
        {
            "type": "input_audio_buffer.speech_stopped",
            "event_id": ev(),
            "audio_end_ms": 2600,
            "item_id": user,
        },
        {
            "type": "input_audio_buffer.committed",
            "event_id": ev(),
            "previous_item_id": None,
            "item_id": user,
        },
        {
            "type": "conversation.item.added",
            "event_id": ev(),
            "previous_item_id": None,
            "item": user_item,
        },
        {
            "type": "conversation.item.done",
            "event_id": ev(),
            "previous_item_id": None,
            "item": user_item,
        },
    ]
    for word in ("What", " is", " the", " weather", " like", " today", "?"):
        out.append(
            {
                "type": "conversation.item.input_audio_transcription.delta",
                "event_id": ev(),
                "item_id": user,
                "content_index": 0,
                "delta": word,
                "obfuscation": "x1y2z",
            }
        )
    out.append(
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "event_id": ev(),
            "item_id": user,
            "content_index": 0,
            "transcript": "What is the weather like today?",
            "usage": {"type": "duration", "seconds": 1.6},
        }
    )
    assistant = {
        "id": item,
        "object": "realtime.item",
        "type": "message",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    out += [
        {
            "type": "response.created",
            "event_id": ev(),
            "response": _response(rid, "in_progress", [], None),
        },
        {
            "type": "response.output_item.added",
            "event_id": ev(),
            "response_id": rid,
            "output_index": 0,
            "item": assistant,
        },
        {
            "type": "conversation.item.added",
            "event_id": ev(),
            "previous_item_id": user,
            "item": assistant,
        },
        {
            "type": "response.content_part.added",
            "event_id": ev(),
            **common,
            "part": {"type": "audio", "transcript": ""},
        },
    ]
    words = ("It", " is", " sunny", " and", " warm", ",", " about", " twenty", " four", " degrees")
    transcript = ""
    audio = audio_b64()
    for k in range(250):  # 5 s of audio; a transcript delta about every 4 audio deltas
        if k % 4 == 1 and k < 240:
            word = words[(k // 4) % len(words)]
            transcript += word
            out.append(
                {
                    "type": "response.output_audio_transcript.delta",
                    "event_id": ev(),
                    **common,
                    "delta": word,
                    "obfuscation": "a1b2c3d4",
                }
            )
        out.append(
            {"type": "response.output_audio.delta", "event_id": ev(), **common, "delta": audio}
        )
    done_item = {
        **assistant,
        "status": "completed",
        "content": [{"type": "output_audio", "transcript": transcript}],
    }
    out += [
        {"type": "response.output_audio.done", "event_id": ev(), **common},
        {
            "type": "response.output_audio_transcript.done",
            "event_id": ev(),
            **common,
            "transcript": transcript,
        },
        {
            "type": "response.content_part.done",
            "event_id": ev(),
            **common,
            "part": {"type": "audio", "transcript": transcript},
        },
        {
            "type": "response.output_item.done",
            "event_id": ev(),
            "response_id": rid,
            "output_index": 0,
            "item": done_item,
        },
        {
            "type": "conversation.item.done",
            "event_id": ev(),
            "previous_item_id": user,
            "item": done_item,
        },
        {
            "type": "response.done",
            "event_id": ev(),
            "response": _response(rid, "completed", [done_item], _USAGE),
        },
        {
            "type": "rate_limits.updated",
            "event_id": ev(),
            "rate_limits": [
                {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
                {"name": "tokens", "limit": 40000, "remaining": 38490, "reset_seconds": 2.265},
            ],
        },
    ]
    return out


def _tool_turn(ev: _Ids, turn: int) -> list[dict[str, Any]]:
    rid, item, call = f"resp_T{turn}", f"item_F{turn}", f"call_{turn}"
    args = '{"city": "Paris", "unit": "celsius"}'
    call_item = {
        "id": item,
        "object": "realtime.item",
        "type": "function_call",
        "status": "in_progress",
        "name": TOOL_NAME,
        "call_id": call,
        "arguments": "",
    }
    done_item = {**call_item, "status": "completed", "arguments": args}
    out: list[dict[str, Any]] = [
        {
            "type": "input_audio_buffer.speech_started",
            "event_id": ev(),
            "audio_start_ms": 9000,
            "item_id": f"item_V{turn}",
        },
        {
            "type": "input_audio_buffer.speech_stopped",
            "event_id": ev(),
            "audio_end_ms": 9900,
            "item_id": f"item_V{turn}",
        },
        {
            "type": "response.created",
            "event_id": ev(),
            "response": _response(rid, "in_progress", [], None),
        },
        {
            "type": "response.output_item.added",
            "event_id": ev(),
            "response_id": rid,
            "output_index": 0,
            "item": call_item,
        },
    ]
    for piece in ('{"city"', ': "Par', 'is", "u', 'nit": "c', 'elsius"}'):
        out.append(
            {
                "type": "response.function_call_arguments.delta",
                "event_id": ev(),
                "response_id": rid,
                "item_id": item,
                "output_index": 0,
                "call_id": call,
                "delta": piece,
                "obfuscation": "q9",
            }
        )
    out += [
        {
            "type": "response.function_call_arguments.done",
            "event_id": ev(),
            "response_id": rid,
            "item_id": item,
            "output_index": 0,
            "call_id": call,
            "name": TOOL_NAME,
            "arguments": args,
        },
        {
            "type": "response.output_item.done",
            "event_id": ev(),
            "response_id": rid,
            "output_index": 0,
            "item": done_item,
        },
        {
            "type": "response.done",
            "event_id": ev(),
            "response": _response(rid, "completed", [done_item], _USAGE),
        },
    ]
    return out


def _error(ev: _Ids) -> dict[str, Any]:
    return {
        "type": "error",
        "event_id": ev(),
        "error": {
            "type": "invalid_request_error",
            "code": "invalid_value",
            "message": "Invalid value: 'pcm8'. Supported values are: 'audio/pcm'.",
            "param": "session.audio.input.format.type",
            "event_id": "evt_client_7",
        },
    }


@cache
def server_events() -> tuple[dict[str, Any], ...]:
    """One cycle of server events, in wire order."""
    ev = _Ids()
    return (*_voice_turn(ev, 1), *_tool_turn(ev, 1), _error(ev))


@cache
def server_frames() -> tuple[bytes, ...]:
    """The cycle as text-frame payloads (compact JSON, as the service sends)."""
    return tuple(orjson.dumps(event) for event in server_events())


SESSION_CREATED: dict[str, Any] = {
    "type": "session.created",
    "event_id": "event_C000000",
    "session": {
        "type": "realtime",
        "object": "realtime.session",
        "id": "sess_bench",
        "model": "gpt-realtime",
        "output_modalities": ["audio"],
        "instructions": "benchmark",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "prompt": None,
        "expires_at": 1756324625,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": RATE},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 200,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {"format": {"type": "audio/pcm", "rate": RATE}, "voice": "marin", "speed": 1},
        },
        "include": None,
    },
}


def client_messages() -> list[m.ClientMessage]:
    """One cycle of what a voice app sends: 50 audio appends (1 s) per other event."""
    pcm = pcm_frame()
    out: list[m.ClientMessage] = [m.InputAudioBufferAppend(audio=pcm) for _ in range(200)]
    out += [
        m.ConversationItemTruncate(item_id="item_A1", content_index=0, audio_end_ms=1500),
        m.ResponseCancel(),
        m.ConversationItemCreate(
            item=m.FunctionCallOutputItem(call_id="call_1", output='{"temperature_c": 24}')
        ),
        m.ResponseCreate(),
    ]
    return out


def client_dicts() -> list[dict[str, Any]]:
    """The same cycle as the dicts an SDK user passes to ``connection.send`` (audio already
    base64, as the SDK's ``input_audio_buffer.append(audio=...)`` takes it)."""
    out: list[dict[str, Any]] = [
        {"type": "input_audio_buffer.append", "audio": audio_b64()} for _ in range(200)
    ]
    out += [
        {
            "type": "conversation.item.truncate",
            "item_id": "item_A1",
            "content_index": 0,
            "audio_end_ms": 1500,
        },
        {"type": "response.cancel"},
        {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call_output",
                "call_id": "call_1",
                "output": '{"temperature_c": 24}',
            },
        },
        {"type": "response.create"},
    ]
    return out


def type_counts() -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in server_events():
        counts[event["type"]] = counts.get(event["type"], 0) + 1
    return counts
