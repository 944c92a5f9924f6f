"""The provider end's ledger, synchronously: every transition of a connection's state and
every decision, without trio or sockets (as ``local.ServerSession`` is tested)."""

from __future__ import annotations

import pytest

from rtsession import SessionClosedError, messages as m
from rtsession.session._ledger import Ledger, LegState
from rtsession.wire.gemini import GeminiCodec


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
        GeminiCodec(model="m"), 0.0, resume=resume if resumable else None, switching=switching
    )


def closed(code: int = 1011) -> SessionClosedError:
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


def test_a_close_without_notice_ends_the_session() -> None:
    book = ledger()
    assert book.closed(book.current, closed())
    assert book.current.state is LegState.CLOSED


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
    assert not book.no_new_connection(leg, "go_away")
    assert leg.state is LegState.STAYING
    assert book.closed(leg, closed(1001))  # staying: its close is the end
    assert book.ended is not None


def test_at_max_age_without_a_new_connection_it_stays_live() -> None:
    book = ledger()
    leg = book.current
    assert book.told_to_go(leg)
    assert not book.no_new_connection(leg, "max_connection_age")
    assert leg.state is LegState.LIVE


def test_no_new_connection_after_the_old_closed_ends_the_session() -> None:
    book = ledger()
    leg = book.current
    book.server(leg, m.GoAway(time_left_ms=100))
    book.told_to_go(leg)
    book.closed(leg, closed(1001))
    assert book.no_new_connection(leg, "go_away")
    assert book.ended is not None
    assert book.ended.code == 1001


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
    cutover = book.cut_over(old, GeminiCodec(model="m"), 1.0, "go_away")
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
    cutover = book.cut_over(old, GeminiCodec(model="m"), 1.0, "go_away")
    assert cutover.handle == "h2"
    cancellation, done = cutover.close_out
    assert cancellation == m.ToolCallCancellation(call_ids=("late",))
    assert isinstance(done, m.ResponseDone)
    assert done.response.status == "cancelled"
    assert done.response.status_details == m.ResponseStatusDetails(
        type="cancelled", reason="reconnected"
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
    cutover = book.cut_over(old, GeminiCodec(model="m"), 1.0, "go_away")
    assert cutover.handle is None
    assert cutover.resend == ()
    assert cutover.setup is None  # never configured, no resumption: nothing to send
    assert cutover.close_out[0] == m.ToolCallCancellation(call_ids=("c1",))


def test_a_new_connection_closing_while_opening_falls_back_then_ends() -> None:
    book = ledger()
    old = book.current
    book.server(old, handle("h1"))
    book.server(old, m.GoAway(time_left_ms=0))
    book.told_to_go(old)
    first = book.cut_over(old, GeminiCodec(model="m"), 1.0, "go_away")
    assert not book.closed(first.new, closed(1007))  # opening: not the session's end
    book.opening_failed(first)
    assert book.next_step(first)  # it resumed a handle: try a fresh session
    second = book.cut_over(old, GeminiCodec(model="m"), 2.0, "go_away", fresh=True)
    assert second.handle is None
    assert second.new.number == 3
    book.closed(second.new, closed(1011))
    book.opening_failed(second)
    assert not book.next_step(second)
    assert book.ended is not None
    assert book.ended.code == 1011


def test_a_new_connection_closing_once_live_ends_the_session() -> None:
    """The zombie the issue found: the new connection is current and closes while the
    switch is still finishing; the session ends at once."""
    book = ledger()
    old = book.current
    book.server(old, handle("h1"))
    book.server(old, m.GoAway(time_left_ms=0))
    book.told_to_go(old)
    cutover = book.cut_over(old, GeminiCodec(model="m"), 1.0, "go_away")
    book.server(cutover.new, CREATED)
    assert book.closed(cutover.new, closed(1011))
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
