"""Reconnection (``open_session(..., reconnect=Reconnect())``) against ``rtsession.local``,
on every provider: a dropped connection, a drop mid-utterance, mid-response and during a
tool call, repeated drops, ``max_connection_age``, a refused reconnection and attempts
running out. The conversation goes on: resumed by handle on Gemini Live, replayed with
``conversation.item.create`` on OpenAI, Azure and the beta dialect."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Container
from contextlib import asynccontextmanager

import attrs
import pytest
import trio
import trio.testing

from _speech import tone
from rtsession import ConnectError, Reconnect, SessionClosedError, messages as m
from rtsession.local import LocalServer, open_local_server, protocol_only_engines
from rtsession.middleware import FunctionInvocation, Stage, ToolInvocationCompleted
from rtsession.providers import AzureOpenAIRealtime, GeminiLive, OpenAIRealtime, Provider
from rtsession.session import Session, open_session
from rtsession.testing import AppInbox
from rtsession.transport import Connection, ConnectRequest, Transport, TrioWebsocketTransport


def openai(server: LocalServer) -> Provider:
    return OpenAIRealtime(base_url=server.base_url, api_key="local")


def beta(server: LocalServer) -> Provider:
    return OpenAIRealtime(dialect="beta", base_url=server.base_url, api_key="local")


def azure(server: LocalServer) -> Provider:
    return AzureOpenAIRealtime(f"http://127.0.0.1:{server.port}", "d", api_key="local")


def gemini(server: LocalServer) -> Provider:
    return GeminiLive(base_url=server.url, api_key="local")


OPENAI_SIDES = [openai, beta, azure]
EVERY_SIDE = [*OPENAI_SIDES, gemini]
TEXT = m.SessionOptions(output_modalities=("text",))


@attrs.define
class Refusing:
    """The real transport, but the dials numbered in ``refused`` (every one after the
    first, by default) are refused with ``status`` (``None``: no HTTP answer at all, as
    for a network failure)."""

    status: int | None
    refused: Container[int] = range(2, 1_000)
    inner: Transport = attrs.Factory(TrioWebsocketTransport)
    dials: int = 0

    async def connect(self, nursery: trio.Nursery, request: ConnectRequest) -> Connection:
        self.dials += 1
        if self.dials in self.refused:
            await trio.lowlevel.checkpoint()
            raise ConnectError(f"refused with {self.status}", status_code=self.status)
        return await self.inner.connect(nursery, request)


@attrs.define
class Ending:
    """Set once the app's stream has ended (normally or not)."""

    event: trio.Event = attrs.Factory(trio.Event)

    async def drain(self, session: Session, inbox: AppInbox) -> None:
        await inbox.drain(session)
        self.event.set()


@attrs.define
class Cut:
    """The first connection, as a network failure sees it: once a server frame contains
    ``marker``, that frame and everything after it never arrive, and the connection is
    lost (1006, no close frame). Later connections are left alone."""

    marker: str
    inner: Transport = attrs.Factory(TrioWebsocketTransport)
    dials: int = 0

    async def connect(self, nursery: trio.Nursery, request: ConnectRequest) -> Connection:
        self.dials += 1
        connection = await self.inner.connect(nursery, request)
        return _CutConnection(connection, self.marker) if self.dials == 1 else connection


@attrs.define
class _CutConnection:
    inner: Connection
    marker: str
    lost: bool = False

    def _lose(self) -> SessionClosedError:
        self.lost = True
        return SessionClosedError("connection lost", code=1006)

    async def send(self, frame: str | bytes) -> None:
        if self.lost:
            raise self._lose()
        await self.inner.send(frame)

    async def receive(self) -> str | bytes:
        if self.lost:
            raise self._lose()
        frame = await self.inner.receive()
        if self.marker in str(frame):
            raise self._lose()
        return frame

    async def aclose(self) -> None:
        await self.inner.aclose()


@asynccontextmanager
async def conversation(
    side: Callable[[LocalServer], Provider],
    options: m.SessionOptions = TEXT,
    *,
    reconnect: Reconnect | None = None,
    middleware: tuple[Stage, ...] = (),
    transport: Transport | None = None,
    ending: Ending | None = None,
) -> AsyncIterator[tuple[LocalServer, Session, AppInbox]]:
    inbox = AppInbox()
    ending = ending or Ending()
    async with (
        open_local_server(engines=protocol_only_engines()) as server,
        open_session(
            side(server),
            options,
            reconnect=reconnect or Reconnect(),
            middleware=middleware,
            transport=transport,
        ) as session,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(ending.drain, session, inbox)
        yield server, session, inbox
        nursery.cancel_scope.cancel()


async def say(session: Session, inbox: AppInbox, text: str) -> m.ResponseDone:
    """A user text turn and the response to it."""
    item = m.MessageItem(role="user", content=(m.InputText(text=text),))
    await session.send(m.ConversationItemCreate(item=item))
    await session.send(m.ResponseCreate())
    return await inbox.receive_of(m.ResponseDone)


def text_of(done: m.ResponseDone) -> str:
    return " ".join(
        part.text if isinstance(part, m.OutputText) else part.transcript or ""
        for item in done.response.output
        if isinstance(item, m.MessageItem)
        for part in item.content
        if isinstance(part, m.OutputText | m.OutputAudio)
    )


@pytest.mark.parametrize("side", EVERY_SIDE)
async def test_a_dropped_connection_continues_the_conversation(
    side: Callable[[LocalServer], Provider], lazy_clock: trio.testing.MockClock
) -> None:
    """The issue's first failure: a server close (1011, 1012) used to end the session, or
    leave a model that had forgotten the conversation. Now one Reconnected follows, the
    earlier items are there on the new connection, and the conversation goes on."""
    async with conversation(side) as (server, session, inbox):
        first = await say(session, inbox, "Hello there.")
        assert first.response.status == "completed"
        before = list(session.conversation)
        # Gemini Live confirms no text the app sends, so only the reply is listed there
        assert len(before) == (1 if side is gemini else 2)
        assert await server.close_connections(1012, "service restart") == 1
        reconnected = await inbox.receive_of(m.Reconnected)
        assert reconnected.reason == "connection_lost"
        assert reconnected.close_code == 1012
        assert reconnected.restored
        assert reconnected.connection == 2
        if side is not gemini:
            assert reconnected.replayed == 2
            # the earlier items answer on the new connection (no item_not_found)
            await session.send(m.ConversationItemRetrieve(item_id=before[0].id or ""))
            retrieved = await inbox.receive_of(m.ConversationItemRetrieved)
            assert retrieved.item.id == before[0].id
        second = await say(session, inbox, "What is the weather in Paris?")
        assert second.response.status == "completed"
        assert list(session.conversation)[: len(before)] == before
        assert len(session.conversation) == 2 * len(before)
    assert len([r for r in inbox.received if isinstance(r, m.Reconnected)]) == 1
    assert not [e for e in inbox.received if isinstance(e, m.Error)]
    assert session.statistics().connections == 2


@pytest.mark.parametrize("side", OPENAI_SIDES)
async def test_a_drop_mid_utterance_keeps_the_users_audio(
    side: Callable[[LocalServer], Provider], lazy_clock: trio.testing.MockClock
) -> None:
    """The user is half-way through a sentence when the connection drops: the audio
    appended since the last commit is sent again on the new connection, so the turn it
    completes there holds the whole utterance (1.2 s), not only its second half."""
    options = m.SessionOptions(output_modalities=("text",), turn_detection=m.ServerVad())
    speech = tone(1.2, 24_000)
    half = len(speech) // 2
    async with conversation(side, options) as (server, session, inbox):
        await inbox.receive_of(m.SessionUpdated)
        for start in range(0, half, 960):
            await session.send(m.InputAudioBufferAppend(audio=speech[start : start + 960]))
        await inbox.receive_of(m.InputAudioBufferSpeechStarted)
        await server.close_connections(1011, "internal error")
        reconnected = await inbox.receive_of(m.Reconnected)
        assert reconnected.resent == half // 960
        for start in range(half, len(speech), 960):
            await session.send(m.InputAudioBufferAppend(audio=speech[start : start + 960]))
        silence = bytes(960)
        for _ in range(60):
            await session.send(m.InputAudioBufferAppend(audio=silence))
        started = await inbox.receive_of(m.InputAudioBufferSpeechStarted)
        stopped = await inbox.receive_of(m.InputAudioBufferSpeechStopped)
        done = await inbox.receive_of(m.ResponseDone)
    assert stopped.audio_end_ms - started.audio_start_ms >= 1200
    assert done.response.status == "completed"


@pytest.mark.parametrize("side", EVERY_SIDE)
async def test_a_drop_mid_response_ends_it_for_the_app_and_goes_on(
    side: Callable[[LocalServer], Provider], lazy_clock: trio.testing.MockClock
) -> None:
    """The connection is lost while a reply streams (its second word never arrives): the
    app sees that response end (``incomplete``, reason ``reconnected``), then one
    Reconnected, and the next turn works."""
    cut = Cut(marker="help")  # the greeting's "How can I help you today?"
    async with conversation(side, transport=cut) as (_server, session, inbox):
        await session.send(m.ResponseCreate())
        created = await inbox.receive_of(m.ResponseCreated)
        ended = await inbox.receive_of(m.ResponseDone)
        assert ended.response.id == created.response.id
        assert ended.response.status == "incomplete"
        assert ended.response.status_details == m.ResponseStatusDetails(
            type="incomplete", reason="reconnected"
        )
        reconnected = await inbox.receive_of(m.Reconnected)
        assert not reconnected.seamless
        assert reconnected.close_code == 1006
        after = await say(session, inbox, "Hello again.")
        assert after.response.status == "completed"
    assert len([r for r in inbox.received if isinstance(r, m.ResponseDone)]) == 2


@pytest.mark.parametrize("side", OPENAI_SIDES)
async def test_a_drop_during_a_tool_call_still_answers_it(
    side: Callable[[LocalServer], Provider], lazy_clock: trio.testing.MockClock
) -> None:
    """The connection drops while the tool runs: the call is replayed on the new
    connection, so the tool's answer is sent there and the model answers from it, instead
    of the call being cancelled."""
    dropped = trio.Event()
    release = trio.Event()

    async def get_weather(city: str) -> str:
        """The weather in a city."""
        dropped.set()
        await release.wait()
        return f'{{"city": "{city}", "temperature_c": 21}}'

    tools = FunctionInvocation([get_weather])
    options = m.SessionOptions(output_modalities=("text",), tools=tools.function_tools)
    async with conversation(side, options, middleware=(tools,)) as (server, session, inbox):
        item = m.MessageItem(role="user", content=(m.InputText(text="Weather in Paris?"),))
        await session.send(m.ConversationItemCreate(item=item))
        await session.send(m.ResponseCreate())
        await dropped.wait()
        await server.close_connections(1011)
        await inbox.receive_of(m.Reconnected)
        release.set()
        completed = await inbox.receive_of(ToolInvocationCompleted)
        answer = await inbox.receive_of(m.ResponseDone)
    assert completed.outcome == "succeeded"
    assert not [r for r in inbox.received if isinstance(r, m.ToolCallCancellation)]
    assert answer.response.status == "completed"
    assert "21" in text_of(answer)


@pytest.mark.parametrize("side", EVERY_SIDE)
async def test_repeated_drops_give_one_reconnected_each(
    side: Callable[[LocalServer], Provider], lazy_clock: trio.testing.MockClock
) -> None:
    async with conversation(side) as (server, session, inbox):
        for turn in range(4):
            done = await say(session, inbox, f"Turn {turn}.")
            assert done.response.status == "completed"
            if turn < 3:
                await server.close_connections(1013)
                reconnected = await inbox.receive_of(m.Reconnected)
                assert reconnected.connection == turn + 2
                await trio.sleep(2)  # each connection lives a while (STABLE_AFTER)
    assert len([r for r in inbox.received if isinstance(r, m.Reconnected)]) == 3
    assert session.statistics().connections == 4
    if side is not gemini:
        assert len(session.conversation) == 8


@pytest.mark.parametrize("side", EVERY_SIDE)
async def test_max_connection_age_switches_before_the_providers_limit(
    side: Callable[[LocalServer], Provider], lazy_clock: trio.testing.MockClock
) -> None:
    """Make before break at the policy's age: the old connection had nothing in progress,
    so the switch is seamless, and the conversation is restored."""
    policy = Reconnect(max_connection_age=300)
    async with conversation(side, reconnect=policy) as (_server, session, inbox):
        await say(session, inbox, "Hello there.")
        reconnected = await inbox.receive_of(m.Reconnected)
        assert 300 <= trio.current_time() < 301
        assert (reconnected.reason, reconnected.seamless, reconnected.restored) == (
            "max_connection_age",
            True,
            True,
        )
        assert reconnected.close_code is None
        done = await say(session, inbox, "And again.")
        assert done.response.status == "completed"


@pytest.mark.parametrize("side", [openai, gemini])
async def test_a_refused_reconnection_is_raised_and_not_tried_again(
    side: Callable[[LocalServer], Provider], lazy_clock: trio.testing.MockClock
) -> None:
    """A 401 on reconnect (the key was revoked) is not retried: iteration and sends raise
    the ConnectError with its status."""
    refusing = Refusing(401)
    ending = Ending()
    async with conversation(side, transport=refusing, ending=ending) as (server, session, inbox):
        await say(session, inbox, "Hello there.")
        await server.close_connections(1011)
        with trio.fail_after(5):
            await ending.event.wait()
        with pytest.raises(ConnectError) as sending:
            await session.send(m.ResponseCreate())
    assert isinstance(inbox.error, ConnectError)
    assert inbox.error.status_code == sending.value.status_code == 401
    assert refusing.dials == 2
    assert session.close_reason is not None
    assert not session.close_reason.normal


@pytest.mark.parametrize("status", [None, 429, 503])
async def test_attempts_run_out_with_backoff(
    status: int | None, lazy_clock: trio.testing.MockClock
) -> None:
    """Failures the policy retries are tried ``attempts`` times, waiting 1, 2, 4 s between
    them (no jitter here), then the last error is raised."""
    refusing = Refusing(status)
    policy = Reconnect(attempts=4, initial_delay=1, jitter=0)
    ending = Ending()
    async with conversation(openai, transport=refusing, reconnect=policy, ending=ending) as (
        server,
        session,
        inbox,
    ):
        await say(session, inbox, "Hello there.")
        await server.close_connections(1011)
        dropped_at = trio.current_time()
        with trio.fail_after(30):
            await ending.event.wait()
        gave_up_after = trio.current_time() - dropped_at
    assert refusing.dials == 1 + 4
    assert 7 <= gave_up_after < 7.5  # 1 + 2 + 4
    assert isinstance(inbox.error, ConnectError)
    assert inbox.error.status_code == status


@pytest.mark.parametrize(("code", "retried"), [(1011, True), (1008, False), (4000, False)])
async def test_only_the_failures_the_policy_names_are_retried(
    code: int, retried: bool, lazy_clock: trio.testing.MockClock
) -> None:
    async with conversation(openai) as (server, session, inbox):
        await say(session, inbox, "Hello there.")
        await server.close_connections(code)
        with trio.move_on_after(5):
            await inbox.receive_of(m.Reconnected)
    assert (session.statistics().connections == 2) is retried
    assert (inbox.error is None) is retried


async def test_without_a_policy_a_drop_ends_the_session(
    lazy_clock: trio.testing.MockClock,
) -> None:
    inbox = AppInbox()
    async with (
        open_local_server(engines=protocol_only_engines()) as server,
        open_session(openai(server), TEXT) as session,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(inbox.drain, session)
        await say(session, inbox, "Hello there.")
        await server.close_connections(1011)
    assert inbox.error is not None
    assert not [r for r in inbox.received if isinstance(r, m.Reconnected)]


async def test_what_the_app_sends_during_an_outage_arrives_once_after_it(
    lazy_clock: trio.testing.MockClock,
) -> None:
    """The first two attempts are refused (503), the third opens: meanwhile the app's
    sends wait (bounded channels, nothing piles up), and each message it sent arrives on
    the new connection exactly once, after the replayed conversation."""
    refusing = Refusing(503, refused={2, 3})
    policy = Reconnect(initial_delay=1, jitter=0)
    sent_at: list[float] = []
    async with conversation(openai, transport=refusing, reconnect=policy) as (
        server,
        session,
        inbox,
    ):
        await say(session, inbox, "Hello there.")
        await server.close_connections(1011)
        await trio.sleep(0.1)  # the drop is seen
        dropped_at = trio.current_time()
        for n in range(5):
            text = m.InputText(text=f"note {n}")
            item = m.MessageItem(role="user", content=(text,), id=f"note_{n}")
            await session.send(m.ConversationItemCreate(item=item))
            sent_at.append(trio.current_time())
        reconnected = await inbox.receive_of(m.Reconnected)
        done = await say(session, inbox, "Goodbye.")
        assert done.response.status == "completed"
        ids = [item.id for item in session.conversation]
    assert refusing.dials == 4
    assert reconnected.replayed == 2
    assert reconnected.outage_ms >= 3000  # waits of 1 s and 2 s between the attempts
    # the app's sends waited for the new connection (all but the few the chain holds)
    assert sent_at[-1] - dropped_at >= 2.9
    assert [i for i in ids if i is not None and i.startswith("note_")] == [
        f"note_{n}" for n in range(5)
    ]
    assert not [e for e in inbox.received if isinstance(e, m.Error)]


def test_the_policy_retries_failures_worth_retrying_only() -> None:
    policy = Reconnect()
    lost = SessionClosedError("lost", code=None)
    keepalive = SessionClosedError("keepalive ping timeout", code=1011, closed_by="network")
    assert policy.retries(lost)
    assert policy.retries(keepalive)
    for code in (1001, 1006, 1011, 1012, 1013):
        assert policy.retries(SessionClosedError("closed", code=code))
    for code in (1000, 1002, 1007, 1008, 1009, 4000):
        assert not policy.retries(SessionClosedError("closed", code=code))
    assert not policy.retries(SessionClosedError("ours", code=1011, closed_by="client"))
    for status in (None, 429, 500, 502, 503):
        assert policy.retries(ConnectError("refused", status_code=status))
    for status in (400, 401, 403, 404, 426):
        assert not policy.retries(ConnectError("refused", status_code=status))


def test_the_backoff_doubles_up_to_the_maximum_with_jitter() -> None:
    policy = Reconnect(initial_delay=0.5, max_delay=3, jitter=0.5)
    assert [policy.delay(n, lambda: 1.0) for n in range(1, 7)] == [0, 0.5, 1, 2, 3, 3]
    assert [policy.delay(n, lambda: 0.0) for n in range(1, 5)] == [0, 0.25, 0.5, 1]


@pytest.mark.parametrize(
    "settings",
    [
        {"attempts": 0},
        {"initial_delay": -1},
        {"jitter": 1.5},
        {"max_connection_age": 0},
        {"held_audio_bytes": -1},
    ],
)
def test_a_policy_out_of_range_is_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="Reconnect"):
        Reconnect(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(("replay_audio_bytes", "replayed"), [(0, 1), (2_880_000, 2)])
async def test_spoken_turns_are_replayed_as_audio_when_the_app_opts_in(
    replay_audio_bytes: int, replayed: int, lazy_clock: trio.testing.MockClock
) -> None:
    """Without input transcription a spoken turn has no transcript: by default the replay
    leaves it out (only the reply goes back); with ``replay_audio_bytes`` the new
    connection gets the turn as the audio the user spoke."""
    options = m.SessionOptions(output_modalities=("text",), turn_detection=m.ServerVad())
    policy = Reconnect(replay_audio_bytes=replay_audio_bytes)
    speech = tone(1.0, 24_000) + bytes(2 * 24_000)
    async with conversation(openai, options, reconnect=policy) as (server, session, inbox):
        await inbox.receive_of(m.SessionUpdated)
        for start in range(0, len(speech), 960):
            await session.send(m.InputAudioBufferAppend(audio=speech[start : start + 960]))
        committed = await inbox.receive_of(m.InputAudioBufferCommitted)
        await inbox.receive_of(m.ResponseDone)
        await server.close_connections(1011)
        reconnected = await inbox.receive_of(m.Reconnected)
        assert reconnected.replayed == replayed
        await session.send(m.ConversationItemRetrieve(item_id=committed.item_id))
        answer = await inbox.receive_of(m.ConversationItemRetrieved | m.Error)  # type: ignore[arg-type]
    if replay_audio_bytes:
        assert isinstance(answer, m.ConversationItemRetrieved)
        assert isinstance(answer.item, m.MessageItem)
        assert isinstance(answer.item.content[0], m.InputAudio)
    else:
        assert isinstance(answer, m.Error)  # not on the new connection


async def test_a_drop_mid_utterance_on_gemini_resends_what_the_handle_does_not_cover(
    lazy_clock: trio.testing.MockClock,
) -> None:
    """Gemini resumes by handle: the handle from before the speech is resumed, and the audio
    frames written after it are sent again, so the turn holds the whole utterance."""
    options = m.SessionOptions(output_modalities=("text",), turn_detection=m.ServerVad())
    speech = tone(1.2, 16_000)
    half = len(speech) // 2
    async with conversation(gemini, options) as (server, session, inbox):
        await inbox.receive_of(m.SessionResumptionUpdate)
        for start in range(0, half, 640):
            await session.send(m.InputAudioBufferAppend(audio=speech[start : start + 640]))
        await inbox.receive_of(m.InputAudioBufferSpeechStarted)
        await server.close_connections(1011, "internal error")
        reconnected = await inbox.receive_of(m.Reconnected)
        assert (reconnected.restored, reconnected.replayed) == (True, 0)
        assert reconnected.resent >= half // 640
        for start in range(half, len(speech), 640):
            await session.send(m.InputAudioBufferAppend(audio=speech[start : start + 640]))
        for _ in range(60):
            await session.send(m.InputAudioBufferAppend(audio=bytes(640)))
        started = await inbox.receive_of(m.InputAudioBufferSpeechStarted)
        stopped = await inbox.receive_of(m.InputAudioBufferSpeechStopped)
        done = await inbox.receive_of(m.ResponseDone)
    assert stopped.audio_end_ms - started.audio_start_ms >= 1200
    assert done.response.status == "completed"
