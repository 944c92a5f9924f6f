"""``Session.options`` is what the provider applied, on every provider: a confirmed update
changes it, a refused one does not, and on Gemini Live (whose ``contextUpdate`` has no
acknowledgement) an update is in force once it is written. Against ``rtsession.local``."""

from __future__ import annotations

import attrs
import pytest

from _events import until
from rtsession import EncodeError, messages as m
from rtsession.local import LocalServer, open_local_server, protocol_only_engines
from rtsession.providers import GeminiLive, OpenAIRealtime
from rtsession.session import Session, open_session


async def text_turn(session: Session, text: str) -> list[m.ServerMessage]:
    item = m.MessageItem(role="user", content=(m.InputText(text=text),))
    await session.send(m.ConversationItemCreate(item=item))
    await session.send(m.ResponseCreate())
    return await until(session, m.ResponseDone)


def gemini(local: LocalServer) -> GeminiLive:
    return GeminiLive(api_key="local", base_url=local.url)


async def test_on_gemini_an_update_is_in_force_once_written() -> None:
    options = m.SessionOptions(instructions="Be brief.", output_modalities=("text",))
    async with (
        open_local_server(engines=protocol_only_engines()) as local,
        open_session(gemini(local), options) as session,
    ):
        await until(session, m.SessionCreated)
        assert session.options.instructions == "Be brief."
        tool = m.FunctionTool(name="get_time", description="The time.", parameters={})
        await session.update(m.SessionOptions(instructions="Be verbose.", tools=(tool,)))
        events = await text_turn(session, "hello")  # written after the update, in order
        assert not [e for e in events if isinstance(e, m.SessionUpdated)]  # none on this wire
        assert session.options.instructions == "Be verbose."
        assert session.options.tools == (tool,)
        assert session.options.output_modalities == ("text",)  # the rest stays


async def test_on_gemini_a_refused_update_changes_nothing() -> None:
    async with (
        open_local_server(engines=protocol_only_engines()) as local,
        open_session(gemini(local), m.SessionOptions(voice="Puck")) as session,
    ):
        await until(session, m.SessionCreated)
        before = session.options
        with pytest.raises(EncodeError, match="speechConfig on an open connection"):
            await session.update(m.SessionOptions(voice="Kore"))
        await text_turn(session, "hello")
        assert session.options == before


async def test_on_openai_a_refused_update_changes_nothing() -> None:
    async with (
        open_local_server(engines=protocol_only_engines()) as local,
        open_session(OpenAIRealtime(base_url=local.base_url, api_key="local")) as session,
    ):
        await until(session, m.SessionCreated)
        before = session.options
        pcm16k = m.AudioFormat(type="audio/pcm", rate=16_000)  # GA takes 24 kHz only
        await session.update(m.SessionOptions(input_audio_format=pcm16k))
        error = (await until(session, m.Error))[-1]
        assert isinstance(error, m.Error)
        assert error.param == "session.audio.input.format.rate"
        assert session.options == before
        await session.update(m.SessionOptions(output_speed=1.25))
        await until(session, m.SessionUpdated)
        assert session.options == attrs.evolve(before, output_speed=1.25)
