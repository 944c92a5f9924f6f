"""The relay protocol between a web page and ``rtsession web`` (sans-I/O: frames in, typed
messages out, and server messages as page events). ``docs/web.md`` documents it.

Version 1, negotiated as the WebSocket subprotocol ``rtsession.web.v1``:

- page to server: binary frames of PCM16 mono little-endian audio at the ``input_rate`` of
  the ``ready`` event, whole samples, at most ``MAX_FRAME_MS`` each; text frames of JSON
  objects, ``{"type": "played", "item_id", "content_index", "ms"}`` (how much of a reply
  part the page has played) and ``{"type": "stop"}``;
- server to page: text frames of JSON events (``ready``, ``speech_started``,
  ``speech_stopped``, ``transcript``, ``transcript_done``, ``audio``, ``flush``,
  ``interrupted``, ``tool_call``, ``tool_result``, ``response_done``, ``error``, ``ended``);
  binary frames of PCM16 reply audio at ``output_rate``, belonging to the part named by the
  last ``audio`` event.
"""

from __future__ import annotations

import math
from typing import Any, Final, TypeAlias

import attrs
import orjson

from .. import messages as m
from ..middleware import ToolInvocationCompleted, ToolInvocationStarted

__all__ = [
    "MAX_FRAME_MS",
    "PROTOCOL",
    "AudioFrame",
    "PageMessage",
    "PageProtocolError",
    "Played",
    "Stop",
    "ended_event",
    "event_for",
    "parse_page_frame",
]

PROTOCOL: Final = "rtsession.web.v1"
"""The WebSocket subprotocol of version 1 of the relay protocol."""

MAX_FRAME_MS: Final = 200
"""The longest audio frame a page may send, in ms (an AudioWorklet sends 20-40 ms)."""

Event: TypeAlias = dict[str, Any]


class PageProtocolError(Exception):
    """A frame from the page that the relay protocol does not allow (the page's fault): it
    is answered with an ``error`` event carrying ``code`` and dropped.

    Attributes:
        code: ``"bad_audio"``, ``"bad_json"``, ``"bad_event"`` or ``"unknown_event"``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@attrs.frozen
class AudioFrame:
    """Microphone audio: PCM16 mono at the session's input rate."""

    pcm: bytes


@attrs.frozen
class Played:
    """The page has played the first ``ms`` ms of a reply part."""

    item_id: str
    content_index: int
    ms: float


@attrs.frozen
class Stop:
    """The user stopped: end the session."""


PageMessage: TypeAlias = AudioFrame | Played | Stop


def parse_page_frame(frame: str | bytes, *, input_rate: int) -> PageMessage:
    """One WebSocket message from the page, checked.

    Args:
        frame: the message: ``bytes`` for a binary frame, ``str`` for a text frame.
        input_rate: the session's input rate, in Hz (it bounds the frame size).

    Raises:
        PageProtocolError: the frame breaks the protocol (the message says how).
    """
    if isinstance(frame, bytes):
        limit = 2 * input_rate * MAX_FRAME_MS // 1000
        if not frame or len(frame) % 2 or len(frame) > limit:
            raise PageProtocolError(
                "bad_audio",
                f"an audio frame must be 2 to {limit} bytes of whole 16-bit samples "
                f"({MAX_FRAME_MS} ms at {input_rate} Hz at most), not {len(frame)} bytes",
            )
        return AudioFrame(frame)
    try:
        value = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise PageProtocolError("bad_json", f"a text frame must be JSON: {exc}") from None
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise PageProtocolError("bad_json", 'a text frame must be an object with a "type"')
    kind = value["type"]
    if kind == "stop":
        return Stop()
    if kind != "played":
        raise PageProtocolError("unknown_event", f"unknown event type {kind!r}")
    item_id, index, ms = value.get("item_id"), value.get("content_index"), value.get("ms")
    if (
        not isinstance(item_id, str)
        or not isinstance(index, int)
        or isinstance(index, bool)
        or index < 0
        or not isinstance(ms, int | float)
        or isinstance(ms, bool)
        or not math.isfinite(ms)
        or ms < 0
    ):
        raise PageProtocolError(
            "bad_event",
            '"played" needs "item_id" (a string), "content_index" (an integer >= 0) and '
            '"ms" (a finite number >= 0)',
        )
    return Played(item_id, index, float(ms))


def event_for(message: m.ServerMessage) -> Event | None:
    """The page event for a server message, or ``None`` for one the page is not shown
    (reply audio goes as binary frames, see ``PageConnection``)."""
    match message:
        case m.InputAudioBufferSpeechStarted(item_id=item_id):
            return {"type": "speech_started", "item_id": item_id}
        case m.InputAudioBufferSpeechStopped(item_id=item_id):
            return {"type": "speech_stopped", "item_id": item_id}
        case m.ConversationItemInputAudioTranscriptionDelta(item_id=item_id, delta=str(delta)):
            return {"type": "transcript", "role": "user", "item_id": item_id, "delta": delta}
        case m.ConversationItemInputAudioTranscriptionCompleted(item_id=item_id, transcript=text):
            return {"type": "transcript_done", "role": "user", "item_id": item_id, "text": text}
        case (
            m.ResponseOutputAudioTranscriptDelta(item_id=item_id, delta=delta)
            | m.ResponseOutputTextDelta(item_id=item_id, delta=delta)
        ):
            return {"type": "transcript", "role": "assistant", "item_id": item_id, "delta": delta}
        case (
            m.ResponseOutputAudioTranscriptDone(item_id=item_id, transcript=text)
            | m.ResponseOutputTextDone(item_id=item_id, text=text)
        ):
            return {
                "type": "transcript_done",
                "role": "assistant",
                "item_id": item_id,
                "text": text,
            }
        case m.PlaybackInterrupted(item_id=item_id, audio_end_ms=played, reason=reason):
            return {
                "type": "interrupted",
                "item_id": item_id,
                "played_ms": played,
                "reason": reason,
            }
        case ToolInvocationStarted(call_id=call_id, name=name, arguments=arguments):
            return {"type": "tool_call", "call_id": call_id, "name": name, "arguments": arguments}
        case ToolInvocationCompleted(call_id=call_id, name=name, output=output, outcome=outcome):
            return {
                "type": "tool_result",
                "call_id": call_id,
                "name": name,
                "output": output,
                "outcome": outcome,
            }
        case m.ResponseDone(response=response):
            return {"type": "response_done", "status": response.status}
        case m.Error(code=code, message=text):
            return {"type": "error", "code": code, "message": text}
    return None


def ended_event(error: BaseException | None) -> Event:
    """The ``ended`` event: the session is over (``error``: why it failed, if it did)."""
    return {"type": "ended", "error": None if error is None else str(error)}
