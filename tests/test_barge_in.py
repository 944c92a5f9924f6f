"""rtsession.middleware.BargeIn: the reply goes silent and is truncated at what was heard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from rtsession import messages as m
from rtsession.audio import OutputBuffer, PlaybackTracker
from rtsession.middleware import BargeIn, FunctionInvocation, Stage, ToolInvocationCompleted
from rtsession.session import Session, open_session
from rtsession.testing import AppInbox, FakeProvider
from rtsession.wire.gemini import GeminiCodec

RATE = 24000
MS = RATE // 1000


def delta(ms: int, *, item: str = "item_a", response: str = "resp_1") -> m.ResponseOutputAudioDelta:
    return m.ResponseOutputAudioDelta(
        response_id=response,
        item_id=item,
        output_index=0,
        content_index=0,
        delta=b"\x01\x00" * (ms * MS),
    )


def created(response: str = "resp_1") -> m.ResponseCreated:
    return m.ResponseCreated(response=m.Response(id=response, status="in_progress"))


def done(response: str = "resp_1", status: m.ResponseStatus = "completed") -> m.ResponseDone:
    return m.ResponseDone(response=m.Response(id=response, status=status))


SPEECH = m.InputAudioBufferSpeechStarted(item_id="item_user", audio_start_ms=1000)


def cancel_reply(message: m.ClientMessage) -> list[m.ServerMessage]:
    """The service's answer to a cancel: the response ends ``cancelled``."""
    if isinstance(message, m.ResponseCancel) and message.response_id is not None:
        return [done(message.response_id, "cancelled")]
    return []


@asynccontextmanager
async def running(
    fake: FakeProvider,
    stages: list[Stage],
    options: m.SessionOptions | None = None,
) -> AsyncIterator[tuple[Session, AppInbox]]:
    app = AppInbox()
    async with (
        trio.open_nursery() as nursery,
        open_session(fake, options, middleware=stages, transport=fake) as session,
    ):
        nursery.start_soon(app.drain, session)
        yield session, app


def sent(fake: FakeProvider) -> list[m.ClientMessage]:
    return [x for x in fake.received if not isinstance(x, m.SessionUpdate)]


async def test_speech_over_a_reply_being_generated_cuts_it_where_it_was_heard() -> None:
    buffer = OutputBuffer(RATE)
    fake = FakeProvider([m.SessionCreated(session=m.SessionOptions())], reply=cancel_reply)
    async with running(fake, [BargeIn(buffer)]) as (_session, app):
        fake.send_nowait(created(), delta(100), delta(200))
        for _ in range(2):
            event = await app.receive_of(m.ResponseOutputAudioDelta)
            buffer.write(event.item_id, event.content_index, event.delta)
        buffer.read(120 * MS)  # the player has handed out (and so plays) 120 ms
        fake.send_nowait(SPEECH, delta(100), done("resp_1", "cancelled"))
        interrupted = await app.receive_of(m.PlaybackInterrupted)
        truncate = await fake.receive_of(m.ConversationItemTruncate)
    assert buffer.queued_ms == 0  # silenced
    assert interrupted == m.PlaybackInterrupted(
        item_id="item_a",
        content_index=0,
        response_id="resp_1",
        audio_end_ms=120,
        audio_ms=300,
        reason="speech_started",
        truncated=True,
    )
    assert truncate == m.ConversationItemTruncate(
        item_id="item_a", content_index=0, audio_end_ms=120
    )
    # server VAD cancels by itself: no cancel sent; the delta after the cut never reached the app
    assert not any(isinstance(x, m.ResponseCancel) for x in fake.received)
    deltas = [x for x in app.received if isinstance(x, m.ResponseOutputAudioDelta)]
    assert len(deltas) == 2
    kinds = [type(x) for x in app.received]
    assert kinds.index(m.InputAudioBufferSpeechStarted) < kinds.index(m.PlaybackInterrupted)


async def test_the_truncate_waits_for_the_end_of_the_response() -> None:
    buffer = OutputBuffer(RATE)
    fake = FakeProvider([m.SessionCreated(session=m.SessionOptions())])
    async with running(fake, [BargeIn(buffer)]) as (_session, app):
        fake.send_nowait(created(), delta(300))
        event = await app.receive_of(m.ResponseOutputAudioDelta)
        buffer.write(event.item_id, event.content_index, event.delta)
        buffer.read(50 * MS)
        fake.send_nowait(SPEECH)
        await app.receive_of(m.PlaybackInterrupted)
        with trio.move_on_after(0.2):
            await fake.receive_of(m.ConversationItemTruncate)
            pytest.fail("truncated while the item was still being generated")
        fake.send_nowait(done("resp_1", "cancelled"))
        truncate = await fake.receive_of(m.ConversationItemTruncate)
    assert truncate.audio_end_ms == 50


async def test_without_server_interruption_it_cancels_the_response() -> None:
    options = m.SessionOptions(turn_detection=m.ServerVad(interrupt_response=False))
    buffer = OutputBuffer(RATE)
    fake = FakeProvider([m.SessionCreated(session=options)], reply=cancel_reply)
    async with running(fake, [BargeIn(buffer)], options) as (_session, app):
        fake.send_nowait(created(), delta(300))
        await app.receive_of(m.ResponseOutputAudioDelta)
        fake.send_nowait(SPEECH)
        cancel = await fake.receive_of(m.ResponseCancel)
        truncate = await fake.receive_of(m.ConversationItemTruncate)
    assert cancel.response_id == "resp_1"
    assert truncate.audio_end_ms == 0  # nothing was played yet


async def test_a_reply_generated_but_still_playing_is_truncated_at_once() -> None:
    buffer = OutputBuffer(RATE)
    fake = FakeProvider([m.SessionCreated(session=m.SessionOptions())])
    async with running(fake, [BargeIn(buffer)]) as (_session, app):
        fake.send_nowait(created(), delta(500), done())
        event = await app.receive_of(m.ResponseOutputAudioDelta)
        buffer.write(event.item_id, event.content_index, event.delta)
        await app.receive_of(m.ResponseDone)
        buffer.read(240 * MS)
        fake.send_nowait(SPEECH)
        truncate = await fake.receive_of(m.ConversationItemTruncate)
        interrupted = await app.receive_of(m.PlaybackInterrupted)
    assert truncate.audio_end_ms == 240
    assert (interrupted.audio_end_ms, interrupted.audio_ms) == (240, 500)
    assert not any(isinstance(x, m.ResponseCancel) for x in fake.received)


async def test_speech_after_the_reply_was_heard_to_its_end_is_a_new_turn() -> None:
    buffer = OutputBuffer(RATE)
    fake = FakeProvider([m.SessionCreated(session=m.SessionOptions())])
    async with running(fake, [BargeIn(buffer)]) as (session, app):
        fake.send_nowait(created(), delta(100), done())
        event = await app.receive_of(m.ResponseOutputAudioDelta)
        buffer.write(event.item_id, event.content_index, event.delta)
        buffer.read(200 * MS)
        fake.send_nowait(SPEECH)
        await app.receive_of(m.InputAudioBufferSpeechStarted)
        await session.send(m.InputAudioBufferClear())
        await fake.receive_of(m.InputAudioBufferClear)
    assert not any(isinstance(x, m.PlaybackInterrupted) for x in app.received)
    assert sent(fake) == [m.InputAudioBufferClear()]


async def test_the_app_interrupts_with_output_audio_buffer_clear() -> None:
    buffer = OutputBuffer(RATE)
    fake = FakeProvider([m.SessionCreated(session=m.SessionOptions())], reply=cancel_reply)
    async with running(fake, [BargeIn(buffer)]) as (session, app):
        fake.send_nowait(created(), delta(300))
        event = await app.receive_of(m.ResponseOutputAudioDelta)
        buffer.write(event.item_id, event.content_index, event.delta)
        buffer.read(70 * MS)
        await session.send(m.OutputAudioBufferClear())
        interrupted = await app.receive_of(m.PlaybackInterrupted)
        truncate = await fake.receive_of(m.ConversationItemTruncate)
    assert interrupted.reason == "client"
    assert truncate.audio_end_ms == 70
    # the app's request is served here: the WebSocket never sees output_audio_buffer.clear
    assert [type(x) for x in sent(fake)] == [m.ResponseCancel, m.ConversationItemTruncate]


async def test_without_a_playback_the_position_is_estimated_in_real_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeProvider([m.SessionCreated(session=m.SessionOptions())])
    async with running(fake, [BargeIn()]) as (_session, app):
        fake.send_nowait(created(), delta(1000), done())
        await app.receive_of(m.ResponseDone)
        await trio.sleep(0.35)
        fake.send_nowait(SPEECH)
        interrupted = await app.receive_of(m.PlaybackInterrupted)
        truncate = await fake.receive_of(m.ConversationItemTruncate)
    assert interrupted.estimated
    assert interrupted.audio_end_ms == truncate.audio_end_ms
    assert 350 <= truncate.audio_end_ms <= 360


async def test_on_gemini_it_flushes_and_reports_but_sends_nothing() -> None:
    buffer = OutputBuffer(RATE)
    fake = FakeProvider(
        [m.SessionCreated(session=m.SessionOptions())], codec=GeminiCodec, name="gcp.gemini"
    )
    async with running(fake, [BargeIn(buffer)]) as (session, app):
        fake.send_nowait(
            m.ResponseOutputAudioDelta(
                response_id="r", item_id="i", output_index=0, content_index=0, delta=b"\0\0" * 4800
            )
        )
        event = await app.receive_of(m.ResponseOutputAudioDelta)
        buffer.write(event.item_id, event.content_index, event.delta)
        buffer.read(60 * MS)
        await session.send(m.OutputAudioBufferClear())
        interrupted = await app.receive_of(m.PlaybackInterrupted)
    assert buffer.queued_ms == 0
    assert not interrupted.truncated
    assert interrupted.audio_end_ms == 60
    assert sent(fake) == []


async def test_a_barge_in_cancels_the_running_tool_call() -> None:
    started = trio.Event()

    async def slow_lookup() -> str:
        started.set()
        await trio.sleep_forever()
        raise AssertionError

    call = m.FunctionCallItem(name="slow_lookup", arguments="{}", call_id="c1", id="item_c")
    options = m.SessionOptions(turn_detection=m.ServerVad(interrupt_response=False))
    fake = FakeProvider([m.SessionCreated(session=options)], reply=cancel_reply)
    buffer = OutputBuffer(RATE)
    stages: list[Stage] = [BargeIn(buffer), FunctionInvocation([slow_lookup])]
    async with running(fake, stages, options) as (_session, app):
        fake.send_nowait(
            created(),
            delta(300),
            m.ResponseOutputItemDone(response_id="resp_1", output_index=1, item=call),
        )
        await started.wait()
        fake.send_nowait(SPEECH)
        completed = await app.receive_of(ToolInvocationCompleted)
    assert completed.outcome == "cancelled"
    assert any(isinstance(x, m.ResponseCancel) for x in fake.received)


class CountingPlayback:
    def __init__(self) -> None:
        self.tracker = PlaybackTracker()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1


async def test_speech_with_nothing_left_to_play_leaves_the_playback_alone() -> None:
    playback = CountingPlayback()
    fake = FakeProvider([m.SessionCreated(session=m.SessionOptions())])
    async with running(fake, [BargeIn(playback)]) as (_session, app):
        fake.send_nowait(SPEECH)  # before any reply
        await app.receive_of(m.InputAudioBufferSpeechStarted)
        fake.send_nowait(created(), delta(100), done())
        await app.receive_of(m.ResponseDone)
        playback.tracker.update("item_a", 0, 100)  # played to its end
        fake.send_nowait(SPEECH)
        await app.receive_of(m.InputAudioBufferSpeechStarted)
        fake.send_nowait(created("resp_2"))
        await app.receive_of(m.ResponseCreated)
    assert playback.flushes == 0  # a phone line would have been sent a needless clear
