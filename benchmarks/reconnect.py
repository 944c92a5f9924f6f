"""Reconnect: what a Gemini make-before-break switch (``reconnect=Reconnect()``) costs the app.

In process, against ``rtsession.local`` (protocol-only engines) over real loopback sockets:
``GeminiLive`` with ``open_session(..., reconnect=Reconnect())``. The app appends 20 ms of 16 kHz
PCM16 (the Gemini input format) every 20 ms and keeps the server talking: every 100 ms it
sends a user text turn and ``ResponseCreate``, and the server streams the reply (about 50
audio deltas, a ToneTTS tone). The local server writes a reply as fast as it can, not at
realtime, and ignores a request while it answers, so server events come in bursts at least
every 100 ms.

A control phase (no switch) marks ``n`` instants 1.5 s apart; then ``n`` times, 1.5 s apart,
``server.send_go_away(5000)``. Per switch:

- ``gap``: the longest interval between consecutive server events the app sees from the
  ``GoAway`` to 500 ms after ``Reconnected``; ``baseline gap``: the same statistic over a
  window of the same length from each control instant.
- ``go_away_to_reconnected``: from the app seeing ``GoAway`` to it seeing ``Reconnected`` (the
  switch waits for the reply in progress to end: Gemini gives handles between turns).
- ``resent`` / ``dropped``: ``Session.statistics()`` deltas per switch.
- audio frames lost: each append carries its sequence number in its first sample; a
  transport wrapper reads the numbers back from the frames written to every connection's
  socket. The local server exposes no received-frame count, so "lost" is counted at the
  client's sockets (appends sent by the app that no connection carried), not at the server.
"""

from __future__ import annotations

import base64
import itertools
import json
import struct
import time
from typing import Any

import trio

from benchmarks._common import Progress, summary

RATE = 16000
FRAME_MS = 20
SAMPLES = RATE * FRAME_MS // 1000
PERIOD = 1.5
"""Seconds between control marks and between go-aways."""
TAIL = 0.5
"""Seconds after ``Reconnected`` the gap window goes on."""
TIME_LEFT_MS = 5000
ASK_PERIOD = 0.1
"""Seconds between the app's requests for a reply (the local server writes a reply as fast
as it can, not at realtime, and ignores a request while it answers)."""


class _CountingConnection:
    """Passes frames through and records the sequence number of each audio frame written."""

    def __init__(self, inner: Any, written: list[int]) -> None:
        self._inner = inner
        self._written = written

    async def send(self, frame: str | bytes) -> None:
        await self._inner.send(frame)
        if isinstance(frame, str) and '"realtimeInput"' in frame:
            audio = json.loads(frame)["realtimeInput"].get("audio")
            if audio is not None:
                pcm = base64.b64decode(audio["data"])
                for offset in range(0, len(pcm) - 1, SAMPLES * 2):
                    (seq,) = struct.unpack_from("<h", pcm, offset)
                    self._written.append(seq)

    async def receive(self) -> str | bytes:
        return await self._inner.receive()  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CountingTransport:
    def __init__(self) -> None:
        from rtsession.transport import TrioWebsocketTransport

        self._inner = TrioWebsocketTransport()
        self.written: list[int] = []

    async def connect(self, nursery: trio.Nursery, request: Any) -> _CountingConnection:
        return _CountingConnection(await self._inner.connect(nursery, request), self.written)


def _pcm(seq: int) -> bytes:
    """20 ms of near silence whose first sample is ``seq`` (1..32767)."""
    return struct.pack("<h", seq) + bytes(2 * (SAMPLES - 1))


def _max_interval(times: list[float], start: float, end: float) -> float:
    """The longest interval between consecutive event times whose later one is in
    ``(start, end]`` (the interval running into the window counts)."""
    best = 0.0
    for before, after in itertools.pairwise(times):
        if start < after <= end:
            best = max(best, after - before)
    # the window may end in silence: count the silence up to its end
    last = max((t for t in times if t <= end), default=start)
    return max(best, end - last) if last >= start else max(best, end - start)


async def _run(n: int) -> dict[str, Any]:
    from rtsession import GeminiLive, Reconnect, messages as m, open_session
    from rtsession.local import open_local_server, protocol_only_engines

    transport = _CountingTransport()
    options = m.SessionOptions(
        output_modalities=("audio",),
        input_audio_format=m.AudioFormat(type="audio/pcm", rate=RATE),
    )
    times: list[float] = []
    go_aways: list[float] = []
    reconnects: list[float] = []
    per_switch: list[dict[str, int]] = []
    switched = [trio.Event() for _ in range(n + 1)]
    sent = 0
    async with open_local_server(engines=protocol_only_engines()) as server:
        provider = GeminiLive(base_url=server.url, api_key="local")
        async with (
            open_session(provider, options, reconnect=Reconnect(), transport=transport) as session,
            trio.open_nursery() as nursery,
        ):

            async def talk() -> None:
                nonlocal sent
                deadline = trio.current_time()
                while True:
                    sent += 1
                    await session.send(m.InputAudioBufferAppend(audio=_pcm(sent)))
                    deadline += FRAME_MS / 1000
                    await trio.sleep_until(deadline)

            async def ask() -> None:
                await session.send(
                    m.ConversationItemCreate(
                        item=m.MessageItem(role="user", content=(m.InputText(text="hello"),))
                    )
                )
                await session.send(m.ResponseCreate())

            previous = session.statistics()

            async def ask_every(period: float) -> None:
                deadline = trio.current_time()
                while True:
                    await ask()
                    deadline += period
                    await trio.sleep_until(deadline)

            async def read() -> None:
                nonlocal previous
                async for event in session:
                    now = time.monotonic()
                    times.append(now)
                    if isinstance(event, m.SessionCreated):
                        nursery.start_soon(talk)
                        nursery.start_soon(ask_every, ASK_PERIOD)
                    elif isinstance(event, m.GoAway):
                        go_aways.append(now)
                    elif isinstance(event, m.Reconnected):
                        reconnects.append(now)
                        switched[min(len(reconnects), n) - 1].set()
                        stats = session.statistics()
                        per_switch.append(
                            {
                                "resent": stats.resent_client_frames
                                - previous.resent_client_frames,
                                "dropped": stats.dropped_server_messages
                                - previous.dropped_server_messages,
                                "seamless": int(event.seamless),
                                "restored": int(event.restored),
                            }
                        )
                        previous = stats

            nursery.start_soon(read)
            await trio.sleep(1.0)  # warm up: the first reply is under way
            marks: list[float] = []
            for _ in range(n):
                await trio.sleep(PERIOD)
                marks.append(time.monotonic())
            for i in range(n):
                await trio.sleep(PERIOD)
                await server.send_go_away(TIME_LEFT_MS)
                with trio.fail_after(TIME_LEFT_MS / 1000 + 10):
                    await switched[i].wait()
            await trio.sleep(TAIL + 0.2)  # the last window, and the last appends on the wire
            nursery.cancel_scope.cancel()
            sent_total = sent
            statistics = session.statistics()
    written = transport.written
    unique = set(written)
    lost = len(set(range(1, sent_total + 1)) - unique)
    switch_gap, base_gap, to_reconnected = [], [], []
    for i, (go, rec) in enumerate(zip(go_aways, reconnects, strict=False)):
        end = rec + TAIL
        switch_gap.append(_max_interval(times, go, end) * 1000)
        mark = marks[i]
        base_gap.append(_max_interval(times, mark, mark + (end - go)) * 1000)
        to_reconnected.append((rec - go) * 1000)
    return {
        "switches": len(reconnects),
        "go_aways_seen": len(go_aways),
        "connections": statistics.connections,
        "gap_ms": summary(switch_gap),
        "baseline_gap_ms": summary(base_gap),
        "go_away_to_reconnected_ms": summary(to_reconnected),
        "resent_per_switch": summary([float(s["resent"]) for s in per_switch]),
        "dropped_per_switch": summary([float(s["dropped"]) for s in per_switch]),
        "seamless": sum(s["seamless"] for s in per_switch),
        "restored": sum(s["restored"] for s in per_switch),
        "resent_total": statistics.resent_client_frames,
        "dropped_total": statistics.dropped_server_messages,
        "appends_sent": sent_total,
        "audio_frames_written": len(written),
        "audio_frames_unique": len(unique),
        "audio_frames_lost": lost,
        "audio_lost_counted_at": "client sockets (the local server exposes no count)",
        "server_events": len(times),
    }


def run(*, n: int, progress: Progress) -> dict[str, Any]:
    result = trio.run(_run, n)
    result["n"] = n
    progress.note(
        f"reconnect: {result['switches']} switches, gap p50 "
        f"{result['gap_ms']['p50']:.1f} ms (baseline {result['baseline_gap_ms']['p50']:.1f}), "
        f"GoAway -> Reconnected p50 {result['go_away_to_reconnected_ms']['p50']:.1f} ms, "
        f"audio lost {result['audio_frames_lost']}"
    )
    return result
