"""rtsession.middleware.OpenTelemetry: GenAI spans and metrics, on trio's (mock) clock."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from rtsession import SessionClosedError, messages as m
from rtsession.middleware import FunctionInvocation, OpenTelemetry
from rtsession.middleware._otel import CAPTURE_CONTENT_ENV, SPEECH_END_TO_FIRST_AUDIO
from rtsession.session import Session, open_session
from rtsession.testing import FakeProvider, response_events
from rtsession.wire.gemini import GeminiCodec

MODEL = "gpt-realtime"
BASE = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": MODEL,
    "server.address": "fake.invalid",  # what the fake's connect request names
    "server.port": 80,
}
CALL = m.FunctionCallItem(name="get_weather", arguments='{"city": "Paris"}', call_id="call_1")
ANSWER = m.MessageItem(
    role="assistant", content=(m.OutputAudio(transcript="Let me check the weather."),)
)
USAGE = m.Usage(
    input_tokens=120,
    output_tokens=34,
    input_text_tokens=20,
    input_audio_tokens=100,
    cached_tokens=64,
    output_text_tokens=8,
    output_audio_tokens=26,
)
OPTIONS = m.SessionOptions(
    model=MODEL,
    instructions="Be brief.",
    voice="marin",
    output_modalities=("audio",),
    max_output_tokens=200,
    tools=(
        m.FunctionTool(
            name="get_weather",
            description="Weather by city",
            parameters={"type": "object", "properties": {"city": {"type": "string"}}},
        ),
    ),
)


@attrs.define
class Telemetry:
    """An SDK pipeline with in-memory exporters, and readers for what reached them."""

    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def stage(self, **kwargs: Any) -> OpenTelemetry:
        return OpenTelemetry(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **kwargs
        )

    def span(self, name: str) -> ReadableSpan:
        found = [span for span in self.spans.get_finished_spans() if span.name == name]
        assert len(found) == 1, [span.name for span in self.spans.get_finished_spans()]
        return found[0]

    def points(self, metric: str) -> list[HistogramDataPoint]:
        data = self.reader.get_metrics_data()
        if data is None:
            return []
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for found in scope.metrics
            if found.name == metric
            for point in found.data.data_points
            if isinstance(point, HistogramDataPoint)
        ]


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Telemetry(spans, reader, tracer_provider, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def fake_openai(options: m.SessionOptions = OPTIONS) -> FakeProvider:
    return FakeProvider([m.SessionCreated(session=options)], name="openai", model=MODEL)


async def push(fake: FakeProvider, session: Session, *events: m.ServerMessage) -> None:
    """Have the fake server send ``events`` and the app receive them (the stage measures
    each as it passes)."""
    fake.send_nowait(*events)
    for _ in events:
        await session.receive_channel.receive()


async def send(fake: FakeProvider, session: Session, message: m.ClientMessage) -> None:
    await session.send(message)
    await fake.receive_of(type(message))


def audio_delta(response_id: str) -> m.ResponseOutputAudioDelta:
    return m.ResponseOutputAudioDelta(
        response_id=response_id, item_id="item_2", output_index=0, content_index=0,
        delta=b"\x00\x00" * 480,
    )  # fmt: skip


async def scripted_turn(fake: FakeProvider, session: Session) -> None:
    """The user stops speaking at t=0; the app asks for a response at 0.2 s; it starts at
    0.3 s, its first audio comes at 0.7 s, it calls a tool and ends at 1.2 s; the tool's
    output is sent at 1.45 s. Times are virtual (autojump clock)."""
    await push(fake, session, m.InputAudioBufferSpeechStopped(item_id="item_1", audio_end_ms=900))
    await trio.sleep(0.2)
    await send(fake, session, m.ResponseCreate())
    await trio.sleep(0.1)
    await push(fake, session, m.ResponseCreated(response=m.Response(id="resp_1")))
    await trio.sleep(0.4)
    await push(
        fake,
        session,
        audio_delta("resp_1"),
        m.ResponseOutputItemDone(response_id="resp_1", output_index=0, item=ANSWER),
        m.ResponseOutputItemDone(response_id="resp_1", output_index=1, item=CALL),
    )
    await trio.sleep(0.5)
    done = m.Response(
        id="resp_1",
        status="completed",
        conversation_id="conv_1",
        output=(ANSWER, CALL),
        usage=USAGE,
    )
    await push(fake, session, m.ResponseDone(response=done))
    await trio.sleep(0.25)
    output = m.FunctionCallOutputItem(call_id="call_1", output='{"temperature": 21}')
    await send(fake, session, m.ConversationItemCreate(item=output))


async def run_turn(telemetry: Telemetry, **stage_options: Any) -> None:
    fake = fake_openai()
    with trio.fail_after(30):
        async with open_session(
            fake, middleware=[telemetry.stage(**stage_options)], transport=fake
        ) as session:
            await session.receive_channel.receive()  # SessionCreated: the options in force
            await scripted_turn(fake, session)


async def test_response_span_with_usage(
    autojump_clock: trio.testing.MockClock, telemetry: Telemetry
) -> None:
    await run_turn(telemetry)
    span = telemetry.span(f"chat {MODEL}")
    assert span.kind == SpanKind.CLIENT
    attributes = dict(span.attributes or {})
    assert attributes.pop("gen_ai.response.time_to_first_chunk") == pytest.approx(0.5)
    assert json.loads(str(attributes.pop("gen_ai.tool.definitions"))) == [
        {"type": "function", "name": "get_weather"}
    ]
    assert attributes == {
        **BASE,
        "gen_ai.request.max_tokens": 200,
        "gen_ai.output.type": "speech",
        "gen_ai.realtime.session_kind": "conversation",
        "gen_ai.realtime.voice": "marin",
        "gen_ai.realtime.output_modalities": ("audio",),
        "gen_ai.realtime.received_modalities": ("audio", "item"),
        "gen_ai.response.id": "resp_1",
        "gen_ai.conversation.id": "conv_1",
        "gen_ai.response.finish_reasons": ("completed",),
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 34,
        "gen_ai.usage.cache_read.input_tokens": 64,
        "gen_ai.usage.input_text_tokens": 20,
        "gen_ai.usage.input_audio_tokens": 100,
        "gen_ai.usage.output_text_tokens": 8,
        "gen_ai.usage.output_audio_tokens": 26,
    }
    assert span.status.status_code == StatusCode.UNSET
    assert span.start_time is not None
    assert span.end_time is not None
    assert span.end_time >= span.start_time


async def test_tool_span_is_a_child_of_its_response(
    autojump_clock: trio.testing.MockClock, telemetry: Telemetry
) -> None:
    await run_turn(telemetry)
    response = telemetry.span(f"chat {MODEL}")
    tool = telemetry.span("execute_tool get_weather")
    assert tool.kind == SpanKind.INTERNAL
    assert tool.parent is not None
    assert response.context is not None
    assert tool.parent.span_id == response.context.span_id
    assert dict(tool.attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.provider.name": "openai",
        "server.address": "fake.invalid",
        "server.port": 80,
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.call.id": "call_1",
        "gen_ai.tool.type": "function",
    }


async def test_metrics_of_a_turn(
    autojump_clock: trio.testing.MockClock, telemetry: Telemetry
) -> None:
    await run_turn(telemetry)
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert dict(duration.attributes or {}) == BASE
    assert (duration.count, duration.sum) == (1, pytest.approx(1.0))  # ResponseCreate → Done
    tokens = {
        (dict(point.attributes or {})["gen_ai.token.type"], point.sum)
        for point in telemetry.points("gen_ai.client.token.usage")
    }
    assert tokens == {
        ("input", 120),
        ("output", 34),
        ("input_text", 20),
        ("input_audio", 100),
        ("output_text", 8),
        ("output_audio", 26),
    }
    for point in telemetry.points("gen_ai.client.token.usage"):
        assert {k: v for k, v in (point.attributes or {}).items() if k in BASE} == BASE
    [first_chunk] = telemetry.points("gen_ai.client.operation.time_to_first_chunk")
    assert first_chunk.sum == pytest.approx(0.5)
    [speech] = telemetry.points(SPEECH_END_TO_FIRST_AUDIO)
    assert speech.sum == pytest.approx(0.7)  # speech stopped at 0, first audio at 0.7 s
    [tool] = telemetry.points("gen_ai.execute_tool.duration")
    assert tool.sum == pytest.approx(0.75)
    assert dict(tool.attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
    }


CONTENT_KEYS = {
    "gen_ai.system_instructions",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
}


def all_attributes(telemetry: Telemetry) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for span in telemetry.spans.get_finished_spans():
        merged.update(span.attributes or {})
    return merged


async def test_no_content_by_default(
    autojump_clock: trio.testing.MockClock,
    telemetry: Telemetry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    await run_turn(telemetry)
    attributes = all_attributes(telemetry)
    assert not CONTENT_KEYS & attributes.keys()
    assert "Paris" not in repr(attributes)
    assert "Be brief" not in repr(attributes)


async def test_content_when_enabled(
    autojump_clock: trio.testing.MockClock, telemetry: Telemetry
) -> None:
    fake = fake_openai()
    question = m.MessageItem(role="user", content=(m.InputText(text="Weather in Paris?"),))
    with trio.fail_after(30):
        async with open_session(
            fake, middleware=[telemetry.stage(include_content=True)], transport=fake
        ) as session:
            await session.receive_channel.receive()
            await send(fake, session, m.ConversationItemCreate(item=question))
            transcript = m.ConversationItemInputAudioTranscriptionCompleted(
                item_id="item_1", content_index=0, transcript="and tomorrow?"
            )
            await push(fake, session, transcript)
            await scripted_turn(fake, session)
    response = dict(telemetry.span(f"chat {MODEL}").attributes or {})
    assert json.loads(str(response["gen_ai.system_instructions"])) == [
        {"type": "text", "content": "Be brief."}
    ]
    assert json.loads(str(response["gen_ai.tool.definitions"])) == [  # with content: all
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather by city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    assert json.loads(str(response["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {"role": "user", "parts": [{"type": "text", "content": "and tomorrow?"}]},
    ]
    assert json.loads(str(response["gen_ai.output.messages"])) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Let me check the weather."},
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "get_weather",
                    "arguments": '{"city": "Paris"}',
                },
            ],
            "finish_reason": "completed",
        }
    ]
    tool = dict(telemetry.span("execute_tool get_weather").attributes or {})
    assert tool["gen_ai.tool.call.arguments"] == '{"city": "Paris"}'
    assert tool["gen_ai.tool.call.result"] == '{"temperature": 21}'


async def test_content_from_the_environment(
    autojump_clock: trio.testing.MockClock,
    telemetry: Telemetry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "True")
    await run_turn(telemetry)  # no input before the response: no gen_ai.input.messages
    assert all_attributes(telemetry).keys() & CONTENT_KEYS == CONTENT_KEYS - {
        "gen_ai.input.messages"
    }


async def test_the_tool_output_of_the_next_turn_is_input_content(
    autojump_clock: trio.testing.MockClock, telemetry: Telemetry
) -> None:
    fake = fake_openai()
    with trio.fail_after(30):
        async with open_session(
            fake, middleware=[telemetry.stage(include_content=True)], transport=fake
        ) as session:
            await session.receive_channel.receive()
            await scripted_turn(fake, session)
            await send(fake, session, m.ResponseCreate(instructions="Answer in French."))
            await push(
                fake,
                session,
                m.ResponseCreated(response=m.Response(id="resp_2")),
                m.ResponseDone(response=m.Response(id="resp_2", status="completed")),
            )
    second = next(
        span
        for span in telemetry.spans.get_finished_spans()
        if (span.attributes or {}).get("gen_ai.response.id") == "resp_2"
    )
    attributes = dict(second.attributes or {})
    assert json.loads(str(attributes["gen_ai.input.messages"])) == [
        {
            "role": "tool",
            "parts": [
                {"type": "tool_call_response", "id": "call_1", "response": '{"temperature": 21}'}
            ],
        }
    ]
    assert json.loads(str(attributes["gen_ai.system_instructions"])) == [
        {"type": "text", "content": "Answer in French."}
    ]


async def test_failed_response(
    autojump_clock: trio.testing.MockClock, telemetry: Telemetry
) -> None:
    fake = fake_openai()
    details = m.ResponseStatusDetails(
        type="failed", error_type="server_error", error_code="rate_limit_exceeded"
    )
    with trio.fail_after(30):
        async with open_session(fake, middleware=[telemetry.stage()], transport=fake) as session:
            await session.receive_channel.receive()
            await push(fake, session, m.ResponseCreated(response=m.Response(id="resp_1")))
            await trio.sleep(2)
            failed = m.Response(id="resp_1", status="failed", status_details=details)
            await push(fake, session, m.ResponseDone(response=failed))
    span = telemetry.span(f"chat {MODEL}")
    assert span.status.status_code == StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "rate_limit_exceeded"
    assert (span.attributes or {})["gen_ai.response.finish_reasons"] == ("failed",)
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert dict(duration.attributes or {}) == {**BASE, "error.type": "rate_limit_exceeded"}
    assert duration.sum == pytest.approx(2.0)  # from ResponseCreated: nothing was requested


async def test_cancelled_response_is_not_an_error(
    autojump_clock: trio.testing.MockClock, telemetry: Telemetry
) -> None:
    fake = fake_openai()
    with trio.fail_after(30):
        async with open_session(fake, middleware=[telemetry.stage()], transport=fake) as session:
            await session.receive_channel.receive()
            await push(
                fake,
                session,
                m.ResponseCreated(response=m.Response(id="resp_1")),
                m.ResponseDone(response=m.Response(id="resp_1", status="cancelled")),
            )
    span = telemetry.span(f"chat {MODEL}")
    assert span.status.status_code == StatusCode.UNSET
    assert (span.attributes or {})["gen_ai.response.finish_reasons"] == ("cancelled",)


async def test_what_is_open_when_the_session_ends(
    autojump_clock: trio.testing.MockClock, telemetry: Telemetry
) -> None:
    fake = fake_openai()
    with trio.fail_after(30):
        async with open_session(fake, middleware=[telemetry.stage()], transport=fake) as session:
            await session.receive_channel.receive()
            await push(
                fake,
                session,
                m.ResponseCreated(response=m.Response(id="resp_1")),
                m.ResponseOutputItemDone(response_id="resp_1", output_index=0, item=CALL),
            )
            await trio.sleep(1)
    for name in (f"chat {MODEL}", "execute_tool get_weather"):
        span = telemetry.span(name)
        assert span.status.status_code == StatusCode.ERROR
        assert (span.attributes or {})["error.type"] == "session_closed"
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert dict(duration.attributes or {})["error.type"] == "session_closed"
    assert duration.sum == pytest.approx(1.0)


async def test_an_abnormal_end_names_the_error_the_app_gets(
    autojump_clock: trio.testing.MockClock, telemetry: Telemetry
) -> None:
    fake = fake_openai()
    with trio.fail_after(30):
        async with open_session(fake, middleware=[telemetry.stage()], transport=fake) as session:
            await session.receive_channel.receive()
            await push(fake, session, m.ResponseCreated(response=m.Response(id="resp_1")))
            fake.close(1011, "internal error")
            with pytest.raises(SessionClosedError):
                async for _ in session:
                    pass
    span = telemetry.span(f"chat {MODEL}")
    assert span.status.status_code == StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "rtsession.SessionClosedError"
    [duration] = telemetry.points("gen_ai.client.operation.duration")
    assert dict(duration.attributes or {})["error.type"] == "rtsession.SessionClosedError"


async def test_received_modalities_in_order_of_arrival(
    autojump_clock: trio.testing.MockClock, telemetry: Telemetry
) -> None:
    fake = fake_openai()
    ids = {"response_id": "resp_1", "item_id": "i", "output_index": 0, "content_index": 0}
    with trio.fail_after(30):
        async with open_session(fake, middleware=[telemetry.stage()], transport=fake) as session:
            await session.receive_channel.receive()
            await push(
                fake,
                session,
                m.ResponseCreated(response=m.Response(id="resp_1")),
                m.ResponseOutputTextDelta(**ids, delta="Hi"),
                m.ResponseOutputAudioTranscriptDelta(**ids, delta="Hi"),
                m.ResponseOutputTextDelta(**ids, delta="!"),
                m.ResponseDone(response=m.Response(id="resp_1", status="completed")),
            )
    attributes = dict(telemetry.span(f"chat {MODEL}").attributes or {})
    assert attributes["gen_ai.realtime.received_modalities"] == ("text", "transcription")


async def receive_until(session: Session, kind: type[m.ServerMessage]) -> None:
    async for event in session:
        if isinstance(event, kind):
            return


async def test_gemini_late_usage_and_tool_cancellation(
    autojump_clock: trio.testing.MockClock, telemetry: Telemetry
) -> None:
    fake = FakeProvider(codec=GeminiCodec, name="gcp.gemini", model="gemini-live")
    usage = m.UsageMetadata(usage=m.Usage(input_tokens=7, output_tokens=3))
    with trio.fail_after(30):
        async with open_session(fake, middleware=[telemetry.stage()], transport=fake) as session:
            fake.send_nowait(*response_events("resp_1", CALL))  # one toolCall message
            await receive_until(session, m.ResponseDone)
            await trio.sleep(0.3)
            fake.send_nowait(m.ToolCallCancellation(call_ids=("call_1",)))
            await receive_until(session, m.ToolCallCancellation)
            fake.send_nowait(usage)
            await receive_until(session, m.UsageMetadata)
    response = telemetry.span("chat gemini-live")
    tool = telemetry.span("execute_tool get_weather")
    assert tool.parent is not None
    assert response.context is not None
    assert tool.parent.span_id == response.context.span_id
    assert tool.status.status_code == StatusCode.ERROR
    assert (tool.attributes or {})["error.type"] == "cancelled"
    assert (tool.attributes or {})["gen_ai.provider.name"] == "gcp.gemini"
    [duration] = telemetry.points("gen_ai.execute_tool.duration")
    assert duration.sum == pytest.approx(0.3)
    assert dict(duration.attributes or {})["error.type"] == "cancelled"
    tokens = {
        (dict(point.attributes or {})["gen_ai.token.type"], point.sum)
        for point in telemetry.points("gen_ai.client.token.usage")
    }
    assert ("input", 7) in tokens
    assert ("output", 3) in tokens


def test_the_stage_needs_the_otel_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install '\.\[otel\]' in a checkout"):
        OpenTelemetry()


def test_rtsession_middleware_imports_without_opentelemetry() -> None:
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "import rtsession, rtsession.middleware\n"
        "print(rtsession.middleware.OpenTelemetry.__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OpenTelemetry"


async def drain(session: Session) -> None:
    async for _ in session:
        pass


async def test_tool_outputs_injected_by_function_invocation_end_the_tool_span(
    autojump_clock: trio.testing.MockClock, telemetry: Telemetry
) -> None:
    async def get_weather(city: str) -> str:
        """The weather in a city."""
        await trio.sleep(0.3)
        return f"sunny in {city}"

    fake = fake_openai()
    stages = [FunctionInvocation([get_weather]), telemetry.stage(include_content=True)]
    with trio.fail_after(30):
        async with open_session(fake, middleware=stages, transport=fake) as session:
            await session.receive_channel.receive()
            await send(fake, session, m.ResponseCreate())
            async with trio.open_nursery() as nursery:
                nursery.start_soon(drain, session)  # the app keeps listening
                fake.send_nowait(*response_events("resp_1", CALL))
                output = await fake.receive_of(m.ConversationItemCreate)
                await fake.receive_of(m.ResponseCreate)  # the stage asks the model to go on
                nursery.cancel_scope.cancel()
    assert isinstance(output.item, m.FunctionCallOutputItem)
    tool = telemetry.span("execute_tool get_weather")
    assert tool.status.status_code == StatusCode.UNSET
    assert (tool.attributes or {})["gen_ai.tool.call.result"] == output.item.output
    [duration] = telemetry.points("gen_ai.execute_tool.duration")
    assert duration.sum == pytest.approx(0.3)
