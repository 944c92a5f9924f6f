"""Observers never end a session: ``Logging(include_content=True)`` and
``RecordingTransport`` take the hostile frames the session itself survives (a ``type`` that is
an object or an array, JSON nested hundreds deep, audio that is not base64, session events with
mistyped formats) and the session goes on to its next message."""

from __future__ import annotations

import io
import logging
from typing import Any

import orjson
import pytest
import trio

from rtsession import messages as m
from rtsession.middleware import Logging, RecordingTransport
from rtsession.session import open_session
from rtsession.testing import AppInbox, FakeProvider


def nested(depth: int) -> str:
    return '{"type":"x","deep":' + '{"a":' * depth + "1" + "}" * depth + "}"


HOSTILE: list[Any] = [
    {"type": {"a": 1}},
    {"type": [1, 2]},
    {"type": 5},
    {"type": None, "x": [1, {"y": None}]},
    {"type": "session.created", "session": {"audio": {"input": {"format": {"type": {"x": 1}}}}}},
    {"type": "session.updated", "session": {"input_audio_format": {"k": 1}}},
    {"type": "response.output_audio.delta", "delta": "!!!!"},
    {"type": "response.output_audio.delta", "delta": 5},
    {
        "serverContent": {
            "modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=x", "data": "A"}}]}
        }
    },
    [1, 2, 3],
    "just a string",
]
FRAMES = [orjson.dumps(p).decode() for p in HOSTILE] + [nested(n) for n in (200, 300, 900)]


@pytest.mark.parametrize("frame", FRAMES, ids=[f"frame{i}" for i in range(len(FRAMES))])
async def test_logging_and_recording_survive_a_hostile_frame(
    frame: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "rtsession.middleware.logging")
    fake = FakeProvider([m.SessionCreated(session=m.SessionOptions())])
    recording = io.StringIO()
    app = AppInbox()
    async with (
        trio.open_nursery() as nursery,
        open_session(
            fake,
            middleware=[Logging(include_content=True)],
            transport=RecordingTransport(fake, recording),
        ) as session,
    ):
        nursery.start_soon(app.drain, session)
        fake.send_frame_nowait(frame)
        fake.send_nowait(m.InputAudioBufferCleared())  # the session goes on after it
        await app.receive_of(m.InputAudioBufferCleared)
    assert "receive InputAudioBufferCleared" in caplog.text
    assert len(recording.getvalue().splitlines()) >= 3  # connect, the frame, the next one
