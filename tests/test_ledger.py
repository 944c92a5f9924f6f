"""The provider end's ledger, synchronously: every transition of a connection's state and
every decision, without trio or sockets (as ``local.ServerSession`` is tested)."""

from __future__ import annotations

import pytest

from rtsession import ConnectError, Reconnect, SessionClosedError, messages as m
from rtsession.session._ledger import Ledger, LegState
from rtsession.wire.gemini import GeminiCodec
from rtsession.wire.openai import OpenAICodec


def resume(options: m.SessionOptions, handle: str | None) -> m.SessionOptions:
    gemini = options.gemini or m.GeminiSessionOptions()
    return m.SessionOptions(
        instructions=options.instructions,
        gemini=m.GeminiSessionOptions(
            temperature=gemini.temperature,
            session_resumption=m.SessionResumption(handle=handle),
        ),
    )


def ledger(*, switching: bool = True, resumable: bool = True) -> Ledger:
    return Ledger(
        GeminiCodec(model="m"),
        lambda: 0.0,
        resume=resume if resumable else None,
        reconnect=Reconnect() if switching else None,
    )


def closed(code: int | None = 1011) -> SessionClosedError:
    return SessionClosedError("closed", code=code)


def call_done(call_id: str) -> m.ResponseOutputItemDone:
    item = m.FunctionCallItem(name="f", arguments="{}", call_id=call_id)
    return m.ResponseOutputItemDone(response_id="r", output_index=0, item=item)


def handle(name: str, index: int | None = None) -> m.SessionResumptionUpdate:
    return m.SessionResumptionUpdate(
        handle=name, resumable=True, last_consumed_client_message_index=index
    )


CREATED = m.SessionCreated(session=m.SessionOptions(), session_id="s")
DELTA = m.ResponseOutputTextDelta(
    response_id="r", item_id="i", output_index=0, content_index=0, delta="x"
)


def test_the_first_connection_is_live() -> None:
    book = ledger()
    assert book.current.state is LegState.LIVE
    assert book.current.number == 1
    assert book.ended is None


def test_without_switching_the_first_close_ends_the_session() -> None:
    book = ledger(switching=False)
    book.server(book.current, m.GoAway(time_left_ms=100))
    assert book.closed(book.current, closed(1001))
    assert book.ended is not None
    assert book.ended.code == 1001


def test_a_close_the_policy_does_not_retry_ends_the_session() -> None:
    book = ledger()
    assert book.closed(book.current, closed(1008))
    assert book.current.state is LegState.CLOSED


@pytest.mark.parametrize("code", [1006, 1011, 1012, 1013, None])
def test_a_failure_the_policy_retries_waits_for_a_new_connection(code: int | None) -> None:
    book = ledger()
    leg = book.current
    assert not book.closed(leg, closed(code))
    assert book.ended is None
    assert book.told_to_go(leg)  # the supervisor reconnects from the closed leg


def test_a_failure_the_policy_would_retry_ends_a_session_without_policy() -> None:
    book = ledger(switching=False)
    assert book.closed(book.current, closed(1011))


def test_a_close_after_go_away_waits_for_the_switch() -> None:
    book = ledger()
    leg = book.current
    book.server(leg, m.GoAway(time_left_ms=100))
    assert not book.closed(leg, closed(1001))
    assert book.ended is None
    assert book.told_to_go(leg)  # the supervisor switches from the closed leg


def test_told_to_go_then_no_new_connection_stays_until_the_close() -> None:
    book = ledger()
    leg = book.current
    book.server(leg, m.GoAway(time_left_ms=100))
    assert book.told_to_go(leg)
    assert leg.state is LegState.GOING
    assert not book.no_new_connection(leg, "go_away", closed(1006))
    assert leg.state is LegState.STAYING
    assert book.closed(leg, closed(1001))  # staying: its close is the end
    assert book.ended is not None


def test_at_max_age_without_a_new_connection_it_stays_live() -> None:
    book = ledger()
    leg = book.current
    assert book.told_to_go(leg)
    assert not book.no_new_connection(leg, "max_connection_age", closed(1006))
    assert leg.state is LegState.LIVE


def test_no_new_connection_after_the_old_closed_ends_the_session() -> None:
    book = ledger()
    leg = book.current
    book.server(leg, m.GoAway(time_left_ms=100))
    book.told_to_go(leg)
    book.closed(leg, closed(1001))
    refused = ConnectError("refused", status_code=401)
    assert book.no_new_connection(leg, "go_away", refused)
    assert book.ended is refused  # the last attempt's error, for the app


def test_settled_needs_a_handle_with_nothing_after_it() -> None:
    book = ledger()
    leg = book.current
    assert not book.settled(leg)  # no handle yet
    book.server(leg, handle("h1"))
    assert book.settled(leg)
    book.server(leg, DELTA)
    assert not book.settled(leg)
    book.server(leg, handle("h2"))
    assert book.settled(leg)


def test_open_responses_and_calls_unsettle() -> None:
    book = ledger(resumable=False)
    leg = book.current
    book.server(leg, m.ResponseCreated(response=m.Response(id="r1")))
    assert not book.settled(leg)
    book.server(leg, m.ResponseDone(response=m.Response(id="r1", status="completed")))
    assert book.settled(leg)
    book.server(leg, call_done("c1"))
    assert not book.settled(leg)
    output = m.FunctionCallOutputItem(call_id="c1", output="{}")
    assert book.client(m.ConversationItemCreate(item=output)) is not None
    assert book.settled(leg)


def test_unconsumed_frames_follow_the_consumed_index() -> None:
    book = ledger()
    leg = book.current
    book.wrote(leg, ["setup", "a", "b", "c"])
    book.server(leg, handle("h", index=1))
    assert list(leg.unconsumed) == [(2, "b"), (3, "c")]
    book.server(leg, handle("h2"))  # no index: everything so far is consumed
    assert not leg.unconsumed


def test_a_seamless_cutover_resumes_the_handle_and_resends() -> None:
    book = ledger()
    old = book.current
    book.client(m.SessionUpdate(session=m.SessionOptions(instructions="Be brief.")))
    book.wrote(old, ["setup", "a"])
    book.server(old, CREATED)
    book.server(old, handle("h1", index=0))
    book.server(old, m.GoAway(time_left_ms=1000))
    book.told_to_go(old)
    cutover = book.cut_over(old, GeminiCodec(model="m"), "go_away", ())
    assert old.state is LegState.DRAINING
    assert book.current is cutover.new
    assert cutover.new.state is LegState.OPENING
    assert cutover.handle == "h1"
    assert cutover.resend == ("a",)
    assert cutover.close_out == ()
    assert cutover.setup is not None
    assert cutover.setup.session.instructions == "Be brief."
    assert cutover.setup.session.gemini is not None
    assert cutover.setup.session.gemini.session_resumption == m.SessionResumption(handle="h1")
    # the new connection's SessionCreated becomes the one Reconnected
    reconnected = book.server(cutover.new, CREATED)
    assert isinstance(reconnected, m.Reconnected)
    assert (reconnected.restored, reconnected.seamless, reconnected.connection) == (
        True,
        True,
        2,
    )
    assert cutover.new.state is LegState.LIVE
    book.opened(cutover)
    assert (book.connections, book.resent_client_frames) == (2, 1)
    # what the old connection still sends is dropped and counted
    assert book.server(old, DELTA) is None
    assert book.dropped_server_messages == 1


def test_a_forced_cutover_ends_what_was_open() -> None:
    book = ledger()
    old = book.current
    book.server(old, handle("h1"))
    book.server(old, call_done("covered"))
    book.server(old, handle("h2"))
    book.server(old, call_done("late"))
    book.server(old, m.ResponseCreated(response=m.Response(id="r9")))
    book.server(old, m.GoAway(time_left_ms=0))
    book.closed(old, closed(1001))
    cutover = book.cut_over(old, GeminiCodec(model="m"), "go_away", ())
    assert cutover.handle == "h2"
    cancellation, done = cutover.close_out
    assert cancellation == m.ToolCallCancellation(call_ids=("late",))
    assert isinstance(done, m.ResponseDone)
    assert done.response.status == "incomplete"
    assert done.response.status_details == m.ResponseStatusDetails(
        type="incomplete", reason="reconnected"
    )
    assert cutover.new.calls == {"covered"}
    # the answer to the cancelled call is never written; the covered one is
    late = m.FunctionCallOutputItem(call_id="late", output="{}")
    covered = m.FunctionCallOutputItem(call_id="covered", output="{}")
    assert book.client(m.ConversationItemCreate(item=late)) is None
    assert book.dropped_client_messages == 1
    assert book.client(m.ConversationItemCreate(item=covered)) is not None


def test_a_fresh_cutover_knows_no_call() -> None:
    book = ledger(resumable=False)
    old = book.current
    book.server(old, call_done("c1"))
    book.server(old, m.GoAway(time_left_ms=0))
    book.closed(old, closed(1001))
    cutover = book.cut_over(old, GeminiCodec(model="m"), "go_away", ())
    assert cutover.handle is None
    assert cutover.resend == ()
    assert cutover.setup is None  # never configured, no resumption: nothing to send
    assert cutover.close_out[0] == m.ToolCallCancellation(call_ids=("c1",))


def test_a_new_connection_closing_while_opening_is_not_the_end() -> None:
    book = ledger()
    old = book.current
    book.server(old, handle("h1"))
    book.server(old, m.GoAway(time_left_ms=0))
    book.told_to_go(old)
    first = book.cut_over(old, GeminiCodec(model="m"), "go_away", ())
    assert not book.closed(first.new, closed(1007))  # opening: not the session's end
    book.opening_failed(first)
    assert book.ended is None
    second = book.cut_over(old, GeminiCodec(model="m"), "go_away", (), fresh=True)
    assert second.handle is None
    assert second.new.number == 3


def test_a_new_connection_closing_once_live_ends_the_session() -> None:
    """The zombie the issue found: the new connection is current and closes while the
    switch is still finishing; the session ends at once."""
    book = ledger()
    old = book.current
    book.server(old, handle("h1"))
    book.server(old, m.GoAway(time_left_ms=0))
    book.told_to_go(old)
    cutover = book.cut_over(old, GeminiCodec(model="m"), "go_away", ())
    book.server(cutover.new, CREATED)
    assert book.closed(cutover.new, closed(1008))
    assert book.ended is not None


def test_every_update_is_merged_into_the_next_setup() -> None:
    book = ledger()
    book.client(
        m.SessionUpdate(
            session=m.SessionOptions(
                instructions="x", gemini=m.GeminiSessionOptions(temperature=0.3)
            )
        )
    )
    book.client(
        m.SessionUpdate(session=m.SessionOptions(gemini=m.GeminiSessionOptions(google_search=True)))
    )
    assert book.options == m.SessionOptions(
        instructions="x", gemini=m.GeminiSessionOptions(temperature=0.3, google_search=True)
    )


@pytest.mark.parametrize("state", [LegState.DRAINING, LegState.OPENING])
def test_only_the_current_connection_ends_the_session(state: LegState) -> None:
    book = ledger()
    book.current.state = state
    assert not book.closed(book.current, closed())


# --- reconnection by replay (no resumption handle) ------------------------------------------


def openai_ledger(*, held_audio_bytes: int = 2_880_000, clock: list[float] | None = None) -> Ledger:
    now = clock if clock is not None else [0.0]
    return Ledger(
        OpenAICodec(),
        lambda: now[0],
        resume=None,
        reconnect=Reconnect(held_audio_bytes=held_audio_bytes),
    )


def append(n: int) -> m.InputAudioBufferAppend:
    return m.InputAudioBufferAppend(audio=bytes([n]) * 10)


def test_audio_appended_since_the_last_commit_is_sent_again() -> None:
    book = openai_ledger()
    for n in range(3):
        book.client(append(n))
    book.server(book.current, m.InputAudioBufferCommitted(item_id="u1"))
    held = [append(n) for n in range(3, 6)]
    for message in held:
        book.client(message)
    book.closed(book.current, closed(1011))
    cutover = book.cut_over(book.current, OpenAICodec(), "connection_lost", ())
    assert cutover.then == tuple(held)
    assert cutover.replay == ()


def test_held_audio_is_bounded_oldest_first() -> None:
    book = openai_ledger(held_audio_bytes=25)
    for n in range(4):
        book.client(append(n))
    book.closed(book.current, closed(1011))
    cutover = book.cut_over(book.current, OpenAICodec(), "connection_lost", ())
    assert cutover.then == (append(2), append(3))


@pytest.mark.parametrize(
    "commit",
    [
        m.InputAudioBufferCommit(),
        m.InputAudioBufferClear(),
        m.InputAudioBufferCleared(),
        m.InputAudioBufferSpeechStopped(item_id="u1", audio_end_ms=100),
    ],
)
def test_a_commit_either_way_releases_the_held_audio(commit: m.Message) -> None:
    book = openai_ledger()
    book.client(append(1))
    if isinstance(commit, m.ClientMessage):
        book.client(commit)
    else:
        assert isinstance(commit, m.ServerMessage)
        book.server(book.current, commit)
    book.closed(book.current, closed(1011))
    assert book.cut_over(book.current, OpenAICodec(), "connection_lost", ()).then == ()


def test_a_replay_restores_the_conversation_and_keeps_an_open_call() -> None:
    clock = [10.0]
    book = openai_ledger(clock=clock)
    old = book.current
    book.server(old, CREATED)
    conversation = [
        m.MessageItem(role="user", id="u1", content=(m.InputAudio(transcript="What time is it?"),)),
        m.MessageItem(role="assistant", id="a1", content=(m.OutputAudio(transcript="Noon."),)),
        m.FunctionCallItem(name="f", arguments="{}", call_id="c1", id="f1", status="completed"),
        m.FunctionCallOutputItem(call_id="c1", output="1", id="o1"),
        m.FunctionCallItem(name="f", arguments="{}", call_id="c2", id="f2"),
        m.MessageItem(role="assistant", id="a2", status="in_progress"),
    ]
    book.server(old, call_done("c2"))
    book.server(old, m.ResponseCreated(response=m.Response(id="r2")))
    book.closed(old, closed(1012))
    clock[0] = 10.5
    cutover = book.cut_over(old, OpenAICodec(), "connection_lost", conversation)
    assert [c.item.id for c in cutover.replay] == ["u1", "a1", "f1", "o1", "f2"]
    assert cutover.replay[0].item == m.MessageItem(
        role="user", id="u1", content=(m.InputText(text="What time is it?"),)
    )
    assert cutover.replay[1].item == m.MessageItem(
        role="assistant", id="a1", content=(m.OutputText(text="Noon."),)
    )
    # the open call is replayed, so its answer still goes out; the response ends
    assert cutover.new.calls == {"c2"}
    (done,) = cutover.close_out
    assert isinstance(done, m.ResponseDone)
    assert done.response.status == "incomplete"
    # the server's acknowledgements of replayed items are not delivered again
    echo = m.ConversationItemAdded(item=cutover.replay[0].item)
    assert book.server(cutover.new, echo) is None
    clock[0] = 11.0
    reconnected = book.server(cutover.new, CREATED)
    assert isinstance(reconnected, m.Reconnected)
    assert (reconnected.restored, reconnected.replayed, reconnected.close_code) == (True, 5, 1012)
    assert reconnected.outage_ms == pytest.approx(1000)
    assert reconnected.reason == "connection_lost"


def test_messages_the_old_connection_could_not_take_follow_the_replay() -> None:
    book = openai_ledger()
    text = m.ConversationItemCreate(
        item=m.MessageItem(role="user", content=(m.InputText(text="hi"),))
    )
    book.closed(book.current, closed(1011))
    book.unsent(book.client(append(1)) or append(1))
    book.unsent(text)
    book.unsent(m.SessionUpdate(session=m.SessionOptions(instructions="x")))  # in the setup
    cutover = book.cut_over(book.current, OpenAICodec(), "connection_lost", ())
    assert cutover.then == (append(1), text)
    book.opened(cutover)
    assert book.resent_client_frames == 2


def test_a_replay_leaves_out_what_the_provider_cannot_carry() -> None:
    book = ledger(resumable=False)
    conversation = [
        m.MessageItem(role="user", id="u1", content=(m.InputText(text="hi"),)),
        m.FunctionCallItem(name="f", arguments="{}", call_id="c1", id="f1"),
        m.FunctionCallOutputItem(call_id="c1", output="1", id="o1"),
    ]
    book.closed(book.current, closed(1011))
    cutover = book.cut_over(book.current, GeminiCodec(model="m"), "connection_lost", conversation)
    # Gemini Live takes no item id, and no function call item (so its output is left out)
    assert [c.item for c in cutover.replay] == [
        m.MessageItem(role="user", content=(m.InputText(text="hi"),))
    ]


def test_opted_in_user_audio_is_replayed_as_audio_within_its_bound() -> None:
    book = Ledger(
        OpenAICodec(),
        lambda: 0.0,
        resume=None,
        reconnect=Reconnect(replay_audio_bytes=25),
    )
    for turn in ("u1", "u2"):
        book.client(append(1))
        book.client(append(2))
        book.server(book.current, m.InputAudioBufferCommitted(item_id=turn))
    spoken = [
        m.MessageItem(role="user", id=turn, content=(m.InputAudio(transcript=f"said {turn}"),))
        for turn in ("u1", "u2")
    ]
    book.closed(book.current, closed(1011))
    cutover = book.cut_over(book.current, OpenAICodec(), "connection_lost", spoken)
    first, second = (c.item for c in cutover.replay)
    # u1 fell out of the 25-byte bound: its transcript; u2 (20 bytes) is kept as audio
    assert first == m.MessageItem(role="user", id="u1", content=(m.InputText(text="said u1"),))
    assert second == m.MessageItem(
        role="user",
        id="u2",
        content=(m.InputAudio(audio=bytes([1]) * 10 + bytes([2]) * 10, transcript="said u2"),),
    )
