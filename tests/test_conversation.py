"""``Session.conversation``: the conversation as the server confirmed it, kept on the client
side from item events, synchronously (the rules) and against ``rtsession.local`` (OpenAI GA
and Gemini sides, protocol-only engines)."""

from __future__ import annotations

import trio

from _speech import tone
from rtsession import messages as m
from rtsession.local import open_local_server, protocol_only_engines
from rtsession.middleware import FunctionInvocation
from rtsession.providers import GeminiLive, OpenAIRealtime
from rtsession.session import Conversation, open_session
from rtsession.testing import AppInbox


def user(text: str, id: str) -> m.MessageItem:
    return m.MessageItem(role="user", content=(m.InputText(text=text),), id=id)


def spoken(transcript: str, id: str) -> m.MessageItem:
    part = m.OutputAudio(audio=b"\x01\x00" * 100, transcript=transcript)
    return m.MessageItem(role="assistant", content=(part,), id=id)


def test_items_are_placed_after_their_previous_item_and_updated_in_place() -> None:
    conversation = Conversation()
    conversation.observe(m.ConversationItemAdded(item=user("one", "a")))
    conversation.observe(m.ConversationItemAdded(item=user("three", "c"), previous_item_id="a"))
    conversation.observe(m.ConversationItemAdded(item=user("two", "b"), previous_item_id="a"))
    conversation.observe(m.ConversationItemDone(item=user("three!", "c"), previous_item_id="b"))
    assert [item.id for item in conversation] == ["a", "b", "c"]
    assert conversation[2] == user("three!", "c")
    assert conversation[:1] == (user("one", "a"),)
    conversation.observe(m.ConversationItemDeleted(item_id="b"))
    assert [item.id for item in conversation] == ["a", "c"]
    assert len(conversation) == 2
    assert repr(conversation) == "<Conversation of 2 items>"


def test_audio_bytes_are_not_kept_and_truncation_drops_the_unheard_transcript() -> None:
    conversation = Conversation()
    done = m.ResponseOutputItemDone(response_id="r", output_index=0, item=spoken("Hello!", "x"))
    conversation.observe(done)
    (item,) = conversation
    assert isinstance(item, m.MessageItem)
    assert item.content == (m.OutputAudio(transcript="Hello!"),)
    conversation.observe(
        m.ConversationItemTruncated(item_id="x", content_index=0, audio_end_ms=300)
    )
    assert conversation[0] == m.MessageItem(role="assistant", content=(m.OutputAudio(),), id="x")


def test_a_transcription_fills_in_the_users_audio_or_stands_for_the_turn() -> None:
    conversation = Conversation()
    audio = m.MessageItem(role="user", content=(m.InputAudio(),), id="u1")
    conversation.observe(m.ConversationItemAdded(item=audio))
    conversation.observe(
        m.ConversationItemInputAudioTranscriptionCompleted(
            item_id="u1", content_index=0, transcript="hi"
        )
    )
    conversation.observe(  # Gemini: no item event, only the transcription
        m.ConversationItemInputAudioTranscriptionCompleted(
            item_id="u2", content_index=0, transcript="bye"
        )
    )
    assert list(conversation) == [
        m.MessageItem(role="user", content=(m.InputAudio(transcript="hi"),), id="u1"),
        m.MessageItem(role="user", content=(m.InputAudio(transcript="bye"),), id="u2"),
    ]


async def get_weather(location: str) -> dict[str, object]:
    """Get the current weather for a city."""
    await trio.lowlevel.checkpoint()
    return {"temp": 21, "city": location}


async def test_a_tool_turn_on_openai(nursery: trio.Nursery) -> None:
    inbox = AppInbox()
    with trio.fail_after(20):
        async with (
            open_local_server(engines=protocol_only_engines()) as server,
            open_session(
                OpenAIRealtime(base_url=server.base_url, api_key="local"),
                m.SessionOptions(output_modalities=("text",)),
                middleware=[FunctionInvocation([get_weather])],
            ) as session,
        ):
            nursery.start_soon(inbox.drain, session)
            question = "What is the weather in Paris today?"
            item = m.MessageItem(role="user", content=(m.InputText(text=question),))
            await session.send(m.ConversationItemCreate(item=item))
            await session.send(m.ResponseCreate())
            await inbox.receive_of(m.ResponseDone)  # the call
            await inbox.receive_of(m.ResponseDone)  # the answer
            items = list(session.conversation)
    kinds = [type(item).__name__ for item in items]
    assert kinds == ["MessageItem", "FunctionCallItem", "FunctionCallOutputItem", "MessageItem"]
    first, call, output, answer = items
    assert isinstance(first, m.MessageItem)
    assert first.content == (m.InputText(text=question),)
    assert isinstance(call, m.FunctionCallItem)
    assert isinstance(output, m.FunctionCallOutputItem)
    assert (call.name, output.call_id) == ("get_weather", call.call_id)
    assert isinstance(answer, m.MessageItem)
    assert answer.role == "assistant"
    assert answer.content == (m.OutputText(text="It is 21 degrees in Paris."),)


async def test_a_spoken_turn_on_gemini(nursery: trio.Nursery) -> None:
    rate = 16000
    inbox = AppInbox()
    with trio.fail_after(20):
        async with (
            open_local_server(engines=protocol_only_engines()) as server,
            open_session(
                GeminiLive(base_url=server.url, api_key="local"),
                m.SessionOptions(input_transcription=m.InputTranscription()),
            ) as session,
        ):
            nursery.start_soon(inbox.drain, session)
            audio = bytes(rate) + tone(1.2, rate) + bytes(2 * rate)
            for i in range(0, len(audio), rate // 25):
                await session.send(m.InputAudioBufferAppend(audio=audio[i : i + rate // 25]))
            await inbox.receive_of(m.ResponseDone)
            await trio.testing.wait_all_tasks_blocked()
            items = list(session.conversation)
    heard, answer = items
    assert isinstance(heard, m.MessageItem)
    assert heard.role == "user"
    (part,) = heard.content
    assert isinstance(part, m.InputAudio)
    assert part.transcript is not None
    assert part.transcript.strip() == "What is the weather in paris today?"
    assert isinstance(answer, m.MessageItem)
    assert answer.role == "assistant"
    assert answer.content == (m.OutputAudio(transcript="It is sunny and 21 degrees in Paris."),)
