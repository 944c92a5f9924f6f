"""Replaying a recording as the server: ``ReplayTransport`` and ``ReplayMismatch``."""

from __future__ import annotations

import binascii
import os
from collections.abc import Iterable
from typing import Final, NoReturn, final

import trio

from .._errors import RTSessionError, SessionClosedError
from .._redact import Redactor
from ..messages import JSON
from ..transport import Connection, ConnectRequest
from ..transport._recording import CloseRecord, FrameRecord, Recording, WireFrame
from ..wire._frames import Path, audio_fields, get_path, set_path

__all__ = ["ReplayMismatch", "ReplayTransport"]

_MISSING: Final = "<missing>"
_SHOWN_CHARS: Final = 120


class ReplayMismatch(RTSessionError):
    """The client did not send what the recording says it sent.

    Raised by ``ReplayTransport``'s connection when a frame differs (it ends the
    session and leaves ``open_session`` as itself), and by
    ``ReplayTransport.assert_complete`` when recorded frames were never sent.

    Attributes:
        index: the 1-based number of the client frame in the recording (its n-th client
            frame), or ``None`` when the client sent more frames than recorded.
        line: the recording's line holding the expected frame, or ``None``.
        path: where in the JSON the first difference is, e.g. ``"item.content[0].text"``
            (``""`` for the whole frame), or ``None`` when no frame was compared.
        expected: the recorded value at ``path``.
        actual: the value the client sent there.
    """

    def __init__(
        self,
        message: str,
        *,
        index: int | None = None,
        line: int | None = None,
        path: str | None = None,
        expected: JSON = None,
        actual: JSON = None,
    ) -> None:
        super().__init__(message)
        self.index = index
        self.line = line
        self.path = path
        self.expected = expected
        self.actual = actual


def _show(value: JSON) -> str:
    text = repr(value)
    if len(text) > _SHOWN_CHARS:
        text = f"{text[: _SHOWN_CHARS - 20]}...{text[-12:]} ({len(text)} chars)"
    return text


def _format_path(path: Path) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def _parse_path(dotted: str) -> Path:
    return tuple(dotted.split("."))


def _same_scalar(expected: JSON, actual: JSON) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual
    return type(expected) is type(actual) and bool(expected == actual)


def first_difference(
    expected: JSON, actual: JSON, path: Path = ()
) -> tuple[Path, JSON, JSON] | None:
    """The first place two JSON values differ, depth first in the expected value's key
    order (then keys only ``actual`` has), as ``(path, expected, actual)``; ``None`` when
    they are equal. A missing key shows as ``"<missing>"``; ``1`` equals ``1.0`` but not
    ``true``."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in [*expected, *(key for key in actual if key not in expected)]:
            found = first_difference(
                expected.get(key, _MISSING), actual.get(key, _MISSING), (*path, key)
            )
            if found is not None:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        for index, (left, right) in enumerate(zip(expected, actual, strict=False)):
            found = first_difference(left, right, (*path, index))
            if found is not None:
                return found
        if len(expected) != len(actual):
            shorter = min(len(expected), len(actual))
            return (
                (*path, shorter),
                expected[shorter] if shorter < len(expected) else _MISSING,
                actual[shorter] if shorter < len(actual) else _MISSING,
            )
        return None
    return None if _same_scalar(expected, actual) else (path, expected, actual)


@final
class _Matcher:
    """Compares a live client frame with the recorded one under the replay rules."""

    __slots__ = ("_ignore", "_redactor", "_shortened")

    def __init__(self, redactor: Redactor, ignore: tuple[Path, ...], shortened: bool) -> None:
        self._redactor = redactor
        self._ignore = ignore
        self._shortened = shortened

    def difference(self, recorded: WireFrame, frame: str | bytes) -> tuple[Path, JSON, JSON] | None:
        live = WireFrame.parse(frame)
        if live.binary != recorded.binary:
            kinds = ("text", "binary")
            return (), f"a {kinds[recorded.binary]} frame", f"a {kinds[live.binary]} frame"
        if not (recorded.is_json and live.is_json):
            expected = recorded.json if recorded.is_json else recorded.data
            actual = live.json if live.is_json else self._redactor.text(live.data)
            return None if expected == actual else ((), expected, actual)
        return self._json_difference(recorded.json, self._redactor.json(live.json))

    def _json_difference(self, expected: JSON, actual: JSON) -> tuple[Path, JSON, JSON] | None:
        expected, actual = _copy(expected), _copy(actual)
        for path in self._ignore:
            _drop(expected, path)
            _drop(actual, path)
        if self._shortened:
            for field in audio_fields(expected):
                _accept_prefix(expected, actual, field.path)
        return first_difference(expected, actual)


def _copy(value: JSON) -> JSON:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _drop(value: JSON, path: Path) -> None:
    try:
        parent = get_path(value, path[:-1])
    except (KeyError, IndexError, TypeError):
        return
    if isinstance(parent, dict):
        parent.pop(path[-1], None)


def _accept_prefix(expected: JSON, actual: JSON, path: Path) -> None:
    """Make the live audio at ``path`` equal the recorded (shortened) audio when it starts
    with it: only what the recording kept is compared."""
    try:
        recorded, live = get_path(expected, path), get_path(actual, path)
        if isinstance(live, str) and binascii.a2b_base64(live).startswith(
            binascii.a2b_base64(recorded)
        ):
            set_path(actual, path, recorded)
    except (KeyError, IndexError, TypeError, binascii.Error):
        pass  # absent or not base64: compared as it is


@final
class _ReplayConnection:
    """Plays the recorded server side, checking the client's frames as they come.

    Client frames must arrive in recorded order. A server frame (or the server's close) is
    delivered once every client frame recorded before it has been sent, so the client sees
    the server react to what it sent, as it did live.
    """

    def __init__(self, recording: Recording, matcher: _Matcher, paced: bool) -> None:
        self._events = recording.events
        self._matcher = matcher
        self._paced = paced
        self._start = trio.current_time()
        self._client_total = sum(
            1 for e in self._events if isinstance(e, FrameRecord) and e.sender == "client"
        )
        self._client_sent = 0
        self._client_at = self._next_client(0)  # index of the next expected client frame
        self._server_at = 0
        self._closed: SessionClosedError | None = None
        self._changed = trio.Event()

    def _next_client(self, start: int) -> int:
        for index in range(start, len(self._events)):
            event = self._events[index]
            if isinstance(event, FrameRecord) and event.sender == "client":
                return index
        return len(self._events)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _closed_error(self) -> SessionClosedError:
        closed = self._closed or SessionClosedError("the replay is closed", code=1000)
        return SessionClosedError(str(closed), code=closed.code, reason=closed.reason)

    async def send(self, frame: str | bytes) -> None:
        await trio.lowlevel.checkpoint()
        if self._closed is not None:
            raise self._closed_error()
        if self._client_at >= len(self._events):
            extra = WireFrame.parse(frame)
            raise ReplayMismatch(
                f"the client sent a frame the recording does not have (it has "
                f"{self._client_total} client frames): {extra.event_type}",
                actual=extra.json if extra.is_json else extra.data,
            )
        expected = self._events[self._client_at]
        assert isinstance(expected, FrameRecord)
        index = self._client_sent + 1
        found = self._matcher.difference(expected.frame, frame)
        if found is not None:
            path, want, got = found
            where = _format_path(path)
            raise ReplayMismatch(
                f"client frame {index} of {self._client_total} (recording line {expected.line}, "
                f"{expected.frame.event_type}) differs at {where or 'the frame'}: "
                f"expected {_show(want)}, got {_show(got)}",
                index=index,
                line=expected.line,
                path=where,
                expected=want,
                actual=got,
            )
        self._client_sent = index
        self._client_at = self._next_client(self._client_at + 1)
        self._notify()

    async def receive(self) -> str | bytes:
        await trio.lowlevel.checkpoint()
        event = self._next_server_event()
        if event is None or (isinstance(event, CloseRecord) and event.by == "client"):
            await self._wait_closed()  # the recording ends here: only the client closes
        while self._client_at < self._server_at and self._closed is None:
            await self._changed.wait()  # the client frames recorded before it come first
        if self._closed is not None:
            raise self._closed_error()
        if self._paced:
            await trio.sleep_until(self._start + event.t_ms / 1000)
        self._server_at += 1
        if isinstance(event, FrameRecord):
            return event.frame.to_frame()
        self._closed = SessionClosedError(
            f"the WebSocket connection is closed: {event.code} (replayed)",
            code=event.code,
            reason=event.reason,
        )
        self._notify()
        raise self._closed_error()

    def _next_server_event(self) -> FrameRecord | CloseRecord | None:
        """The next event that is not a client frame (advancing past client frames)."""
        while self._server_at < len(self._events):
            event = self._events[self._server_at]
            if not (isinstance(event, FrameRecord) and event.sender == "client"):
                return event
            self._server_at += 1
        return None

    async def _wait_closed(self) -> NoReturn:
        while self._closed is None:
            await self._changed.wait()
        raise self._closed_error()

    async def aclose(self) -> None:
        if self._closed is None:
            self._closed = SessionClosedError("the WebSocket connection is closed", code=1000)
            self._notify()
        await trio.lowlevel.checkpoint()

    def assert_complete(self) -> None:
        if self._client_at >= len(self._events):
            return
        expected = self._events[self._client_at]
        assert isinstance(expected, FrameRecord)
        raise ReplayMismatch(
            f"the client sent {self._client_sent} of {self._client_total} recorded frames; "
            f"the next (recording line {expected.line}) is {expected.frame.event_type}",
            index=self._client_sent + 1,
            line=expected.line,
            expected=expected.frame.json if expected.frame.is_json else expected.frame.data,
        )


@final
class ReplayTransport:
    """A transport that plays a recording back as the server and checks what the client
    sends against it, for deterministic tests of your own realtime code.

    ::

        replay = ReplayTransport("tests/recordings/weather.jsonl")
        provider = OpenAIRealtime(api_key="unused")  # the codec; nothing is dialed
        async with open_session(provider, options, transport=replay) as session:
            await run_my_agent(session)
        replay.assert_complete()

    Server frames are delivered in recorded order, each once every client frame recorded
    before it has been sent; with ``paced=True`` also not before its recorded time (with
    ``trio.testing.MockClock`` that is virtual time, so timing-dependent code is tested in
    zero wall time). The recorded close ends the session as the server's did.

    Client frames must match the recorded ones in order. Frames are compared as JSON
    values, after:

    - redacting credentials in the live frame as they were redacted when recording;
    - dropping the ``ignore`` paths from both (by default ``event_id``, which apps often
      fill with random ids);
    - for a recording made with ``max_audio_ms``, accepting live audio that starts with the
      recorded audio (only what was kept is compared); otherwise audio is compared whole.

    The first difference raises ``ReplayMismatch`` from the connection's ``send``, which
    ends the session: ``open_session`` raises it. A client that sends fewer frames than
    recorded is caught by ``assert_complete``.

    Args:
        recording: a recording file's path, or its lines (e.g. an open text file), as written
            by ``RecordingTransport``. Read at construction.
        ignore: dotted paths of object keys to leave out of the comparison, e.g.
            ``("event_id", "item.id")``.
        paced: deliver server frames no earlier than their recorded ``t_ms`` after the
            connection opened.

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not a recording (the message names the line).
    """

    __slots__ = ("_connection", "_ignore", "_paced", "_recording")

    def __init__(
        self,
        recording: str | os.PathLike[str] | Iterable[str],
        *,
        ignore: Iterable[str] = ("event_id",),
        paced: bool = False,
    ) -> None:
        self._recording = Recording.load(recording)
        self._ignore = tuple(_parse_path(path) for path in ignore)
        self._paced = paced
        self._connection: _ReplayConnection | None = None

    async def connect(self, nursery: trio.Nursery, request: ConnectRequest) -> Connection:
        """Start the replay; the request only tells which credentials to redact.

        Raises:
            RuntimeError: this transport has already replayed its recording once.
        """
        await trio.lowlevel.checkpoint()
        if self._connection is not None:
            raise RuntimeError("a ReplayTransport replays one connection; make one per session")
        matcher = _Matcher(
            request.redactor(),
            self._ignore,
            shortened=self._recording.connect.max_audio_ms is not None,
        )
        self._connection = _ReplayConnection(self._recording, matcher, self._paced)
        return self._connection

    def assert_complete(self) -> None:
        """Check that the client sent every recorded client frame.

        Raises:
            ReplayMismatch: it sent fewer (``index`` and ``line`` name the first missing
                one), or no connection was made.
        """
        if self._connection is None:
            raise ReplayMismatch("the replay was never connected")
        self._connection.assert_complete()
