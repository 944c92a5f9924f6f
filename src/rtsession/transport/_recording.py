"""Recording a connection's frames to JSON Lines: the file format and ``RecordingTransport``.

Frames live below the codec, so recording is a ``Transport`` that
wraps another: it sees exactly what crosses the WebSocket, in both directions.
"""

from __future__ import annotations

import binascii
import contextlib
import datetime
import math
import os
from collections.abc import Iterable
from functools import partial
from typing import IO, Final, Literal, TypeAlias, final

import attrs
import orjson
import trio

from .._errors import SessionClosedError
from .._redact import Redactor, display_url
from ..messages import JSON
from ..wire._frames import (
    AudioFormats,
    audio_fields,
    b64_size,
    get_path,
    set_path,
    shorten_b64,
    too_deep,
)
from ._base import Connection, ConnectRequest, Transport

__all__ = [
    "FORMAT_VERSION",
    "CloseRecord",
    "ConnectRecord",
    "FrameRecord",
    "Recording",
    "RecordingTransport",
    "WireFrame",
]

FORMAT_VERSION: Final = 1
"""The ``version`` in a recording's first line."""

Sender: TypeAlias = Literal["client", "server"]

_CLOSE_WAIT: Final = 5.0
"""Seconds ``aclose()`` waits for the recording's last lines to reach the file."""


@final
class _NoJson:
    """The marker of a frame that is not JSON (kept as ``data`` instead)."""

    def __repr__(self) -> str:
        return "NO_JSON"


NO_JSON: Final = _NoJson()


@attrs.frozen
class WireFrame:
    """A frame split into what a recording stores: its kind and its JSON value, or its text
    (base64 for binary) when it is not JSON."""

    binary: bool
    json: JSON | _NoJson = NO_JSON
    data: str = ""

    @classmethod
    def parse(cls, frame: str | bytes) -> WireFrame:
        """Split a frame; JSON nested deeper than a recording line can hold (orjson writes
        at most 254 levels) is kept as text, like any frame that is not JSON."""
        binary = not isinstance(frame, str)
        try:
            value = orjson.loads(frame)
        except orjson.JSONDecodeError:
            value = NO_JSON
        if not isinstance(value, _NoJson) and not too_deep(value):
            return cls(binary, value)
        if isinstance(frame, str):
            return cls(False, data=frame)
        return cls(True, data=binascii.b2a_base64(frame, newline=False).decode("ascii"))

    @property
    def is_json(self) -> bool:
        """Whether the frame holds JSON (in ``json``) rather than other text or bytes."""
        return not isinstance(self.json, _NoJson)

    def to_frame(self) -> str | bytes:
        """The frame to put on the wire (JSON re-serialized compactly)."""
        if self.is_json:
            encoded = orjson.dumps(self.json)
            return encoded if self.binary else encoded.decode()
        return binascii.a2b_base64(self.data) if self.binary else self.data

    @property
    def event_type(self) -> str:
        """The event's name: the ``type`` of an OpenAI event, the first key of a Gemini
        message (``serverContent``, ``toolCall``, ...), else ``"text"`` / ``"binary"``."""
        value = self.json
        if isinstance(value, dict) and value:
            kind = value.get("type")
            return kind if isinstance(kind, str) else next(iter(value))
        return "binary" if self.binary else "text"


@attrs.frozen
class ConnectRecord:
    """The recording's first line: the connection that was opened.

    Attributes:
        url: the URL with credential query values and user info removed.
        headers: the names of the handshake headers (their values are never recorded).
        service: the provider's name for the server, e.g. ``"OpenAI"``.
        max_audio_ms: the audio kept per frame, or ``None`` when audio is whole.
        started_at: the wall-clock time of the connection, ISO 8601 in UTC.
    """

    url: str
    headers: tuple[str, ...]
    service: str
    max_audio_ms: float | None
    started_at: str
    line: int = 1

    def to_json(self) -> dict[str, JSON]:
        return {
            "kind": "connect",
            "version": FORMAT_VERSION,
            "t_ms": 0.0,
            "started_at": self.started_at,
            "url": self.url,
            "headers": list(self.headers),
            "service": self.service,
            "max_audio_ms": self.max_audio_ms,
        }


@attrs.frozen
class FrameRecord:
    """One frame, as sent by the client or received from the server.

    Attributes:
        t_ms: milliseconds since the connection opened (trio's monotonic clock).
        sender: ``"client"`` or ``"server"``.
        frame: the frame, with credentials redacted and audio possibly shortened.
        audio_bytes: the size of the audio it carried before shortening (0: no audio).
        audio_ms: the duration of that audio.
        line: the line number in the file (1-based).
    """

    t_ms: float
    sender: Sender
    frame: WireFrame
    audio_bytes: int = 0
    audio_ms: float = 0.0
    line: int = 0

    def to_json(self) -> dict[str, JSON]:
        record: dict[str, JSON] = {
            "kind": "frame",
            "t_ms": self.t_ms,
            "from": self.sender,
            "frame": "binary" if self.frame.binary else "text",
        }
        if self.frame.is_json:
            record["json"] = self.frame.json
        else:
            record["data"] = self.frame.data
        if self.audio_bytes:
            record["audio_bytes"] = self.audio_bytes
            record["audio_ms"] = round(self.audio_ms, 3)
        return record


@attrs.frozen
class CloseRecord:
    """The end of the connection.

    Attributes:
        t_ms: milliseconds since the connection opened.
        by: ``"client"`` (the session closed it) or ``"server"`` (the server's close frame,
            or code 1006 when the connection dropped without one).
        code: the close code, e.g. 1000.
        reason: the close reason, possibly empty.
    """

    t_ms: float
    by: Sender
    code: int | None
    reason: str = ""
    line: int = 0

    def to_json(self) -> dict[str, JSON]:
        return {
            "kind": "close",
            "t_ms": self.t_ms,
            "by": self.by,
            "code": self.code,
            "reason": self.reason,
        }


Event: TypeAlias = FrameRecord | CloseRecord


@attrs.frozen
class Recording:
    """A parsed recording: the connect line and the frames and close that followed."""

    connect: ConnectRecord
    events: tuple[Event, ...]

    @classmethod
    def load(cls, source: str | os.PathLike[str] | Iterable[str]) -> Recording:
        """Parse a recording from a path, or from its lines (e.g. an open text file).

        Raises:
            OSError: the file cannot be read.
            ValueError: it is not an rtsession recording (the message names the line).
        """
        if isinstance(source, str | os.PathLike):
            with open(source, encoding="utf-8") as file:
                return cls._parse(file)
        return cls._parse(source)

    @classmethod
    def _parse(cls, lines: Iterable[str]) -> Recording:
        connect: ConnectRecord | None = None
        events: list[Event] = []
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                record = orjson.loads(text)
                if connect is None:
                    connect = _parse_connect(record, number)
                else:
                    events.append(_parse_event(record, number))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                message = f"line {number}: not an rtsession recording line ({exc})"
                raise ValueError(message) from None
        if connect is None:
            raise ValueError("an empty recording: no connect line")
        return cls(connect, tuple(events))


def _parse_connect(record: dict[str, JSON], line: int) -> ConnectRecord:
    if record["kind"] != "connect":
        raise ValueError(f"the first line must be a connect record, not {record['kind']!r}")
    if record["version"] != FORMAT_VERSION:
        raise ValueError(f"recording format version {record['version']!r} is not supported")
    max_audio_ms = record.get("max_audio_ms")
    return ConnectRecord(
        url=str(record["url"]),
        headers=tuple(str(name) for name in record["headers"]),
        service=str(record.get("service", "")),
        max_audio_ms=float(max_audio_ms) if max_audio_ms is not None else None,
        started_at=str(record.get("started_at", "")),
        line=line,
    )


def _sender(value: JSON) -> Sender:
    if value not in ("client", "server"):
        raise ValueError(f"unknown sender {value!r}")
    return "client" if value == "client" else "server"


def _parse_event(record: dict[str, JSON], line: int) -> Event:
    kind = record["kind"]
    t_ms = float(record["t_ms"])
    if kind == "close":
        code = record.get("code")
        return CloseRecord(
            t_ms, _sender(record["by"]), int(code) if code is not None else None,
            str(record.get("reason", "")), line,
        )  # fmt: skip
    if kind != "frame":
        raise ValueError(f"unknown record kind {kind!r}")
    binary = record["frame"] == "binary"
    if "json" in record:
        frame = WireFrame(binary, record["json"])
    else:
        frame = WireFrame(binary, data=str(record["data"]))
    return FrameRecord(
        t_ms,
        _sender(record["from"]),
        frame,
        int(record.get("audio_bytes", 0)),
        float(record.get("audio_ms", 0.0)),
        line,
    )


# --- recording -------------------------------------------------------------------------------


@final
class _FrameScrubber:
    """Turns frames into recording lines: credentials redacted, audio optionally cut to
    ``max_audio_ms`` per field, audio sizes measured (in the formats the server reports).

    Args:
        redactor: what hides credentials.
        max_audio_ms: keep at most this many ms of each audio field; ``None`` keeps it all.
    """

    __slots__ = ("_formats", "_max_audio_ms", "_redactor")

    def __init__(self, redactor: Redactor, max_audio_ms: float | None) -> None:
        self._redactor = redactor
        self._max_audio_ms = max_audio_ms
        self._formats = AudioFormats()

    def record(self, t_ms: float, sender: Sender, frame: str | bytes) -> FrameRecord:
        parsed = WireFrame.parse(frame)
        if not parsed.is_json:
            data = parsed.data if parsed.binary else self._redactor.text(parsed.data)
            return FrameRecord(t_ms, sender, attrs.evolve(parsed, data=data))
        if sender == "server":
            self._formats.observe(parsed.json)
        value = self._redactor.json(parsed.json)
        audio_bytes, audio_ms = 0, 0.0
        for field in audio_fields(value):
            text = get_path(value, field.path)
            encoding = self._formats.of(field)
            size = b64_size(text)
            audio_bytes += size
            audio_ms += encoding.ms(size)
            if self._max_audio_ms is not None:
                keep = encoding.size(self._max_audio_ms)
                with contextlib.suppress(binascii.Error):  # not base64 after all: kept as is
                    set_path(value, field.path, shorten_b64(text, keep))
        return FrameRecord(t_ms, sender, attrs.evolve(parsed, json=value), audio_bytes, audio_ms)


@final
class _LineSink:
    """Writes recording lines to a file from a task of the connection's nursery, in
    batches, in a worker thread, so file I/O never blocks the event loop.

    The queue is unbounded so that recording adds no wait and no cancellation point to the
    session's socket calls; it only grows if the disk is slower than the network.
    """

    def __init__(self, file: IO[str], owned: bool) -> None:
        self._file = file
        self._owned = owned
        self._send, self._receive = trio.open_memory_channel[str](math.inf)
        self.finished = trio.Event()

    @classmethod
    async def open(cls, target: str | os.PathLike[str] | IO[str]) -> _LineSink:
        if isinstance(target, str | os.PathLike):
            file = await trio.to_thread.run_sync(partial(open, target, "w", encoding="utf-8"))
            return cls(file, owned=True)
        await trio.lowlevel.checkpoint()
        return cls(target, owned=False)

    def put(self, record: dict[str, JSON]) -> None:
        line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE).decode()
        try:  # noqa: SIM105 -- lines after the close are dropped
            self._send.send_nowait(line)
        except trio.ClosedResourceError:
            pass

    def close(self) -> None:
        self._send.close()

    async def run(self) -> None:
        try:
            async for line in self._receive:
                batch = [line]
                while True:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                await trio.to_thread.run_sync(self._file.writelines, batch)
        finally:
            if self._owned:
                self._file.close()
            else:
                self._file.flush()
            self.finished.set()


@final
class _RecordingConnection:
    """A ``Connection`` that records what passes through it."""

    def __init__(
        self, inner: Connection, sink: _LineSink, scrubber: _FrameScrubber, start: float
    ) -> None:
        self._inner = inner
        self._sink = sink
        self._scrubber = scrubber
        self._start = start
        self._closed = False

    def _t_ms(self) -> float:
        return round((trio.current_time() - self._start) * 1000, 3)

    def _record_close(self, by: Sender, code: int | None, reason: str) -> None:
        if not self._closed:
            self._closed = True
            self._sink.put(CloseRecord(self._t_ms(), by, code, reason).to_json())

    async def send(self, frame: str | bytes) -> None:
        self._sink.put(self._scrubber.record(self._t_ms(), "client", frame).to_json())
        await self._inner.send(frame)

    async def receive(self) -> str | bytes:
        try:
            frame = await self._inner.receive()
        except SessionClosedError as exc:
            self._record_close("server", exc.code, exc.reason)
            raise
        self._sink.put(self._scrubber.record(self._t_ms(), "server", frame).to_json())
        return frame

    async def aclose(self) -> None:
        # Recorded first: the server's answer to our close frame ends receive() meanwhile.
        self._record_close("client", 1000, "")
        try:
            await self._inner.aclose()
        finally:
            self._sink.close()
            with trio.move_on_after(_CLOSE_WAIT, shield=True):
                await self._sink.finished.wait()


@final
class RecordingTransport:
    """A transport that records every frame of its connection to a JSON Lines file, for
    reading (``rtsession replay FILE``) and for deterministic tests
    (``ReplayTransport``).

    ::

        recorder = RecordingTransport(TrioWebsocketTransport(), "session.jsonl", max_audio_ms=100)
        async with open_session(provider, options, transport=recorder) as session:
            ...

    The file holds one JSON object per line: a ``connect`` line (the URL without credential
    query values, the handshake header *names*, the service, ``max_audio_ms``, the start
    time), one ``frame`` line per frame either way (``t_ms`` since the connection opened on
    trio's monotonic clock, ``from`` ``client`` / ``server``, ``frame`` ``text`` / ``binary``,
    the parsed ``json`` or else the raw ``data``, and ``audio_bytes`` / ``audio_ms`` for
    frames with audio), and a ``close`` line. See ``docs/recording.md``.

    Credentials are scrubbed from everything written: header values and credential query
    values wherever they occur in a frame, values of credential keys (``authorization``,
    ``api_key``, ``client_secret``, ...), and every value of a ``headers`` object.

    Each ``connect`` starts the file afresh: use one transport (or one path) per session.
    Lines are written by a task in the connection's nursery through a worker thread;
    ``aclose()`` waits (up to 5 s) until they are on disk.

    Args:
        inner: the transport that opens the real connection, e.g.
            ``TrioWebsocketTransport``.
        target: a path (created or truncated on connect, closed on close) or an open text
            file (left open; flushed on close).
        max_audio_ms: keep only the first this-many milliseconds of each audio field (0
            keeps none); ``None`` keeps all audio. Milliseconds follow the format the
            session reports (24 kHz PCM16 by default; Gemini states its rate per blob).
    """

    __slots__ = ("_inner", "_max_audio_ms", "_target")

    def __init__(
        self,
        inner: Transport,
        target: str | os.PathLike[str] | IO[str],
        *,
        max_audio_ms: float | None = None,
    ) -> None:
        if max_audio_ms is not None and max_audio_ms < 0:
            raise ValueError(f"max_audio_ms must not be negative, not {max_audio_ms}")
        self._inner = inner
        self._target = target
        self._max_audio_ms = max_audio_ms

    async def connect(self, nursery: trio.Nursery, request: ConnectRequest) -> Connection:
        """Open the inner connection, then the file; see ``Transport.connect``.

        Raises:
            ConnectError: the inner transport could not connect (nothing is written).
            OSError: the file cannot be opened (the connection is closed again).
        """
        connection = await self._inner.connect(nursery, request)
        try:
            sink = await _LineSink.open(self._target)
        except BaseException:
            with trio.CancelScope(shield=True):
                await connection.aclose()
            raise
        nursery.start_soon(sink.run, name="rtsession recording writer")
        header = ConnectRecord(
            url=display_url(request.url),
            headers=tuple(name for name, _ in request.headers),
            service=request.service,
            max_audio_ms=self._max_audio_ms,
            started_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
        )
        sink.put(header.to_json())
        scrubber = _FrameScrubber(request.redactor(), self._max_audio_ms)
        return _RecordingConnection(connection, sink, scrubber, trio.current_time())
