"""Twilio Media Streams, the WebSocket protocol of ``<Connect><Stream>``: the messages Twilio
sends (``connected``, ``start``, ``media``, ``mark``, ``dtmf``, ``stop``) parsed into small
frozen classes, and the ones a bidirectional stream sends back (``media``, ``mark``,
``clear``). Sans-I/O: text frames in, text frames out.

Source: Twilio's documentation, "Media Streams - WebSocket Messages"
(https://www.twilio.com/docs/voice/media-streams/websocket-messages).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import attrs
import orjson

from ..wire._json import b64decode, b64encode

__all__ = [
    "Connected",
    "Dtmf",
    "Mark",
    "Media",
    "MediaFormat",
    "Start",
    "Stop",
    "TwilioEvent",
    "TwilioProtocolError",
    "clear_frame",
    "mark_frame",
    "media_frame",
    "parse_frame",
]


class TwilioProtocolError(ValueError):
    """A frame from Twilio (or what claims to be Twilio) is not a Media Streams message the
    bridge can use: not JSON, no known ``event``, a field missing or of the wrong type, or a
    payload that is not base64. The call goes on; the frame is logged and dropped."""


@attrs.frozen(kw_only=True)
class Connected:
    """``connected``: the first message of a stream.

    Attributes:
        protocol: ``"Call"``.
        version: the protocol's semantic version, e.g. ``"1.0.0"``.
    """

    protocol: str
    version: str


@attrs.frozen(kw_only=True)
class MediaFormat:
    """``start.mediaFormat``: ``encoding`` (``"audio/x-mulaw"``), ``sample_rate`` (8000 Hz)
    and ``channels`` (1)."""

    encoding: str
    sample_rate: int
    channels: int


@attrs.frozen(kw_only=True)
class Start:
    """``start``: the stream's metadata, once, right after ``connected``.

    Attributes:
        stream_sid: the stream (``MZ...``); every frame sent back names it.
        account_sid: the account (``AC...``).
        call_sid: the call (``CA...``).
        tracks: ``"inbound"`` and/or ``"outbound"``.
        media_format: the audio's encoding, rate and channels.
        custom_parameters: the ``<Parameter>`` values of the ``<Stream>`` TwiML.
        sequence_number: the message's position in the stream (1 for the first after
            ``connected``).
    """

    stream_sid: str
    account_sid: str
    call_sid: str
    tracks: tuple[str, ...]
    media_format: MediaFormat
    custom_parameters: Mapping[str, str] = attrs.field(factory=dict)
    sequence_number: int = 0


@attrs.frozen(kw_only=True)
class Media:
    """``media``: 20 ms (typically) of the caller's audio.

    Attributes:
        payload: the audio, base64-decoded: mu-law bytes, one per sample at 8000 Hz.
        track: ``"inbound"`` (the caller) or ``"outbound"``.
        chunk: the chunk's number, from 1.
        timestamp: ms from the start of the stream.
    """

    payload: bytes = attrs.field(repr=lambda payload: f"<{len(payload)} bytes>")
    track: str = "inbound"
    chunk: int = 0
    timestamp: int = 0


@attrs.frozen(kw_only=True)
class Mark:
    """``mark``: the audio sent before the mark named ``name`` has been played to the caller
    (or dropped by a ``clear``)."""

    name: str


@attrs.frozen(kw_only=True)
class Dtmf:
    """``dtmf``: the caller pressed a key (``digit``: ``0``-``9``, ``*``, ``#``)."""

    digit: str
    track: str = "inbound_track"


@attrs.frozen(kw_only=True)
class Stop:
    """``stop``: the stream ended (the caller hung up, or the call moved on)."""

    call_sid: str = ""
    account_sid: str = ""


TwilioEvent: TypeAlias = Connected | Start | Media | Mark | Dtmf | Stop
"""What ``parse_frame`` returns."""


def _field(obj: Mapping[str, Any], name: str, kind: type[Any], where: str) -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TwilioProtocolError(f"{where}.{name} is missing or not a {kind.__name__}")
    return value


def _object(obj: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = obj.get(name)
    if not isinstance(value, dict):
        raise TwilioProtocolError(f"{name!r} is missing or not an object")
    return value


def _number(obj: Mapping[str, Any], name: str) -> int:
    """Twilio sends counters as decimal strings (``"sequenceNumber": "3"``)."""
    value = obj.get(name, "0")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TwilioProtocolError(f"{name} is not a number: {value!r}") from None


def parse_frame(frame: str | bytes) -> TwilioEvent:
    """Parse one WebSocket text frame from Twilio.

    Raises:
        TwilioProtocolError: not JSON, an unknown ``event``, a missing or mistyped field, or
            a ``media.payload`` that is not base64.
    """
    try:
        message = orjson.loads(frame)
    except orjson.JSONDecodeError as error:
        raise TwilioProtocolError(f"not JSON: {error}") from None
    if not isinstance(message, dict):
        raise TwilioProtocolError("not a JSON object")
    event = message.get("event")
    if event == "media":
        media = _object(message, "media")
        try:
            payload = b64decode(_field(media, "payload", str, "media"))
        except ValueError as error:
            raise TwilioProtocolError(f"media.payload is not base64: {error}") from None
        return Media(
            payload=payload,
            track=str(media.get("track", "inbound")),
            chunk=_number(media, "chunk"),
            timestamp=_number(media, "timestamp"),
        )
    if event == "mark":
        return Mark(name=_field(_object(message, "mark"), "name", str, "mark"))
    if event == "start":
        start = _object(message, "start")
        fmt = _object(start, "mediaFormat")
        tracks = start.get("tracks", ["inbound"])
        parameters = start.get("customParameters") or {}
        if not isinstance(tracks, list) or not isinstance(parameters, dict):
            raise TwilioProtocolError("start.tracks or start.customParameters is mistyped")
        return Start(
            stream_sid=_field(start, "streamSid", str, "start"),
            account_sid=str(start.get("accountSid", "")),
            call_sid=_field(start, "callSid", str, "start"),
            tracks=tuple(str(t) for t in tracks),
            media_format=MediaFormat(
                encoding=_field(fmt, "encoding", str, "start.mediaFormat"),
                sample_rate=_field(fmt, "sampleRate", int, "start.mediaFormat"),
                channels=_field(fmt, "channels", int, "start.mediaFormat"),
            ),
            custom_parameters={str(k): str(v) for k, v in parameters.items()},
            sequence_number=_number(message, "sequenceNumber"),
        )
    if event == "dtmf":
        dtmf = _object(message, "dtmf")
        return Dtmf(
            digit=_field(dtmf, "digit", str, "dtmf"),
            track=str(dtmf.get("track", "inbound_track")),
        )
    if event == "stop":
        stop = message.get("stop")
        if not isinstance(stop, dict):
            return Stop()
        return Stop(
            call_sid=str(stop.get("callSid", "")), account_sid=str(stop.get("accountSid", ""))
        )
    if event == "connected":
        return Connected(
            protocol=str(message.get("protocol", "")), version=str(message.get("version", ""))
        )
    raise TwilioProtocolError(f"unknown event {event!r}")


def media_frame(stream_sid: str, mulaw: bytes) -> str:
    """A ``media`` message that plays ``mulaw`` (8000 Hz) to the caller."""
    payload = b64encode(mulaw)
    return orjson.dumps(
        {"event": "media", "streamSid": stream_sid, "media": {"payload": payload}}
    ).decode()


def mark_frame(stream_sid: str, name: str) -> str:
    """A ``mark`` message: Twilio sends it back once the audio sent before it has played."""
    return orjson.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}).decode()


def clear_frame(stream_sid: str) -> str:
    """A ``clear`` message: Twilio drops the audio it has not played yet (and sends back the
    marks still pending)."""
    return orjson.dumps({"event": "clear", "streamSid": stream_sid}).decode()
