"""``RealtimeClient``: a provider and its configuration set once, for many sessions."""

from __future__ import annotations

import pytest
import trio
import trio.testing

import rtsession
from rtsession import messages as m
from rtsession.local import open_local_server, protocol_only_engines
from rtsession.middleware import FunctionInvocation, ResponseGate, ToolInvocationCompleted
from rtsession.session import SessionMetadata
from rtsession.testing import AppInbox
from rtsession.transport import TrioWebsocketTransport


async def get_weather(city: str) -> dict[str, object]:
    """The weather in a city."""
    return {"city": city, "temperature_c": 21}


async def ask(client: rtsession.RealtimeClient, text: str, out: list[str]) -> None:
    inbox = AppInbox()
    async with client.open_session() as session, trio.open_nursery() as nursery:
        nursery.start_soon(inbox.drain, session)
        item = m.MessageItem(role="user", content=(m.InputText(text=text),))
        await session.send(m.ConversationItemCreate(item=item))
        await session.send(m.ResponseCreate())
        await inbox.receive_of(ToolInvocationCompleted)
        done = await inbox.receive_of(m.ResponseOutputTextDone)
        out.append(done.text)
        nursery.cancel_scope.cancel()


async def test_one_client_opens_sessions_at_once_with_its_stack(
    lazy_clock: trio.testing.MockClock,
) -> None:
    async with open_local_server(engines=protocol_only_engines()) as server:
        client = rtsession.RealtimeClient(
            rtsession.OpenAIRealtime(base_url=server.base_url, api_key="local"),
            options=m.SessionOptions(output_modalities=("text",)),
            middleware=[FunctionInvocation([get_weather])],
            reconnect=rtsession.Reconnect(),
        )
        answers: list[str] = []
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                for city in ("Paris", "Rome", "Oslo"):
                    nursery.start_soon(ask, client, f"What is the weather in {city}?", answers)
    assert sorted(answers) == [f"It is 21 degrees in {city}." for city in ("Oslo", "Paris", "Rome")]


async def test_session_options_go_on_top_of_the_clients() -> None:
    async with open_local_server(engines=protocol_only_engines()) as server:
        client = rtsession.RealtimeClient(
            rtsession.OpenAIRealtime(base_url=server.base_url, api_key="local"),
            options=m.SessionOptions(output_modalities=("text",), instructions="Be brief."),
        )
        async with client.open_session(m.SessionOptions(voice="cedar")) as session:
            async for event in session:
                if isinstance(event, m.SessionUpdated):
                    break
    assert (event.session.output_modalities, event.session.instructions) == (
        ("text",),
        "Be brief.",
    )
    assert event.session.voice == "cedar"


async def test_get_service_reaches_what_the_session_holds() -> None:
    """Microsoft.Extensions.AI's GetService: the first stage of a type, the transport, the
    provider, the metadata; None (or LookupError) when absent."""
    tools = FunctionInvocation([get_weather])
    async with open_local_server(engines=protocol_only_engines()) as server:
        provider = rtsession.OpenAIRealtime(base_url=server.base_url, api_key="local")
        transport = TrioWebsocketTransport()
        async with rtsession.open_session(
            provider, middleware=[tools], transport=transport
        ) as session:
            assert session.get_service(FunctionInvocation) is tools
            assert session.get_service(TrioWebsocketTransport) is transport
            assert session.get_service(rtsession.OpenAIRealtime) is provider
            metadata = session.get_required_service(SessionMetadata)
            assert session.get_service(FunctionInvocation, key="other") is None
            assert session.get_service(ResponseGate) is None
            with pytest.raises(LookupError, match="no ResponseGate"):
                session.get_required_service(ResponseGate)
    assert metadata == SessionMetadata(
        provider_name="openai",
        model="gpt-realtime",
        server_address="127.0.0.1",
        server_port=server.port,
    )
