"""rtsession.session: the lifecycle of open_session against loopback servers."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import trio
import trio.testing
import trio_websocket
from wsproto.events import CloseConnection

from _servers import (
    RealtimeServer,
    closed_port,
    serve_raw,
    serve_realtime,
    serve_silent,
)
from rtsession import ConnectError, EncodeError, RTSessionError, SessionClosedError, messages as m
from rtsession.middleware import StageChannels, StageContext
from rtsession.providers import OpenAIRealtime
from rtsession.session import FLUSH_TIMEOUT, CloseReason, Session, open_session
from rtsession.testing import AppInbox
from rtsession.transport import CLOSE_TIMEOUT, ConnectRequest
from rtsession.wire import Codec
from rtsession.wire.openai import OpenAICodec

KEY = "sk-session-secret-0123456789"


def openai(server: Any) -> OpenAIRealtime:
    return OpenAIRealtime(api_key=KEY, base_url=server.http_url)


def descendants(task: trio.lowlevel.Task) -> Iterator[trio.lowlevel.Task]:
    for nursery in task.child_nurseries:
        for child in nursery.child_tasks:
            yield child
            yield from descendants(child)


def assert_no_tasks_left() -> None:
    """No task of a session is alive: all are named ``rtsession ...`` or live in
    rtsession functions (the transport's task holds trio-websocket's reader)."""
    root = trio.lowlevel.current_root_task()
    assert root is not None
    tasks = descendants(root)
    assert [task.name for task in tasks if task.name.startswith("rtsession")] == []


def drain(channel: trio.MemoryReceiveChannel[Any]) -> list[Any]:
    items = []
    while True:
        try:
            items.append(channel.receive_nowait())
        except trio.WouldBlock:
            return items


def secret_free(exc: BaseException) -> bool:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return all(KEY not in f"{e!s} {e!r}" for e in chain)


@attrs.frozen(kw_only=True)
class Unsupported(m.ClientMessage):
    """A client message no wire format knows."""


# --- connecting and exchanging ---------------------------------------------------------------


async def test_connect_and_exchange(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    with trio.fail_after(5):
        async with open_session(openai(server)) as session:
            event = await session.receive_channel.receive()
            assert isinstance(event, m.SessionCreated)
            assert event.session_id == "sess_1"
            await session.send(m.InputAudioBufferAppend(audio=b"\x01\x00" * 480))
            frame = await server.frames.receive()
    assert frame["type"] == "input_audio_buffer.append"
    assert base64.b64decode(frame["audio"]) == b"\x01\x00" * 480
    assert (await server.closes.receive()).code == 1000
    assert_no_tasks_left()


async def _silence(ws: trio_websocket.WebSocketConnection) -> None:
    pass


async def test_options_are_sent_on_open(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery, RealtimeServer(script=_silence, reply=lambda _: []))
    options = m.SessionOptions(instructions="be brief", voice="marin")
    with trio.fail_after(5):
        async with open_session(openai(server), options) as session:
            assert session.options is options
            assert session.provider.name == "openai"
            first = await server.frames.receive()
    assert first["type"] == "session.update"
    assert first["session"]["instructions"] == "be brief"
    assert first["session"]["audio"]["output"]["voice"] == "marin"


async def test_nothing_is_sent_without_options(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    with trio.fail_after(5):
        async with open_session(openai(server)) as session:
            assert session.options == m.SessionOptions()
        await server.closes.receive()
    assert drain(server.frames) == []


async def test_options_follow_session_created_and_updated(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    with trio.fail_after(5):
        async with open_session(openai(server)) as session:
            created = await session.receive_channel.receive()
            assert isinstance(created, m.SessionCreated)
            assert session.options == created.session
            assert session.options.instructions == "server default"
            await session.update(m.SessionOptions(instructions="new"))
            updated = await session.receive_channel.receive()
            assert isinstance(updated, m.SessionUpdated)
            assert session.options.instructions == "new"
            assert session.options.model == "gpt-realtime"


async def test_async_for_yields_server_messages(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    with trio.fail_after(5):
        async with open_session(openai(server), m.SessionOptions(instructions="x")) as session:
            seen = []
            async for event in session:
                seen.append(type(event))
                if isinstance(event, m.SessionUpdated):
                    break
    assert seen == [m.SessionCreated, m.SessionUpdated]


async def test_sends_are_flushed_before_the_close(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    with trio.fail_after(5):
        async with open_session(openai(server), middleware=[Tag("a")]) as session:
            for index in range(10):
                await session.send(m.InputAudioBufferCommit(message_id=f"c{index}"))
        await server.closes.receive()
    assert [frame["event_id"] for frame in drain(server.frames)] == [
        f"c{index}.a" for index in range(10)
    ]


async def test_send_checkpoints(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    with trio.fail_after(5):
        async with open_session(openai(server)) as session:
            with trio.testing.assert_checkpoints():
                await session.send(m.InputAudioBufferClear())
            with trio.testing.assert_checkpoints(), pytest.raises(EncodeError):
                await session.send(Unsupported())


# --- the server ends the session -------------------------------------------------------------


async def test_an_abnormal_server_close_is_raised_after_what_came_before(
    nursery: trio.Nursery,
) -> None:
    async def greet_then_close(ws: trio_websocket.WebSocketConnection) -> None:
        await ws.send_message(json.dumps({"type": "conversation.created", "event_id": "e"}))
        await ws.aclose(4000, "session expired")

    server = await serve_realtime(nursery, RealtimeServer(script=greet_then_close))
    inbox = AppInbox()
    with trio.fail_after(5):
        async with open_session(openai(server)) as session:
            await inbox.drain(session)
            with pytest.raises(SessionClosedError) as info:
                await session.send(m.ResponseCreate())
            with pytest.raises(SessionClosedError):
                await session.send_channel.clone().send(m.ResponseCreate())
            ended = session.close_reason
    assert [type(event) for event in inbox.received] == [m.ConversationCreated]
    assert inbox.error is not None
    for error in (inbox.error, info.value):
        assert (error.code, error.reason, error.closed_by) == (4000, "session expired", "server")
    assert ended == CloseReason(4000, "session expired", "server")
    assert_no_tasks_left()


async def test_a_normal_server_close_ends_iteration_cleanly(nursery: trio.Nursery) -> None:
    async def greet_then_close(ws: trio_websocket.WebSocketConnection) -> None:
        await ws.send_message(json.dumps({"type": "conversation.created", "event_id": "e"}))
        await ws.aclose(1000, "bye")

    server = await serve_realtime(nursery, RealtimeServer(script=greet_then_close))
    with trio.fail_after(5):
        async with open_session(openai(server)) as session:
            events = [event async for event in session]
            with pytest.raises(SessionClosedError) as info:
                await session.send(m.ResponseCreate())
    assert [type(event) for event in events] == [m.ConversationCreated]
    assert (info.value.code, info.value.closed_by) == (1000, "server")
    assert session.close_reason == CloseReason(1000, "bye", "server")


async def test_garbage_frame_arrives_as_invalid_message(nursery: trio.Nursery) -> None:
    async def send_garbage(ws: trio_websocket.WebSocketConnection) -> None:
        await ws.send_message("this is not json")
        await ws.send_message(json.dumps({"type": "response.output_audio.delta"}))
        await ws.send_message(json.dumps({"type": "input_audio_buffer.cleared", "event_id": "e"}))

    server = await serve_realtime(nursery, RealtimeServer(script=send_garbage))
    with trio.fail_after(5):
        async with open_session(openai(server)) as session:
            first = await session.receive_channel.receive()
            second = await session.receive_channel.receive()
            third = await session.receive_channel.receive()
            await session.send(m.InputAudioBufferClear())
            assert (await server.frames.receive())["type"] == "input_audio_buffer.clear"
    assert isinstance(first, m.InvalidServerMessage)
    assert first.frame == "this is not json"
    assert isinstance(second, m.InvalidServerMessage)
    assert isinstance(third, m.InputAudioBufferCleared)


# --- leaving the block -----------------------------------------------------------------------


async def test_close_is_bounded_when_the_server_never_answers(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = await serve_silent(nursery)
    with trio.fail_after(5):
        async with open_session(openai(server)) as session:
            await session.receive_channel.receive()
            start = trio.current_time()
        elapsed = trio.current_time() - start
        event = await server.events.receive()
    assert elapsed == pytest.approx(CLOSE_TIMEOUT)
    assert isinstance(event, CloseConnection)
    assert event.code == 1000
    assert_no_tasks_left()


async def test_outside_cancellation_closes_cleanly(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    with trio.fail_after(5):
        with trio.CancelScope() as scope:
            async with open_session(openai(server)) as session:
                await session.receive_channel.receive()
                scope.cancel()
                await trio.sleep_forever()
        assert scope.cancelled_caught
        assert_no_tasks_left()
        close = await server.closes.receive()
    assert close.code == 1000


async def test_cancellation_during_connect(nursery: trio.Nursery) -> None:
    async def never_answer(stream: trio.SocketStream) -> None:
        await stream.receive_some()
        await trio.sleep_forever()

    port = await serve_raw(nursery, never_answer)
    provider = OpenAIRealtime(api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1")
    with trio.fail_after(5), trio.CancelScope() as scope:
        async with trio.open_nursery() as inner:
            inner.start_soon(_open_and_wait, provider)
            await trio.testing.wait_all_tasks_blocked()
            scope.cancel()
    assert scope.cancelled_caught
    assert_no_tasks_left()


async def _open_and_wait(provider: OpenAIRealtime) -> None:
    async with open_session(provider):
        raise AssertionError("the handshake never completes")


async def test_exit_is_prompt_when_the_app_stops_reading(nursery: trio.Nursery) -> None:
    async def flood(ws: trio_websocket.WebSocketConnection) -> None:
        for index in range(50):
            await ws.send_message(
                json.dumps({"type": "input_audio_buffer.cleared", "event_id": f"e{index}"})
            )

    server = await serve_realtime(nursery, RealtimeServer(script=flood))
    with trio.fail_after(5):
        async with open_session(openai(server)) as session:
            await session.receive_channel.receive()
            await trio.testing.wait_all_tasks_blocked()
            start = trio.current_time()
        assert trio.current_time() - start < CLOSE_TIMEOUT / 2
        assert (await server.closes.receive()).code == 1000


class BodyError(Exception):
    pass


async def test_exception_in_the_body_propagates_unchanged(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    error = BodyError("boom")
    with trio.fail_after(5):
        with pytest.raises(BodyError) as info:
            async with open_session(openai(server)):
                raise error
        assert info.value is error
        assert info.value.__context__ is None
        assert (await server.closes.receive()).code == 1000
    assert_no_tasks_left()


async def test_keyboard_interrupt_passes_through(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    interrupt = KeyboardInterrupt()
    with trio.fail_after(5):
        with pytest.raises(KeyboardInterrupt) as info:
            async with open_session(openai(server)):
                raise interrupt
        assert info.value is interrupt
        assert (await server.closes.receive()).code == 1000


async def test_send_after_the_block_raises(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    with trio.fail_after(5):
        async with open_session(openai(server)) as session:
            clone = session.send_channel.clone()
    for send in (session.send, clone.send):
        with pytest.raises(SessionClosedError) as info:
            await send(m.ResponseCreate())
        assert info.value.code == 1000


# --- connection errors ------------------------------------------------------------------------


async def _connect_error(provider: Any) -> ConnectError:
    """Open a session that must fail: one ConnectError, no group, body never run."""
    with trio.fail_after(5), pytest.raises(ConnectError) as info:
        async with open_session(provider):
            raise AssertionError("the body must not run")
    assert_no_tasks_left()
    assert secret_free(info.value)
    return info.value


async def test_connect_refused() -> None:
    provider = OpenAIRealtime(api_key=KEY, base_url=f"http://127.0.0.1:{closed_port()}/v1")
    error = await _connect_error(provider)
    assert error.status_code is None
    assert "could not connect to OpenAI at 127.0.0.1:" in str(error)


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_handshake_rejected(nursery: trio.Nursery, status: int) -> None:
    server = await serve_realtime(nursery, RealtimeServer(reject=status))
    error = await _connect_error(openai(server))
    assert error.status_code == status
    assert str(error).startswith(f"OpenAI rejected the connection: HTTP {status} (")
    if status == 401:
        assert str(error) == "OpenAI rejected the connection: HTTP 401 (check the API key)"


async def test_tls_failure(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    provider = OpenAIRealtime(api_key=KEY, base_url=f"https://127.0.0.1:{server.port}/v1")
    error = await _connect_error(provider)
    assert "TLS handshake with OpenAI" in str(error)


@attrs.frozen
class StaticProvider:
    """A provider dialing whatever request it is given."""

    request: ConnectRequest
    name: str = "test"
    model: str = "test-model"

    def connect_request(self, kind: m.SessionKind = "conversation") -> ConnectRequest:
        return self.request

    def make_codec(self) -> Codec:
        return OpenAICodec()


async def test_bad_url() -> None:
    provider = StaticProvider(ConnectRequest(url="https://127.0.0.1/v1/realtime"))
    error = await _connect_error(provider)
    assert "invalid WebSocket URL" in str(error)


# --- sending: validation and producers -------------------------------------------------------


async def test_encode_failure_is_rejected_before_the_socket(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    with trio.fail_after(5):
        async with open_session(openai(server)) as session:
            clone = session.send_channel.clone()
            with pytest.raises(EncodeError):
                await session.send(Unsupported())
            with pytest.raises(EncodeError):
                await session.send_channel.send(Unsupported())
            with pytest.raises(EncodeError):
                await clone.send(Unsupported())
            with pytest.raises(TypeError, match="expected a ClientMessage"):
                await clone.send("not a message")  # type: ignore[arg-type]
            await clone.send(m.InputAudioBufferCommit(message_id="after"))
            frame = await server.frames.receive()
    assert frame == {"type": "input_audio_buffer.commit", "event_id": "after"}
    assert drain(server.frames) == []


async def test_unencodable_options_fail_the_open(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    options = m.SessionOptions(kind="transcription", voice="marin")
    with trio.fail_after(5), pytest.raises(EncodeError):
        async with open_session(openai(server), options):
            raise AssertionError("the body must not run")
    assert (await server.closes.receive()).code == 1000


async def test_several_producers_through_clones(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)

    async def produce(session: Session, name: str) -> None:
        with session.send_channel.clone() as channel:
            for index in range(20):
                await channel.send(m.InputAudioBufferCommit(message_id=f"{name}{index}"))

    with trio.fail_after(5):
        async with open_session(openai(server)) as session:
            async with trio.open_nursery() as producers:
                for name in "xyz":
                    producers.start_soon(produce, session, name)
            await session.send(m.InputAudioBufferClear(message_id="last"))
            ids = [(await server.frames.receive())["event_id"] for _ in range(61)]
    assert ids[-1] == "last"
    for name in "xyz":
        assert [i for i in ids if i.startswith(name)] == [f"{name}{n}" for n in range(20)]


async def test_closed_clone_raises_closed_resource(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    with trio.fail_after(5):
        async with open_session(openai(server)) as session:
            clone = session.send_channel.clone()
            await clone.aclose()
            with pytest.raises(trio.ClosedResourceError):
                await clone.send(m.ResponseCreate())
            with pytest.raises(trio.ClosedResourceError):
                clone.clone()
            await session.send_channel.aclose()
            await session.send(m.ResponseCreate(message_id="still works"))
            assert (await server.frames.receive())["event_id"] == "still works"


async def test_key_never_appears_in_errors(nursery: trio.Nursery) -> None:
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {KEY}"}}).encode()
    rejecting = await serve_realtime(nursery, RealtimeServer(reject=401, reject_body=body))
    error = await _connect_error(openai(rejecting))
    assert "<redacted>" in str(error)

    async def close_at_once(ws: trio_websocket.WebSocketConnection) -> None:
        await ws.aclose(1008, "bad key")

    closing = await serve_realtime(nursery, RealtimeServer(script=close_at_once))
    with trio.fail_after(5):
        async with open_session(openai(closing)) as session:
            inbox = AppInbox()
            await inbox.drain(session)
            with pytest.raises(SessionClosedError) as info:
                await session.send(m.ResponseCreate())
    assert inbox.error is not None
    assert secret_free(inbox.error)
    assert secret_free(info.value)
    provider = openai(closing)
    assert KEY not in f"{provider!r} {provider!s} {provider.connect_request()!r}"


# --- middleware ------------------------------------------------------------------------------


@attrs.define(eq=False)
class Tag:
    """Appends ``.name`` to the message_id of everything passing, both ways, and counts."""

    name: str
    client_count: int = 0
    server_count: int = 0
    contexts: list[StageContext] = attrs.Factory(list)

    async def run(self, context: StageContext, channels: StageChannels) -> None:
        self.contexts.append(context)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._client_side, channels)
            nursery.start_soon(self._server_side, channels)

    async def _client_side(self, channels: StageChannels) -> None:
        async with channels.to_provider:
            async for message in channels.from_app:
                self.client_count += 1
                tagged = f"{message.message_id}.{self.name}"
                await channels.to_provider.send(attrs.evolve(message, message_id=tagged))

    async def _server_side(self, channels: StageChannels) -> None:
        async with channels.to_app:
            async for message in channels.from_provider:
                self.server_count += 1
                tagged = f"{message.message_id}.{self.name}"
                await channels.to_app.send(attrs.evolve(message, message_id=tagged))


@attrs.define(eq=False)
class Inject:
    """On ``SessionCreated`` from the provider, asks for a response (toward the provider)
    and tells the app (toward the app); forwards everything."""

    async def run(self, context: StageContext, channels: StageChannels) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._forward_client, channels)
            async with channels.to_app:
                async for message in channels.from_provider:
                    await channels.to_app.send(message)
                    if isinstance(message, m.SessionCreated):
                        await channels.to_app.send(
                            m.RawServerMessage(type="injected", payload={}, message_id="inj")
                        )
                        await channels.to_provider.send(m.ResponseCreate(message_id="auto"))

    async def _forward_client(self, channels: StageChannels) -> None:
        async for message in channels.from_app:
            await channels.to_provider.send(message)
        await channels.to_provider.aclose()


async def test_middleware_order_and_injection(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    a, b = Tag("a"), Tag("b")
    with trio.fail_after(5):
        async with open_session(openai(server), middleware=[a, Inject(), b]) as session:
            created = await session.receive_channel.receive()
            injected = await session.receive_channel.receive()
            auto = await server.frames.receive()
            await session.send(m.InputAudioBufferClear(message_id="m"))
            sent = await server.frames.receive()
    # toward the provider a runs first; toward the app b runs first
    assert sent["event_id"] == "m.a.b"
    assert created.message_id == "event_1.b.a"
    # the injector sits between a and b: what it injects passes only the stage beyond it
    assert auto == {"type": "response.create", "event_id": "auto.b"}
    assert isinstance(injected, m.RawServerMessage)
    assert injected.message_id == "inj.a"
    assert (a.client_count, a.server_count, b.client_count, b.server_count) == (1, 2, 2, 1)


async def test_stage_context(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    tag = Tag("t")
    with trio.fail_after(5):
        async with open_session(openai(server), middleware=[tag]) as session:
            await session.receive_channel.receive()
            context = tag.contexts[0]
            assert context.provider_name == "openai"
            assert context.model == "gpt-realtime"
            assert context.options is session.options
            assert context.options.instructions == "server default"


@attrs.define(eq=False)
class Crash:
    async def run(self, context: StageContext, channels: StageChannels) -> None:
        await channels.from_provider.receive()
        raise BodyError("stage failed")


async def test_stage_exception_surfaces_alone(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    with trio.fail_after(5), pytest.raises(BodyError, match="stage failed"):
        async with open_session(openai(server), middleware=[Crash()]) as session:
            await trio.sleep_forever()
    assert (await server.closes.receive()).code == 1000
    assert_no_tasks_left()
    del session


@attrs.define(eq=False)
class InjectUnencodable:
    async def run(self, context: StageContext, channels: StageChannels) -> None:
        await channels.to_provider.send(Unsupported())
        await trio.sleep_forever()


async def test_stage_injecting_an_unencodable_message(nursery: trio.Nursery) -> None:
    server = await serve_realtime(nursery)
    with trio.fail_after(5), pytest.raises(EncodeError):
        async with open_session(openai(server), middleware=[InjectUnencodable()]):
            await trio.sleep_forever()
    assert_no_tasks_left()


@attrs.define(eq=False)
class Stubborn:
    """Forwards toward the provider but never closes ``to_provider`` (breaks the contract)."""

    async def run(self, context: StageContext, channels: StageChannels) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._server_side, channels)
            async for message in channels.from_app:
                await channels.to_provider.send(message)
            await trio.sleep_forever()

    async def _server_side(self, channels: StageChannels) -> None:
        async for message in channels.from_provider:
            await channels.to_app.send(message)


async def test_a_stage_that_never_ends_delays_the_close_by_the_flush_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = await serve_realtime(nursery)
    with trio.fail_after(10):
        async with open_session(openai(server), middleware=[Stubborn()]) as session:
            await session.send(m.InputAudioBufferClear(message_id="x"))
            start = trio.current_time()
        elapsed = trio.current_time() - start
        close = await server.closes.receive()
    assert FLUSH_TIMEOUT <= elapsed < FLUSH_TIMEOUT + CLOSE_TIMEOUT
    assert close.code == 1000
    assert (await server.frames.receive())["event_id"] == "x"


def test_errors_are_rtsession_errors() -> None:
    for error in (ConnectError, EncodeError, SessionClosedError):
        assert issubclass(error, RTSessionError)


def test_a_group_nested_in_a_group_collapses_to_its_one_failure() -> None:
    """A library's own nursery inside ours (Hypercorn's) nests groups: the one real failure
    still comes out alone."""
    from rtsession._groups import collapse

    error = OSError(98, "Address already in use")
    inner = BaseExceptionGroup("hypercorn", [error])
    assert collapse(BaseExceptionGroup("ours", [inner])) is error
    two = BaseExceptionGroup("hypercorn", [error, ValueError("x")])
    assert isinstance(collapse(BaseExceptionGroup("ours", [two])), RTSessionError)
