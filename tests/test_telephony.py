"""The Twilio Media Streams bridge, called by a scripted caller that speaks Twilio's protocol
as its documentation gives it (https://www.twilio.com/docs/voice/media-streams/websocket-messages):
``connected``, ``start``, ``media`` (base64 mu-law, 20 ms), ``dtmf``, ``stop`` and ``mark``
echoes, and a playback clock that plays the bridge's ``media`` in real time, sends each
``mark`` back once the audio before it has played, and on ``clear`` drops what is unplayed
(sending its marks back, as Twilio does). Against rtsession.local, offline."""

from __future__ import annotations

import base64
import logging
import os
import signal
import subprocess
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import orjson
import pytest
import trio
import trio_websocket

from _speech import tone as speech_tone
from rtsession import messages as m
from rtsession.audio import pcm16_to_ulaw, read_wav, resample, sample
from rtsession.cli._demo import get_weather
from rtsession.local import LocalServer, open_local_server, protocol_only_engines
from rtsession.local._engines import EspeakNgTTS
from rtsession.middleware import FunctionInvocation, ToolInvocationCompleted
from rtsession.providers import GeminiLive, OpenAIRealtime
from rtsession.telephony import TwilioBridge, TwilioCall, serve_twilio, twiml

pytestmark = pytest.mark.slow

SILENCE = b"\xff" * 160  # 20 ms of mu-law silence
OPTIONS = m.SessionOptions(
    input_transcription=m.InputTranscription(language="en"),
    turn_detection=m.ServerVad(silence_duration_ms=500, create_response=True),
)
# The messages the bridge may send, with exactly these keys (Twilio's "Send a media / mark /
# clear message" sections).
OUTBOUND_KEYS = {
    "media": {"event", "streamSid", "media"},
    "mark": {"event", "streamSid", "mark"},
    "clear": {"event", "streamSid"},
}


def speech(clip: str, trailing_ms: int = 1200) -> bytes:
    pcm, rate = read_wav(sample(clip))  # type: ignore[arg-type]
    return pcm16_to_ulaw(resample(pcm, rate, 8000) + bytes(16 * trailing_ms))


@attrs.define
class Caller:
    """Twilio's side of one call."""

    ws: trio_websocket.WebSocketConnection
    stream_sid: str
    sequence: int = 0
    chunk: int = 0
    queue: deque[tuple[str, Any]] = attrs.Factory(deque)  # ("media", bytes) | ("mark", name)
    heard: bytearray = attrs.Factory(bytearray)
    marks_sent_back: list[str] = attrs.Factory(list)
    heard_at_mark: dict[str, int] = attrs.Factory(dict)  # mark -> bytes played before it
    clears: list[int] = attrs.Factory(list)  # bytes heard when each clear came
    frames: list[dict[str, Any]] = attrs.Factory(list)
    queued: trio.Event = attrs.Factory(trio.Event)
    changed: trio.Event = attrs.Factory(trio.Event)

    def _progress(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    async def until(self, condition: Callable[[], bool], seconds: float = 30) -> None:
        """Wait until the caller's playback makes ``condition`` true."""
        with trio.fail_after(seconds):
            while not condition():
                await self.changed.wait()

    async def send(self, event: str, **fields: Any) -> None:
        self.sequence += 1
        message = {"event": event, "sequenceNumber": str(self.sequence), **fields}
        if event != "connected":
            message["streamSid"] = self.stream_sid
        await self.ws.send_message(orjson.dumps(message).decode())

    async def start(self, call_sid: str) -> None:
        await self.ws.send_message(
            orjson.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}).decode()
        )
        await self.send(
            "start",
            start={
                "streamSid": self.stream_sid,
                "accountSid": "AC" + "0" * 32,
                "callSid": call_sid,
                "tracks": ["inbound"],
                "customParameters": {"caller": "+15550100"},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        )

    def marks_sent(self) -> list[str]:
        """The names of the marks the bridge sent, in order."""
        return [f["mark"]["name"] for f in self.frames if f["event"] == "mark"]

    async def speak(self, mulaw: bytes) -> None:
        """In 20 ms chunks, as fast as the socket takes them (the server VAD needs no pacing)."""
        for offset in range(0, len(mulaw), 160):
            self.chunk += 1
            await self.send(
                "media",
                media={
                    "track": "inbound",
                    "chunk": str(self.chunk),
                    "timestamp": str(self.chunk * 20),
                    "payload": base64.b64encode(mulaw[offset : offset + 160]).decode(),
                },
            )

    async def listen(self) -> None:
        """Read the bridge's frames: queue media and marks, obey clear."""
        async for frame in _messages(self.ws):
            message = orjson.loads(frame)
            self.frames.append(message)
            event = message["event"]
            assert set(message) == OUTBOUND_KEYS[event], message
            assert message["streamSid"] == self.stream_sid
            if event == "media":
                assert set(message["media"]) == {"payload"}
                self.queue.append(("media", base64.b64decode(message["media"]["payload"])))
            elif event == "mark":
                assert set(message["mark"]) == {"name"}
                self.queue.append(("mark", message["mark"]["name"]))
            else:  # clear: drop what is unplayed; its marks come back at once
                self.clears.append(len(self.heard))
                dropped = [item for kind, item in self.queue if kind == "mark"]
                self.queue.clear()
                for name in dropped:
                    await self.send("mark", mark={"name": name})
            self.queued.set()

    async def play(self) -> None:
        """Twilio's playback clock: media in real time (20 ms steps), marks sent back in order."""
        while True:
            while not self.queue:
                self.queued = trio.Event()
                await self.queued.wait()
            kind, item = self.queue.popleft()
            if kind == "mark":
                self.marks_sent_back.append(item)
                self.heard_at_mark[item] = len(self.heard)
                await self.send("mark", mark={"name": item})
                self._progress()
                continue
            for offset in range(0, len(item), 160):
                await trio.sleep(0.02)
                self.heard += item[offset : offset + 160]
                self._progress()


async def _messages(ws: trio_websocket.WebSocketConnection) -> AsyncIterator[str | bytes]:
    while True:
        try:
            yield await ws.get_message()
        except trio_websocket.ConnectionClosed:
            return


async def read_to_the_end(ws: trio_websocket.WebSocketConnection) -> None:
    while True:
        await ws.get_message()


@attrs.define
class Bridge:
    info: TwilioBridge
    server: LocalServer | None = None
    events: list[tuple[TwilioCall, m.ServerMessage]] = attrs.Factory(list)
    changed: trio.Event = attrs.Factory(trio.Event)

    def on_event(self, call: TwilioCall, event: m.ServerMessage) -> None:
        self.events.append((call, event))
        self.changed.set()
        self.changed = trio.Event()

    def of(self, call_sid: str, kind: type[Any]) -> list[Any]:
        return [e for c, e in self.events if c.call_sid == call_sid and isinstance(e, kind)]

    async def wait_for(self, call_sid: str, kind: type[Any], count: int = 1) -> list[Any]:
        with trio.fail_after(30):
            while len(self.of(call_sid, kind)) < count:
                await self.changed.wait()
        return self.of(call_sid, kind)


@asynccontextmanager
async def running_bridge(gemini: bool = False, real_speech: bool = True) -> AsyncIterator[Bridge]:
    engines = None if real_speech else protocol_only_engines()
    async with open_local_server(engines=engines) as server, trio.open_nursery() as nursery:
        provider = (
            GeminiLive(base_url=server.url, api_key="local")
            if gemini
            else OpenAIRealtime(base_url=server.base_url, api_key="local")
        )
        holder: list[Bridge] = []
        info = await nursery.start(
            lambda task_status: serve_twilio(
                provider,
                OPTIONS,
                middleware=[FunctionInvocation([get_weather])],
                on_event=lambda call, event: holder[0].on_event(call, event),
                task_status=task_status,
            )
        )
        bridge = Bridge(info, server)
        holder.append(bridge)
        yield bridge
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def calling(bridge: Bridge, call_sid: str) -> AsyncIterator[Caller]:
    async with (
        trio_websocket.open_websocket_url(bridge.info.url) as ws,
        trio.open_nursery() as nursery,
    ):
        caller = Caller(ws, stream_sid="MZ" + call_sid[2:])
        await caller.start(call_sid)
        nursery.start_soon(caller.listen)
        nursery.start_soon(caller.play)
        yield caller
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("gemini", [False, True], ids=["openai-g711", "gemini-pcm"])
async def test_a_call_is_heard_answered_with_a_tool_and_played(gemini: bool) -> None:
    async with running_bridge(gemini) as bridge, calling(bridge, "CA1") as caller:
        await caller.speak(speech("weather-question"))
        (done,) = await bridge.wait_for("CA1", m.ResponseOutputAudioTranscriptDone)
        await caller.until(lambda: caller.marks_sent_back == caller.marks_sent())  # all played
    said = bridge.of("CA1", m.ConversationItemInputAudioTranscriptionCompleted)
    assert (
        len(
            {"what", "the", "weather", "in", "paris", "today"}
            & set(said[0].transcript.lower().rstrip(".").split())
        )
        >= 4
    )
    (tool,) = bridge.of("CA1", ToolInvocationCompleted)
    assert (tool.name, tool.outcome) == ("get_weather", "succeeded")
    assert done.transcript == "It is sunny and 21 degrees in Paris."
    expected_ms = len(EspeakNgTTS().synthesize(done.transcript, 8000)) / 16
    if not gemini:  # G.711 straight through: the caller hears the server's speech exactly
        assert bytes(caller.heard) == pcm16_to_ulaw(EspeakNgTTS().synthesize(done.transcript, 8000))
    assert abs(len(caller.heard) / 8 - expected_ms) < 60
    names = caller.marks_sent()
    assert names == caller.marks_sent_back  # every mark came back, in the order sent
    assert [int(n.rsplit("-", 1)[1]) for n in names] == sorted(
        int(n.rsplit("-", 1)[1]) for n in names
    )


async def test_talking_over_the_reply_clears_twilio_and_truncates_at_the_last_mark() -> None:
    async with running_bridge() as bridge, calling(bridge, "CA2") as caller:
        await caller.speak(speech("weather-question"))
        await caller.until(lambda: len(caller.heard) >= 8 * 700)  # 0.7 s of the reply played
        await caller.speak(speech("jfk", trailing_ms=0)[: 8 * 2000])
        (cut,) = await bridge.wait_for("CA2", m.PlaybackInterrupted)
        (truncated,) = await bridge.wait_for("CA2", m.ConversationItemTruncated)
    assert caller.clears, "no clear reached the caller"
    heard_before_clear = caller.clears[0]
    last_mark = max(
        (at for name, at in caller.heard_at_mark.items() if at <= heard_before_clear), default=0
    )
    # the truncation point is the audio before the last mark played: what the caller heard,
    # to within one reply chunk (the marks' granularity)
    assert cut.audio_end_ms == truncated.audio_end_ms
    assert abs(cut.audio_end_ms - last_mark / 8) <= 1
    assert heard_before_clear / 8 - cut.audio_end_ms <= 60
    assert cut.audio_end_ms < cut.audio_ms


async def test_dtmf_reaches_the_app_and_bad_frames_do_not_end_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "rtsession.telephony")
    async with (
        running_bridge(real_speech=False) as bridge,
        trio_websocket.open_websocket_url(bridge.info.url) as ws,
    ):
        early = Caller(ws, "MZ3")
        await early.send("media", media={"payload": base64.b64encode(SILENCE).decode()})
        await early.start("CA3")
        await ws.send_message("{not json")
        await early.send("hello")
        await early.send("media", media={"payload": "!!!!"})
        await early.send("dtmf", dtmf={"track": "inbound_track", "digit": "5"})
        (key,) = await bridge.wait_for("CA3", m.InputAudioBufferDtmfEventReceived)
        await early.send("stop", stop={"accountSid": "AC0", "callSid": "CA3"})
    assert key.event == "5"
    warnings = " | ".join(r.getMessage() for r in caplog.records)
    assert "a media message before start was dropped" in warnings
    assert "not JSON" in warnings
    assert "unknown event 'hello'" in warnings
    assert "media.payload is not base64" in warnings


async def test_a_caller_hanging_up_mid_reply_ends_the_session_cleanly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "rtsession.telephony")
    async with running_bridge() as bridge:
        async with calling(bridge, "CA4") as caller:
            await caller.speak(speech("weather-question"))
            await caller.until(lambda: bool(caller.heard))
            await caller.send("stop", stop={"accountSid": "AC0", "callSid": "CA4"})
        with trio.fail_after(10):
            while "call CA4 ended: the caller hung up" not in caplog.text:  # noqa: ASYNC110 - a log line
                await trio.sleep(0.05)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_twenty_calls_at_once_each_get_their_answer() -> None:
    tone = pcm16_to_ulaw(speech_tone(1.0, 8000))  # 1 s at 8 kHz, loud for the energy VAD
    async with running_bridge(real_speech=False) as bridge:

        async def one(index: int) -> None:
            async with calling(bridge, f"CA1{index:02}") as caller:
                await caller.speak(tone + SILENCE * 60)
                await bridge.wait_for(f"CA1{index:02}", m.ResponseDone)
                await caller.until(lambda: bool(caller.heard))

        async with trio.open_nursery() as nursery:
            for index in range(20):
                nursery.start_soon(one, index)
    calls = {call.call_sid for call, event in bridge.events if isinstance(event, m.ResponseDone)}
    assert len(calls) == 20


def test_twiml_connects_a_number_to_the_bridge() -> None:
    assert twiml("wss://example.com/twilio?a=1&b=2") == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Response><Connect><Stream url="wss://example.com/twilio?a=1&amp;b=2" />'
        "</Connect></Response>"
    )


async def test_rtsession_phone_prints_twiml_logs_a_call_and_leaves_on_ctrl_c() -> None:
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "rtsession.cli", "phone", "--port", "0",
         "--public-url", "wss://agent.example.com/twilio"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stdout is not None
    output = ""

    async def read_until(text: str) -> None:
        nonlocal output
        with trio.fail_after(60):
            while text not in output:
                chunk = await process.stdout.receive_some()  # type: ignore[union-attr]
                assert chunk, output
                output += chunk.decode()

    try:
        await read_until("</Response>")
        url = output.split("bridge listening on ", 1)[1].split()[0]
        bridge = Bridge(TwilioBridge("127.0.0.1", int(url.rsplit(":", 1)[1])))
        async with calling(bridge, "CA9") as caller:
            await caller.speak(speech("weather-question"))
            await read_until("[CA9] assistant:")
            await caller.send("dtmf", dtmf={"track": "inbound_track", "digit": "#"})
            await read_until("[CA9]   [key] #")
            await caller.send("stop", stop={"accountSid": "AC0", "callSid": "CA9"})
        await read_until("call CA9 ended: the caller hung up")
        process.send_signal(signal.SIGINT)
        with trio.fail_after(20):
            await process.wait()
        await read_until("bye")
    finally:
        process.kill()
    assert process.returncode == 0, output
    assert '<Connect><Stream url="wss://agent.example.com/twilio" /></Connect>' in output
    assert "call CA9 started (stream MZ9)" in output
    assert "[CA9] you: " in output
    assert "[CA9]   [tool] get_weather -> " in output
    assert "[CA9] assistant: It is sunny and 21 degrees in Paris." in output


async def test_a_provider_failure_ends_the_call_with_a_logged_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "rtsession.telephony")
    async with (
        running_bridge(real_speech=False) as bridge,
        trio_websocket.open_websocket_url(bridge.info.url) as ws,
    ):
        caller = Caller(ws, "MZ5")
        await caller.start("CA5")
        await caller.speak(SILENCE * 5)
        assert bridge.server is not None
        await bridge.wait_for("CA5", m.SessionCreated)
        assert await bridge.server.close_connections(1011, "provider outage") == 1
        with trio.fail_after(10), pytest.raises(trio_websocket.ConnectionClosed) as closed:
            await read_to_the_end(ws)
        # trio-websocket 0.12's client never closes its socket after the server closed the
        # connection (it waits for the TCP close, then leaves the socket open); close it here
        await ws._stream.aclose()
    assert closed.value.reason is not None
    assert closed.value.reason.code == 1011
    assert "call CA5: the session failed" in caplog.text
    assert "call CA5 ended: the session failed" in caplog.text


async def test_a_broken_call_does_not_disturb_another() -> None:
    tone = pcm16_to_ulaw(speech_tone(1.0, 8000))  # 1 s at 8 kHz, loud for the energy VAD
    async with running_bridge(real_speech=False) as bridge, calling(bridge, "CA6") as good:
        async with trio_websocket.open_websocket_url(bridge.info.url) as ws:
            broken = Caller(ws, "MZ7")
            await broken.start("CA7")
            await ws.send_message(b"\x00\xff binary garbage")
            await broken.send("start", start={"streamSid": 5})
            await broken.speak(tone[:800])
        # the broken caller vanished mid-call without a stop (its socket closed)
        await good.speak(tone + SILENCE * 60)
        await bridge.wait_for("CA6", m.ResponseDone)
        await good.until(lambda: bool(good.heard))
