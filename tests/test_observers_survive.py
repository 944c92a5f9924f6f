"""Observers never end a session: ``Logging(include_content=True)``, ``OpenTelemetry`` and
``RecordingTransport`` take the hostile frames the session itself survives (a ``type`` that is
an object or an array, JSON nested hundreds deep, audio that is not base64, session events with
mistyped formats, and hypothesis-made frames) on every wire format, and the session goes on to
its next message."""

from __future__ import annotations

import io
import logging
from typing import Any

import orjson
import pytest
import trio
from hypothesis import HealthCheck, given, settings, strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from rtsession import messages as m
from rtsession.middleware import Logging, OpenTelemetry
from rtsession.session import open_session
from rtsession.testing import AppInbox, FakeProvider
from rtsession.transport import RecordingTransport
from rtsession.wire import Codec
from rtsession.wire.gemini import GeminiCodec
from rtsession.wire.openai import OpenAICodec
from rtsession.wire.openai_beta import OpenAIBetaCodec


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


CODECS = [
    pytest.param(OpenAICodec, id="ga"),
    pytest.param(OpenAIBetaCodec, id="beta"),
    pytest.param(GeminiCodec, id="gemini"),
]
TRACER = TracerProvider()
TRACER.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))


async def through_every_observer(codec: type[Codec], frame: str | bytes) -> tuple[str, str]:
    """Send ``frame``, then a message every format carries, through a session with all
    the observers; returns what ``Logging`` and the recording wrote."""
    fake = FakeProvider(codec=codec)
    recording = io.StringIO()
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    logger = logging.getLogger("test.observers")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    app = AppInbox()
    try:
        async with (
            trio.open_nursery() as nursery,
            open_session(
                fake,
                middleware=[
                    Logging(logger, include_content=True),
                    OpenTelemetry(tracer_provider=TRACER, include_content=True),
                ],
                transport=RecordingTransport(fake, recording),
            ) as session,
        ):
            nursery.start_soon(app.drain, session)
            fake.send_frame_nowait(frame)
            fake.send_nowait(NEXT)  # the session goes on after it
            with trio.fail_after(5):
                await app.receive_of(type(NEXT))
    finally:
        logger.removeHandler(handler)
    return log.getvalue(), recording.getvalue()


NEXT = m.InputAudioBufferSpeechStarted(item_id="after", audio_start_ms=0)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("frame", FRAMES, ids=[f"frame{i}" for i in range(len(FRAMES))])
async def test_the_observers_survive_a_hostile_frame(codec: type[Codec], frame: str) -> None:
    log, recording = await through_every_observer(codec, frame)
    assert "receive InputAudioBufferSpeechStarted" in log
    assert len(recording.splitlines()) >= 3  # connect, the frame, the next one


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
event_types = st.sampled_from(
    ["session.created", "session.updated", "response.done", "response.output_audio.delta",
     "error", "conversation.item.done", "serverContent", "toolCall", "setupComplete", "x"]
)  # fmt: skip


@st.composite
def fuzz_frames(draw: st.DrawFn) -> str | bytes:
    """A frame a broken or hostile server might send: an event with a known name and any
    fields, a Gemini-style object, any JSON, text that is not JSON, or a binary frame."""
    kind = draw(st.sampled_from(["event", "gemini", "json", "text", "binary"]))
    if kind == "event":
        fields = draw(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=5))
        return orjson.dumps({"type": draw(event_types), **fields}).decode()
    if kind == "gemini":
        return orjson.dumps({draw(event_types): draw(json_values)}).decode()
    if kind == "json":
        return orjson.dumps(draw(json_values)).decode()
    if kind == "text":
        return draw(st.text(max_size=40))
    return draw(st.binary(max_size=40))


FIELDS = ["session", "response", "item", "delta", "error", "event_id", "response_id",
          "item_id", "output_index", "content_index", "usage", "type", "audio"]  # fmt: skip


@pytest.mark.parametrize("codec", CODECS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=fuzz_frames())
async def test_the_observers_survive_fuzzed_frames(codec: type[Codec], frame: str | bytes) -> None:
    log, _ = await through_every_observer(codec, frame)
    assert "receive InputAudioBufferSpeechStarted" in log
