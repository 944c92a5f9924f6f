"""Per-response state never wedges: a lost ``ResponseDone`` (OpenAI ``response.done``) is
recovered from by the rule of ``rtsession.session.OpenResponses``, in ``ResponseGate``,
``FunctionInvocation`` and ``OpenTelemetry``, and counted in ``Session.statistics()``."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from rtsession import messages as m
from rtsession.middleware import FunctionInvocation, OpenTelemetry, ResponseGate
from rtsession.session import OpenResponses, open_session
from rtsession.testing import AppInbox, FakeProvider, response_events


def created(response_id: str) -> m.ResponseCreated:
    return m.ResponseCreated(response=m.Response(id=response_id, status="in_progress"))


def done(response_id: str) -> m.ResponseDone:
    return m.ResponseDone(response=m.Response(id=response_id, status="completed"))


def creates(fake: FakeProvider) -> int:
    return sum(isinstance(message, m.ResponseCreate) for message in fake.received)


def test_the_next_response_supersedes_one_whose_done_was_lost() -> None:
    responses = OpenResponses()
    assert responses.created("r1") == ()
    assert responses.created("r2") == ("r1",)
    assert responses.done("r2")
    assert not responses
    assert not responses.done("r1")


def test_out_of_band_responses_run_beside() -> None:
    responses = OpenResponses()
    responses.created("r1")
    responses.requested_out_of_band()
    assert responses.created("oob") == ()
    assert set(responses.ids()) == {"r1", "oob"}
    assert responses.created("r2") == ("r1",)
    assert responses.done("oob")
    assert responses.ids() == ("r2",)


async def test_the_gate_releases_after_a_lost_done_when_the_next_response_starts(
    nursery: trio.Nursery,
) -> None:
    fake = FakeProvider()
    app = AppInbox()
    with trio.fail_after(5):
        async with open_session(fake, middleware=[ResponseGate()], transport=fake) as s:
            nursery.start_soon(app.drain, s)
            fake.send_nowait(created("r1"))  # server VAD; its done is lost
            await app.receive_of(m.ResponseCreated)
            await s.send(m.ResponseCreate())  # held: r1 looks active
            await trio.testing.wait_all_tasks_blocked()
            assert creates(fake) == 0
            fake.send_nowait(created("r2"), done("r2"))  # the next VAD turn
            await fake.receive_of(m.ResponseCreate)
            statistics = s.statistics()
    assert statistics.released_responses == 1


async def test_the_gate_never_holds_for_ever(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    fake = FakeProvider()
    app = AppInbox()
    async with open_session(fake, middleware=[ResponseGate(stale_after=30)], transport=fake) as s:
        nursery.start_soon(app.drain, s)
        fake.send_nowait(created("r1"))
        await app.receive_of(m.ResponseCreated)
        quiet_from = trio.current_time()
        await s.send(m.ResponseCreate())
        await fake.receive_of(m.ResponseCreate)
        released_at = trio.current_time()
        statistics = s.statistics()
    assert 30 <= released_at - quiet_from < 31
    assert statistics.released_responses == 1


async def test_a_stream_losing_a_done_keeps_flowing(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Many server-VAD turns, one ``response.done`` lost early: every later app request
    still goes out (the unfixed gate held all of them for good).

    Whether the gate sees a turn's request or the server's ``response.created`` first is a
    race, as on the wire: if the request comes second, the one behind the lost done waits
    until the server has been silent ``stale_after`` seconds (the mock clock's)."""
    fake = FakeProvider()
    app = AppInbox()
    with trio.fail_after(10):
        gate = ResponseGate(stale_after=1)
        async with open_session(fake, middleware=[gate], transport=fake) as s:
            nursery.start_soon(app.drain, s)
            for turn in range(50):
                fake.send_nowait(created(f"vad{turn}"))
                if turn != 3:
                    fake.send_nowait(done(f"vad{turn}"))
                await s.send(m.ResponseCreate())
                await fake.receive_of(m.ResponseCreate)
                fake.send_nowait(created(f"app{turn}"), done(f"app{turn}"))
                await app.receive_of(m.ResponseDone)
            statistics = s.statistics()
    assert creates(fake) == 50
    assert statistics.released_responses == 1


async def test_function_invocation_answers_calls_of_a_superseded_response(
    nursery: trio.Nursery,
) -> None:
    async def get_weather(city: str) -> str:
        """The weather."""
        await trio.lowlevel.checkpoint()
        return "rain"

    call = m.FunctionCallItem(name="get_weather", arguments='{"city": "Oslo"}', call_id="c1")
    events = response_events("r1", call)[:-1]  # its response.done is lost
    fake = FakeProvider(events)
    app = AppInbox()
    with trio.fail_after(5):
        async with open_session(
            fake, middleware=[FunctionInvocation([get_weather])], transport=fake
        ) as s:
            nursery.start_soon(app.drain, s)
            await app.receive_of(m.ResponseOutputItemDone)
            fake.send_nowait(created("r2"))
            output = await fake.receive_of(m.ConversationItemCreate)
    assert isinstance(output.item, m.FunctionCallOutputItem)
    assert output.item.call_id == "c1"
    assert creates(fake) == 0  # the superseded response does not go on


async def test_open_telemetry_ends_the_span_of_a_superseded_response(
    nursery: trio.Nursery,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    fake = FakeProvider()
    app = AppInbox()
    with trio.fail_after(5):
        async with open_session(
            fake, middleware=[OpenTelemetry(tracer_provider=provider)], transport=fake
        ) as s:
            nursery.start_soon(app.drain, s)
            fake.send_nowait(created("r1"), created("r2"))
            await app.receive_of(m.ResponseCreated)
            await app.receive_of(m.ResponseCreated)
            await trio.testing.wait_all_tasks_blocked()
            ended = [span for span in exporter.get_finished_spans() if span.name.startswith("chat")]
    assert ended
    first = ended[0]
    assert first.attributes is not None
    assert first.attributes["error.type"] == "response_done_lost"


@pytest.mark.parametrize("stale_after", [0, -1])
def test_stale_after_must_be_positive(stale_after: float) -> None:
    with pytest.raises(ValueError, match="stale_after"):
        ResponseGate(stale_after=stale_after)
