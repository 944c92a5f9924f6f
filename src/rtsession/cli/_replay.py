"""``rtsession replay FILE``: print a recording as a readable timeline."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Final, TextIO

from ..messages import JSON
from ..transport._recording import CloseRecord, FrameRecord, Recording

__all__ = ["HELP", "configure", "format_timeline", "run"]

HELP: Final = "print a session recording (RecordingTransport JSONL) as a timeline"

_NESTED: Final = ("response", "item", "part", "session")
"""Objects inside an event whose identifying keys are shown as ``item.call_id=...``."""
_NESTED_KEYS: Final = ("id", "type", "status", "call_id", "name", "role")
_EVENT_WIDTH: Final = 44


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``replay`` arguments."""
    parser.add_argument(
        "file", help="a recording written by rtsession.transport.RecordingTransport"
    )


def run(args: argparse.Namespace) -> int:
    """Print the timeline of ``args.file``; 1 when it cannot be read or parsed."""
    try:
        recording = Recording.load(args.file)
    except (OSError, ValueError) as exc:
        print(f"rtsession replay: {args.file}: {exc}", file=sys.stderr)
        return 1
    write_timeline(recording, sys.stdout)
    return 0


def write_timeline(recording: Recording, out: TextIO) -> None:
    """Write ``format_timeline`` lines to ``out``."""
    for line in format_timeline(recording):
        print(line, file=out)


def _ids(value: JSON) -> Iterator[str]:
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if (key == "id" or key.endswith("_id")) and key != "event_id" and _scalar(item):
            yield f"{key}={item}"
    for name in _NESTED:
        nested = value.get(name)
        if isinstance(nested, dict):
            for key in _NESTED_KEYS:
                if _scalar(nested.get(key)):
                    yield f"{name}.{key}={nested[key]}"


def _scalar(value: JSON) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _details(record: FrameRecord) -> str:
    frame = record.frame
    parts = list(_ids(frame.json)) if frame.is_json else []
    if record.audio_bytes:
        parts.append(f"audio {record.audio_bytes} B {record.audio_ms:.1f} ms")
    elif not frame.is_json:
        size = f"{len(frame.data)} chars" if not frame.binary else f"{len(frame.data) * 3 // 4} B"
        parts.append(f"{'binary' if frame.binary else 'text'} {size}")
    return " ".join(parts)


def format_timeline(recording: Recording) -> Iterator[str]:
    """The recording as text: a header, one line per frame (time in ms since the connection
    opened, sender, event type, key ids, audio bytes and ms), the close, and totals."""
    connect = recording.connect
    audio = (
        "whole"
        if connect.max_audio_ms is None
        else f"first {connect.max_audio_ms:g} ms of each frame kept"
    )
    yield f"{connect.service or 'server'} {connect.url}"
    headers = ", ".join(connect.headers) or "-"
    yield f"started {connect.started_at}; headers: {headers}; audio: {audio}"
    yield ""
    yield f"{'t (ms)':>11}  {'from':<6}  {'event':<{_EVENT_WIDTH}}  details"
    totals = {"client": 0, "server": 0}
    audio_ms = {"client": 0.0, "server": 0.0}
    end_ms = 0.0
    for event in recording.events:
        end_ms = max(end_ms, event.t_ms)
        if isinstance(event, CloseRecord):
            reason = f" {event.reason!r}" if event.reason else ""
            detail = f"code={event.code}{reason}"
            yield f"{event.t_ms:>11.3f}  {event.by:<6}  {'close':<{_EVENT_WIDTH}}  {detail}"
            continue
        totals[event.sender] += 1
        audio_ms[event.sender] += event.audio_ms
        name = event.frame.event_type
        line = f"{event.t_ms:>11.3f}  {event.sender:<6}  {name:<{_EVENT_WIDTH}}  {_details(event)}"
        yield line.rstrip()
    yield ""
    yield (
        f"{totals['client'] + totals['server']} frames in {end_ms / 1000:.3f} s: "
        f"{totals['client']} from the client ({audio_ms['client']:.0f} ms of audio), "
        f"{totals['server']} from the server ({audio_ms['server']:.0f} ms of audio)"
    )
