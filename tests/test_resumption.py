"""Session resumption (``open_session(..., reconnect=Reconnect())``): make-before-break switches on
``GoAway`` and at ``max_connection_age``, against an in-memory Gemini Live server.

The server here is a script, not a model: it answers the ``setup`` (``setupComplete``, then a
``sessionResumptionUpdate`` when asked), a completed ``clientContent`` turn (a text reply
and an update), records every client frame of every connection with its index, and lets the
test send any frame (``goAway``, an update, a ``toolCall``) or close a connection. Being in
memory (``_gemini_script.py``), it runs under trio's ``MockClock``, so the age and deadline
tests take no wall time. ``test_local_gemini.py`` runs the same switch
against ``rtsession.local`` over real sockets.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from _gemini_script import GeminiScript, gemini_api, stream, switching, vertex
from rtsession import Reconnect, SessionClosedError, messages as m
from rtsession.middleware import FunctionInvocation, ToolInvocationCompleted
from rtsession.session import open_session


async def test_a_go_away_switch_loses_and_repeats_no_client_audio_and_no_server_event() -> None:
    server = GeminiScript()
    with trio.fail_after(10):
        async with switching(server) as (s, app):
            first = server.links[0]
            await stream(s, 0, 40)
            await trio.testing.wait_all_tasks_blocked()
            first.update()  # the state holds frames 0..k: setup and audio 0..39
            consumed = len(first.frames) - 1
            await stream(s, 40, 60)  # reach the first connection, not consumed
            first.go_away(10_000)
            first.late = [{"serverContent": {"modelTurn": {"parts": [{"text": "stale"}]}}}]
            await stream(s, 60, 100)  # before, during and after the switch
            await app.until(m.Reconnected)
            await trio.testing.wait_all_tasks_blocked()
            second = server.links[1]
        statistics = s.statistics()
    assert len(server.links) == 2
    assert len(first.audio()) > len(first.audio(consumed))  # the first got frames it dropped
    assert first.audio(consumed) + second.audio() == list(range(100))
    assert second.frames[0]["setup"]["sessionResumption"] == {
        "handle": f"handle-1-{consumed + 1}",
        "transparent": True,
    }
    (reconnected,) = app.of(m.Reconnected)
    assert reconnected.restored
    assert reconnected.seamless
    assert reconnected.reason == "go_away"
    assert reconnected.connection == 2
    assert reconnected.resent == statistics.resent_client_frames > 0
    assert len(app.of(m.SessionCreated)) == 1  # the second connection's became Reconnected
    assert not app.of(m.ResponseOutputTextDelta)  # the stale reply was dropped
    assert statistics.connections == 2
    assert statistics.dropped_server_messages > 0
    handles = [u.handle for u in app.of(m.SessionResumptionUpdate)]
    assert len(handles) == len(set(handles)) == 3  # each update once: setup, k, new setup


async def test_without_indices_the_frames_after_the_handle_are_sent_again() -> None:
    server = GeminiScript()
    with trio.fail_after(10):
        async with switching(server, provider=gemini_api()) as (s, app):
            first = server.links[0]
            await stream(s, 0, 30)
            await trio.testing.wait_all_tasks_blocked()
            first.update()
            consumed = len(first.frames) - 1
            await app.until(m.SessionResumptionUpdate, 2)  # the handle has arrived
            await stream(s, 30, 50)
            first.go_away(10_000)
            await stream(s, 50, 80)
            await app.until(m.Reconnected)
            await trio.testing.wait_all_tasks_blocked()
            second = server.links[1]
    assert "transparent" not in second.frames[0]["setup"]["sessionResumption"]
    assert first.audio(consumed) + second.audio() == list(range(80))


async def test_max_connection_age_switches_at_the_age(autojump_clock: trio.abc.Clock) -> None:
    server = GeminiScript()
    async with switching(server, reconnect=Reconnect(max_connection_age=60)) as (_s, app):
        await app.until(m.Reconnected)
        switched_at = trio.current_time()
        await app.until(m.Reconnected, 2)
    first, second = app.of(m.Reconnected)
    assert 60 <= switched_at < 61
    assert (first.reason, first.restored, first.seamless) == ("max_connection_age", True, True)
    assert second.connection == 3
    assert len(server.links) == 3


async def test_without_a_new_connection_the_session_stays(autojump_clock: trio.abc.Clock) -> None:
    """At max age it tries again one age later; after a GoAway it ends with the old one."""
    server = GeminiScript()
    async with switching(server, reconnect=Reconnect(max_connection_age=60)) as (s, app):
        server.reachable = False
        await trio.sleep(90)
        assert not app.of(m.Reconnected)
        server.reachable = True
        await app.until(m.Reconnected)
        # one age after the attempts at 60 s ended (their backoff took a few seconds)
        assert 120 < trio.current_time() < 125
        server.reachable = False
        server.links[-1].go_away(1_000)
        await trio.sleep(5)
        server.links[-1].close(1001)
        await app.ended.wait()
        with pytest.raises(SessionClosedError) as error:
            await s.send(m.ResponseCreate())
    assert error.value.code == 1001
    assert len(app.of(m.Reconnected)) == 1
    assert len(server.links) == 2


async def test_a_switch_waits_for_the_turn_in_progress_to_end() -> None:
    server = GeminiScript()
    with trio.fail_after(10):
        async with switching(server) as (_s, app):
            first = server.links[0]
            await app.until(m.SessionResumptionUpdate)
            first.say({"serverContent": {"modelTurn": {"parts": [{"text": "Hel"}]}}})
            first.go_away(10_000)
            await app.until(m.GoAway)
            await trio.testing.wait_all_tasks_blocked()
            assert len(server.links) == 2  # dialed at once
            assert not app.of(m.Reconnected)  # but the reply is still coming on the first
            first.say({"serverContent": {"modelTurn": {"parts": [{"text": "lo"}]}}})
            first.say({"serverContent": {"turnComplete": True}})
            first.update()
            await app.until(m.Reconnected)
    assert "".join(d.delta for d in app.of(m.ResponseOutputTextDelta)) == "Hello"
    (done,) = app.of(m.ResponseDone)
    assert done.response.status == "completed"
    assert app.of(m.Reconnected)[0].seamless
    assert app.received.index(done) < app.received.index(app.of(m.Reconnected)[0])


async def test_ids_go_on_across_a_switch() -> None:
    server = GeminiScript()
    with trio.fail_after(10):
        async with switching(server) as (s, app):
            await s.send(m.ResponseCreate())
            await app.until(m.ResponseDone)
            server.links[0].go_away(10_000)
            await app.until(m.Reconnected)
            await s.send(m.ResponseCreate())
            await app.until(m.ResponseDone, 2)
    assert [d.response.id for d in app.of(m.ResponseDone)] == ["resp_1", "resp_2"]
    items = [e.item.id for e in app.of(m.ResponseOutputItemAdded)]
    assert len(items) == len(set(items)) == 2


async def test_without_a_handle_the_session_starts_afresh(autojump_clock: trio.abc.Clock) -> None:
    server = GeminiScript(updates=False)
    async with switching(server) as (_s, app):
        await app.until(m.SessionCreated)
        server.links[0].go_away(5_000)
        await app.until(m.Reconnected)
        waited = trio.current_time()
    (reconnected,) = app.of(m.Reconnected)
    assert (reconnected.restored, reconnected.seamless) == (False, False)
    assert 5 <= waited < 6  # it waited for a handle until the server's deadline
    assert "handle" not in server.links[1].frames[0]["setup"]["sessionResumption"]


async def test_a_refused_handle_falls_back_to_a_fresh_session() -> None:
    server = GeminiScript(refuse_handles=True)
    with trio.fail_after(10):
        async with switching(server) as (_s, app):
            await app.until(m.SessionResumptionUpdate)
            server.links[0].go_away(10_000)
            await app.until(m.Reconnected)
    (reconnected,) = app.of(m.Reconnected)
    assert not reconnected.restored
    assert reconnected.connection == 2
    assert [len(link.frames) for link in server.links] == [1, 1, 1]  # three setups
    assert "handle" in server.links[1].frames[0]["setup"]["sessionResumption"]
    assert "handle" not in server.links[2].frames[0]["setup"]["sessionResumption"]


async def test_a_forced_switch_cancels_what_the_old_connection_left_open(
    autojump_clock: trio.abc.Clock,
) -> None:
    """The connection ends mid-tool-call (no resumable handle since): the session resumes with
    the handle from before, so the call is void (ToolCallCancellation: the middleware cancels
    the running tool) and so is the response in progress (ResponseDone, incomplete)."""
    started = trio.Event()

    async def get_weather(city: str) -> str:
        """The weather in a city."""
        started.set()
        await trio.sleep_forever()
        raise AssertionError("cancelled before")

    server = GeminiScript()
    invocation = FunctionInvocation([get_weather])
    async with switching(server, middleware=[invocation]) as (_s, app):
        first = server.links[0]
        await app.until(m.SessionResumptionUpdate)
        call = {"id": "call-1", "name": "get_weather", "args": {"city": "Paris"}}
        first.say({"toolCall": {"functionCalls": [call]}})
        first.update(resumable=False)  # mid-tool-call
        await started.wait()
        first.say({"serverContent": {"modelTurn": {"parts": [{"text": "Let me"}]}}})
        first.go_away(2_000)
        await trio.sleep(2)
        first.close()  # the deadline: the server drops the connection
        await app.until(m.Reconnected)
        await app.until(ToolInvocationCompleted)
    (reconnected,) = app.of(m.Reconnected)
    assert (reconnected.restored, reconnected.seamless) == (True, False)
    (cancellation,) = app.of(m.ToolCallCancellation)
    assert cancellation.call_ids == ("call-1",)
    (completed,) = app.of(ToolInvocationCompleted)
    assert completed.outcome == "cancelled"
    done = app.of(m.ResponseDone)
    assert [d.response.status for d in done] == ["completed", "incomplete"]
    assert done[1].response.status_details == m.ResponseStatusDetails(
        type="incomplete", reason="reconnected"
    )
    order = [app.received.index(x) for x in (cancellation, done[1], reconnected)]
    assert order == sorted(order)
    # resumed with the last resumable handle, from before the call
    resumed = server.links[1].frames[0]["setup"]["sessionResumption"]["handle"]
    assert resumed == app.of(m.SessionResumptionUpdate)[0].handle


async def test_the_session_ends_when_a_connection_closes_with_a_code_not_retried() -> None:
    server = GeminiScript()
    with trio.fail_after(10):
        async with open_session(
            vertex(), m.SessionOptions(), transport=server, reconnect=Reconnect()
        ) as s:
            server.links[0].close(1008)
            with pytest.raises(SessionClosedError) as iterating:
                async for _ in s:
                    pass
            with pytest.raises(SessionClosedError) as error:
                await s.send(m.ResponseCreate())
    assert iterating.value.code == error.value.code == 1008
    assert len(server.links) == 1


async def test_the_first_setup_asks_for_handles_and_keeps_the_apps_own() -> None:
    server = GeminiScript()
    own = m.GeminiSessionOptions(session_resumption=m.SessionResumption(handle="earlier"))
    with trio.fail_after(10):
        async with open_session(
            vertex(), m.SessionOptions(), transport=server, reconnect=Reconnect()
        ):
            pass
        async with open_session(
            vertex(), m.SessionOptions(gemini=own), transport=server, reconnect=Reconnect()
        ):
            pass
    first, second = (link.frames[0]["setup"]["sessionResumption"] for link in server.links)
    assert first == {"transparent": True}
    assert second == {"handle": "earlier"}


async def test_a_connection_lost_without_notice_resumes_by_handle(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A close the policy retries (1011, no GoAway) no longer ends a Gemini session: it
    resumes with the latest handle on a new connection, and the app learns why."""
    server = GeminiScript()
    async with switching(server) as (_s, app):
        await app.until(m.SessionResumptionUpdate)
        server.links[0].close(1011)
        await app.until(m.Reconnected)
    (reconnected,) = app.of(m.Reconnected)
    assert (reconnected.reason, reconnected.close_code) == ("connection_lost", 1011)
    assert (reconnected.restored, reconnected.replayed) == (True, 0)
    assert "handle" in server.links[1].frames[0]["setup"]["sessionResumption"]
    assert app.error is None


async def test_without_a_valid_handle_the_conversation_is_replayed_as_client_content(
    autojump_clock: trio.abc.Clock,
) -> None:
    """The service refuses the handle (expired): the fresh session gets the conversation
    as it stood, the model's reply included, as ``clientContent`` turns that do not ask
    for a reply."""
    server = GeminiScript(refuse_handles=True)
    async with switching(server) as (s, app):
        await app.until(m.SessionResumptionUpdate)
        await s.send(m.ResponseCreate())
        await app.until(m.ResponseDone)
        server.links[0].close(1011)
        await app.until(m.Reconnected)
    (reconnected,) = app.of(m.Reconnected)
    assert reconnected.restored
    assert reconnected.replayed == 1
    fresh = server.links[2]
    assert "handle" not in fresh.frames[0]["setup"]["sessionResumption"]
    assert fresh.frames[1] == {
        "clientContent": {
            "turns": [{"role": "model", "parts": [{"text": "reply"}]}],
            "turnComplete": False,
        }
    }
