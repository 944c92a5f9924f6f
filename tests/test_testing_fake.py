"""rtsession.testing.FakeProvider: a scripted, in-memory provider for sessions and stages."""

from __future__ import annotations

import pytest
import trio

from rtsession import EncodeError, SessionClosedError, messages as m
from rtsession.middleware import ToolInvocationStarted
from rtsession.session import open_session
from rtsession.testing import AppInbox, FakeProvider, response_events

CREATED = m.SessionCreated(session=m.SessionOptions(instructions="fake"), session_id="sess_fake")


async def test_script_is_sent_and_client_messages_are_recorded() -> None:
    fake = FakeProvider([CREATED])
    with trio.fail_after(5):
        async with open_session(fake, transport=fake) as session:
            assert await session.receive_channel.receive() == CREATED
            assert session.options.instructions == "fake"
            await session.send(m.InputAudioBufferCommit(message_id="c1"))
            await session.send(m.ResponseCreate(message_id="r1"))
            assert await fake.receive() == m.InputAudioBufferCommit(message_id="c1")
            assert await fake.receive() == m.ResponseCreate(message_id="r1")
    assert fake.received == (
        m.InputAudioBufferCommit(message_id="c1"),
        m.ResponseCreate(message_id="r1"),
    )
    assert fake.closed


async def test_receive_of_skips_other_types() -> None:
    fake = FakeProvider()
    with trio.fail_after(5):
        async with open_session(fake, transport=fake) as session:
            await session.send(m.InputAudioBufferClear())
            await session.send(m.ResponseCreate(instructions="hi"))
            assert (await fake.receive_of(m.ResponseCreate)).instructions == "hi"
    assert [type(message) for message in fake.received] == [
        m.InputAudioBufferClear,
        m.ResponseCreate,
    ]


async def test_reply_reacts_to_client_messages() -> None:
    def reply(message: m.ClientMessage) -> list[m.ServerMessage]:
        if isinstance(message, m.ResponseCreate):
            return response_events("resp_1")
        return []

    fake = FakeProvider(reply=reply)
    with trio.fail_after(5):
        async with open_session(fake, transport=fake) as session:
            await session.send(m.InputAudioBufferClear())
            await session.send(m.ResponseCreate())
            created = await session.receive_channel.receive()
            done = await session.receive_channel.receive()
    assert isinstance(created, m.ResponseCreated)
    assert created.response.id == "resp_1"
    assert isinstance(done, m.ResponseDone)
    assert done.response.status == "completed"


async def test_messages_sent_during_the_session_arrive_in_order() -> None:
    fake = FakeProvider()
    with trio.fail_after(5):
        async with open_session(fake, transport=fake) as session:
            fake.send_nowait(*response_events("resp_1"))
            fake.send_nowait(CREATED)
            seen = [await session.receive_channel.receive() for _ in range(3)]
    assert [type(message) for message in seen] == [
        m.ResponseCreated,
        m.ResponseDone,
        m.SessionCreated,
    ]


async def test_server_close_ends_the_stream_and_sends() -> None:
    fake = FakeProvider([CREATED])
    with trio.fail_after(5):
        async with open_session(fake, transport=fake) as session:
            fake.close(4000, "going away")
            inbox = AppInbox()
            await inbox.drain(session)
            with pytest.raises(SessionClosedError) as info:
                await session.send(m.ResponseCreate())
    assert inbox.received == (CREATED,)
    assert inbox.error is not None
    for error in (inbox.error, info.value):
        assert (error.code, error.reason) == (4000, "going away")
    assert fake.closed


def test_response_events_shape() -> None:
    call = m.FunctionCallItem(name="f", arguments="{}", call_id="c1")
    text = m.MessageItem(role="assistant", content=(m.OutputText(text="hi"),))
    events = response_events("resp_9", call, text, status="cancelled")
    assert [type(event) for event in events] == [
        m.ResponseCreated,
        m.ResponseOutputItemAdded,
        m.ResponseOutputItemDone,
        m.ResponseOutputItemAdded,
        m.ResponseOutputItemDone,
        m.ResponseDone,
    ]
    done = events[-1]
    assert isinstance(done, m.ResponseDone)
    assert done.response == m.Response(id="resp_9", status="cancelled", output=(call, text))
    item_done = events[4]
    assert isinstance(item_done, m.ResponseOutputItemDone)
    assert (item_done.output_index, item_done.item) == (1, text)


def test_app_side_events_cannot_be_scripted() -> None:
    fake = FakeProvider()
    event = ToolInvocationStarted(name="f", call_id="c", response_id="r", arguments="{}")
    with pytest.raises(EncodeError):
        fake.send_nowait(CREATED, event)


async def test_one_connection_per_fake() -> None:
    fake = FakeProvider()
    with trio.fail_after(5):
        async with open_session(fake, transport=fake):
            pass
        with pytest.raises(RuntimeError, match="one connection"):
            async with open_session(fake, transport=fake):
                pass


async def test_provider_facts_reach_stages() -> None:
    fake = FakeProvider(name="fakeco", model="m-1")
    assert fake.connect_request().url.startswith("ws://")
    with trio.fail_after(5):
        async with open_session(fake, transport=fake) as session:
            assert session.provider.name == "fakeco"
            assert session.provider.model == "m-1"
