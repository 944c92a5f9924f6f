"""The provider end under faults of a switch, through ``open_session``: each failure the
"One provider end" issue found, against the in-memory Gemini Live script
(``_gemini_script.py``) under trio's ``MockClock``.

The socket-side faults (reset, FIN, close codes, silent peer, ping during close,
cancellation while connecting) are in ``test_faults.py``.
"""

from __future__ import annotations

import trio
import trio.testing

from _gemini_script import App, GeminiScript, Link, marker, switching, vertex
from rtsession import Reconnect, SessionClosedError, messages as m
from rtsession.middleware import FunctionInvocation, ToolInvocationCompleted
from rtsession.session import FLUSH_TIMEOUT, open_session
from rtsession.transport import CLOSE_TIMEOUT


async def forced_switch_after_call(
    server: GeminiScript, app: App, name: str = "get_weather", *, covered: bool = False
) -> None:
    """The first connection calls ``name`` (after a handle, or before the latest one when
    ``covered``), says goAway and drops out a second later: a forced switch."""
    first = server.links[0]
    await app.until(m.SessionResumptionUpdate)
    first.tool_call("call-1", name=name, city="Oslo")
    await app.until(m.ResponseOutputItemDone)
    if covered:
        first.update()
        await app.until(m.SessionResumptionUpdate, 2)
    first.go_away(1_000)
    await trio.sleep(1)
    first.close()
    await app.until(m.Reconnected)


class HeldTool:
    """A tool that answers only once the test sets :attr:`release`."""

    def __init__(self) -> None:
        self.release = trio.Event()

    async def slow_weather(self, city: str) -> str:
        """The weather in a city, slowly."""
        await self.release.wait()
        return "rain"


def tool_responses(link: Link) -> list[str]:
    """The call ids of every ``toolResponse`` a connection received."""
    return [
        response["id"]
        for frame in link.frames
        if "toolResponse" in frame
        for response in frame["toolResponse"]["functionResponses"]
    ]


async def test_a_call_the_new_connection_does_not_know_is_cancelled_not_answered(
    autojump_clock: trio.abc.Clock,
) -> None:
    """The handle predates the call; the old connection is gone before the tool answers.
    The new connection (resumed from that handle) must never receive the answer, or the
    service closes it (1007): the call is cancelled for the app instead, and the session
    goes on."""
    server = GeminiScript()
    tool = HeldTool()
    async with switching(server, middleware=[FunctionInvocation([tool.slow_weather])]) as (s, app):
        await forced_switch_after_call(server, app, "slow_weather")
        tool.release.set()
        await app.until(ToolInvocationCompleted)
        done = len(app.of(m.ResponseDone))
        await s.send(m.ResponseCreate())  # the session is alive on the new connection
        await app.until(m.ResponseDone, done + 1)
    assert tool_responses(server.links[1]) == []
    (cancellation,) = app.of(m.ToolCallCancellation)
    assert cancellation.call_ids == ("call-1",)
    assert app.of(ToolInvocationCompleted)[0].outcome == "cancelled"
    assert app.error is None
    assert s.statistics().dropped_client_messages == 0  # FunctionInvocation sent nothing


async def test_a_call_the_handle_covers_is_answered_on_the_new_connection(
    autojump_clock: trio.abc.Clock,
) -> None:
    server = GeminiScript()
    tool = HeldTool()
    async with switching(server, middleware=[FunctionInvocation([tool.slow_weather])]) as (_s, app):
        await forced_switch_after_call(server, app, "slow_weather", covered=True)
        tool.release.set()
        await app.until(ToolInvocationCompleted)
        await trio.testing.wait_all_tasks_blocked()
    assert tool_responses(server.links[1]) == ["call-1"]
    assert not app.of(m.ToolCallCancellation)
    assert app.of(ToolInvocationCompleted)[0].outcome == "succeeded"


async def test_an_app_answer_to_a_cancelled_call_is_dropped_and_counted(
    autojump_clock: trio.abc.Clock,
) -> None:
    """The app answers a call itself, after the switch cancelled it: the answer never
    reaches the new connection."""
    server = GeminiScript()
    async with switching(server) as (s, app):
        await forced_switch_after_call(server, app)
        output = m.FunctionCallOutputItem(call_id="call-1", output='"rain"')
        await s.send(m.ConversationItemCreate(item=output))
        done = len(app.of(m.ResponseDone))
        await s.send(m.ResponseCreate())
        await app.until(m.ResponseDone, done + 1)
    assert tool_responses(server.links[1]) == []
    assert s.statistics().dropped_client_messages == 1
    assert app.of(m.ToolCallCancellation)[0].call_ids == ("call-1",)


async def test_a_new_connection_that_closes_during_the_switch_ends_the_session(
    autojump_clock: trio.abc.Clock,
) -> None:
    """No zombie: the new connection closes right after answering its setup (while the
    switch is still re-sending), the old one is gone, and the policy's one attempt is
    spent (a connection that fails at once does not earn a fresh set): iteration raises,
    sends raise, nothing is accepted any more."""
    server = GeminiScript(close_after_setup=2)
    async with open_session(
        vertex(), m.SessionOptions(), transport=server, reconnect=Reconnect(attempts=1)
    ) as s:
        app = App(s)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(app.run)
            first = server.links[0]
            await app.until(m.SessionResumptionUpdate)
            for i in range(5):
                await s.send(m.InputAudioBufferAppend(audio=marker(i)))
            first.go_away(1_000)
            with trio.fail_after(30):
                await app.ended.wait()
        accepted = 0
        for i in range(100):
            try:
                await s.send(m.InputAudioBufferAppend(audio=marker(i)))
            except SessionClosedError:
                break
            accepted += 1
    assert app.error is not None
    assert app.error.code == 1011
    assert accepted == 0
    assert s.close_reason is not None
    assert s.close_reason.code == 1011


async def test_sends_block_during_a_switch(autojump_clock: trio.abc.Clock) -> None:
    """The new connection takes 8 s to answer its setup: meanwhile the app's sends wait
    (bounded channels), instead of piling up in memory."""
    server = GeminiScript(setup_delay=8)
    accepted: list[float] = []
    async with switching(server) as (s, app):
        await app.until(m.SessionResumptionUpdate)

        async def produce() -> None:
            i = 0
            while True:
                await s.send(m.InputAudioBufferAppend(audio=marker(i)))
                accepted.append(trio.current_time())
                i += 1
                await trio.sleep(0.02)  # a 20 ms microphone

        server.links[0].go_away(20_000)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(produce)
            await app.until(m.Reconnected)
            switched = trio.current_time()
            nursery.cancel_scope.cancel()
    during = [t for t in accepted if switched - 8 < t < switched]
    assert len(during) <= 3  # a 20 ms mic would have offered 400
    assert s.statistics().connections == 2


async def test_every_option_in_force_reaches_the_new_connection(
    autojump_clock: trio.abc.Clock,
) -> None:
    server = GeminiScript()
    compression = m.ContextWindowCompression(trigger_tokens=1000, target_tokens=500)
    options = m.SessionOptions(
        instructions="Be brief.",
        gemini=m.GeminiSessionOptions(temperature=0.3, context_window_compression=compression),
    )
    async with switching(server, options) as (s, app):
        await app.until(m.SessionResumptionUpdate)
        await s.update(m.SessionOptions(gemini=m.GeminiSessionOptions(google_search=True)))
        await trio.testing.wait_all_tasks_blocked()
        server.links[0].go_away(5_000)
        await app.until(m.Reconnected)
    setup = server.links[1].frames[0]["setup"]
    assert setup["generationConfig"]["temperature"] == 0.3
    assert setup["contextWindowCompression"] == {
        "triggerTokens": 1000,
        "slidingWindow": {"targetTokens": 500},
    }
    assert {"googleSearch": {}} in setup["tools"]
    assert setup["systemInstruction"]["parts"] == [{"text": "Be brief."}]


async def test_closing_during_a_switch_stays_within_the_bound(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Two connections open (the switch waits for the old one to settle), neither answers
    our close: both are closed at once, so leaving takes one close bound, not two."""
    server = GeminiScript(answer_close=False)
    async with open_session(
        vertex(), m.SessionOptions(), transport=server, reconnect=Reconnect()
    ) as s:
        app = App(s)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(app.run)
            first = server.links[0]
            await app.until(m.SessionResumptionUpdate)
            first.say({"serverContent": {"modelTurn": {"parts": [{"text": "Hel"}]}}})
            first.go_away(60_000)  # the reply keeps the old connection busy
            await app.until(m.GoAway)
            await trio.testing.wait_all_tasks_blocked()
            assert len(server.links) == 2
            nursery.cancel_scope.cancel()
        leaving = trio.current_time()
    took = trio.current_time() - leaving
    assert took <= FLUSH_TIMEOUT + CLOSE_TIMEOUT
    assert took < 2 * CLOSE_TIMEOUT


async def test_a_go_away_during_a_switch_is_followed_by_another_switch(
    autojump_clock: trio.abc.Clock,
) -> None:
    server = GeminiScript()
    async with switching(server) as (s, app):
        await app.until(m.SessionResumptionUpdate)
        server.links[0].go_away(5_000)
        await app.until(m.Reconnected)
        server.links[1].go_away(5_000)  # at once, on the new connection
        await app.until(m.Reconnected, 2)
        await s.send(m.ResponseCreate())
        await app.until(m.ResponseDone)
    assert [r.connection for r in app.of(m.Reconnected)] == [2, 3]
    assert app.error is None


async def test_a_refused_new_connection_then_the_old_ones_end_raises(
    autojump_clock: trio.abc.Clock,
) -> None:
    server = GeminiScript()
    async with switching(server) as (s, app):
        await app.until(m.SessionResumptionUpdate)
        server.reachable = False
        server.links[0].go_away(2_000)
        await trio.sleep(2)
        server.links[0].close(1001)
        await app.ended.wait()
    # every attempt of the policy failed: the last attempt's error ends the session
    assert app.refused is not None
    assert str(app.refused) == "unreachable"
    assert s.statistics().connections == 1
    assert len(server.links) == 1


async def test_repeated_go_aways_with_tools_and_streaming_audio_lose_no_audio(
    autojump_clock: trio.abc.Clock,
) -> None:
    """40 s of 20 ms audio while the server, nine times, gives a handle, calls a slow tool,
    says goAway and drops the connection a second later, before the tool answers: each
    switch is forced and the call is newer than the handle. Every chunk reaches a
    connection (the unfixed end sent the tool's answer to the new connection, which closed
    it, and left most chunks nowhere), the session never dies, and each goAway gives one
    Reconnected."""
    server = GeminiScript()

    async def lookup(city: str) -> str:
        """Look a city up."""
        await trio.sleep(1.5)
        return city

    async def misbehave() -> None:
        for round_ in range(9):
            await trio.sleep(3)
            link = server.links[-1]
            link.update()
            link.tool_call(f"call-{round_}", name="lookup", city="Oslo")
            link.go_away(1_000)
            await trio.sleep(1)
            link.close(1001)

    async with (
        switching(server, middleware=[FunctionInvocation([lookup])]) as (s, app),
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(misbehave)
        for i in range(2000):
            await s.send(m.InputAudioBufferAppend(audio=marker(i)))
            await trio.sleep(0.02)
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    reached = {chunk for link in server.links for chunk in link.audio()}
    assert reached == set(range(2000))
    assert app.error is None
    assert len(app.of(m.Reconnected)) == 9
    assert len(app.of(m.ToolCallCancellation)) == 9
    assert not any(tool_responses(link) for link in server.links)
