"""Outage: what a dropped connection costs an OpenAI session with ``reconnect=Reconnect()``.

In process, against ``rtsession.local`` (protocol-only engines: energy VAD) over real
loopback sockets, ``OpenAIRealtime`` (GA) with server VAD and text replies.

**Drops under speech.** The app speaks in real time: utterances of 1.0 s of a 440 Hz tone
then 0.8 s of silence, as 20 ms appends of 24 kHz PCM16 paced every 20 ms; the server's VAD
commits each one and the server replies. ``n`` times, 0.5 s into an utterance, the server
closes every connection (1011, no notice). Per drop:

- ``outage_ms``: as the app sees it, from the server's close to ``Reconnected`` (the first
  event from the new connection). The server sends nothing while the user speaks, so the
  last event from the old connection can be up to a second older than the drop: the drop is
  the start that measures the outage, not the quiet before it. And ``Reconnected.outage_ms``,
  the session's own figure (loss seen to the new connection's answer).
- audio frames lost: the utterance the drop cut, as the server's VAD on the new connection
  measured it (``SpeechStopped.audio_end_ms - SpeechStarted.audio_start_ms``), against the
  median of the undisturbed utterances; the shortfall in 20 ms frames (about 25 per drop
  would be lost without the held input audio). Measured at the server, by its VAD.

**Replay throughput.** A conversation of ``k`` user text items (``conversation.item.create``),
a drop, and at once a user turn with ``ResponseCreate``: the time from the drop to that
response's ``ResponseCreated`` (the server reads the replayed items first). Items replayed per
second = the extra items over the extra time, between the smallest and the largest ``k``.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

import trio

from benchmarks._common import Progress, summary

RATE = 24_000
FRAME_MS = 20
FRAME = RATE * FRAME_MS // 1000
SPEECH_FRAMES = 50
"""1.0 s of tone per utterance."""
SILENCE_FRAMES = 40
"""0.8 s of silence after it (the VAD's 500 ms end of speech, and room for the reply)."""
DROP_AT_FRAME = 25
"""The drop comes 0.5 s into an utterance."""
REPLAY_REPS = 3


def _tone_frame(index: int) -> bytes:
    """20 ms of a 440 Hz sine at 24 kHz, continuing frame ``index`` of an utterance."""
    start = index * FRAME
    samples = (round(8000 * math.sin(2 * math.pi * 440 * (start + i) / RATE)) for i in range(FRAME))
    return b"".join(s.to_bytes(2, "little", signed=True) for s in samples)


async def _drops(n: int) -> dict[str, Any]:
    from rtsession import OpenAIRealtime, Reconnect, messages as m, open_session
    from rtsession.local import open_local_server, protocol_only_engines

    tone = [_tone_frame(i) for i in range(SPEECH_FRAMES)]
    silence = bytes(FRAME * 2)
    options = m.SessionOptions(output_modalities=("text",), turn_detection=m.ServerVad())
    lengths: list[float] = []  # each utterance as the server's VAD measured it, ms
    cut: list[int] = []  # indices into lengths of the utterances a drop cut
    app_outage: list[float] = []
    session_outage: list[float] = []
    replayed: list[int] = []
    resent: list[int] = []
    sent = 0
    dropped_at = 0.0
    async with open_local_server(engines=protocol_only_engines()) as server:
        provider = OpenAIRealtime(base_url=server.base_url, api_key="local")
        async with (
            open_session(provider, options, reconnect=Reconnect()) as session,
            trio.open_nursery() as nursery,
        ):
            updated = trio.Event()
            reconnected = trio.Event()

            async def read() -> None:
                nonlocal reconnected
                started_ms: float | None = None
                after_drop = False
                async for event in session:
                    now = time.monotonic()
                    if isinstance(event, m.SessionUpdated):
                        updated.set()
                    elif isinstance(event, m.Reconnected):
                        app_outage.append((now - dropped_at) * 1000)
                        session_outage.append(event.outage_ms)
                        replayed.append(event.replayed)
                        resent.append(event.resent)
                        after_drop = True
                        reconnected.set()
                        reconnected = trio.Event()
                    elif isinstance(event, m.InputAudioBufferSpeechStarted):
                        started_ms = event.audio_start_ms
                    elif (
                        isinstance(event, m.InputAudioBufferSpeechStopped)
                        and started_ms is not None
                    ):
                        if after_drop:
                            cut.append(len(lengths))
                            after_drop = False
                        lengths.append(event.audio_end_ms - started_ms)
                        started_ms = None

            nursery.start_soon(read)
            await updated.wait()
            deadline = trio.current_time()
            drops = 0
            utterance = 0
            while drops < n:
                for index in range(SPEECH_FRAMES):
                    if index == DROP_AT_FRAME and utterance >= 2 and utterance % 2 == 0:
                        waiting = reconnected
                        dropped_at = time.monotonic()
                        await server.close_connections(1011, "benchmark drop")
                        drops += 1
                        with trio.fail_after(15):
                            await waiting.wait()
                    await session.send(m.InputAudioBufferAppend(audio=tone[index]))
                    sent += 1
                    deadline += FRAME_MS / 1000
                    await trio.sleep_until(deadline)
                for _ in range(SILENCE_FRAMES):
                    await session.send(m.InputAudioBufferAppend(audio=silence))
                    sent += 1
                    deadline += FRAME_MS / 1000
                    await trio.sleep_until(deadline)
                utterance += 1
            await trio.sleep(0.5)
            nursery.cancel_scope.cancel()
            statistics_ = session.statistics()
    undisturbed = [length for i, length in enumerate(lengths) if i not in cut]
    normal = statistics.median(undisturbed)
    lost = [max(0, round((normal - lengths[i]) / FRAME_MS)) for i in cut]
    return {
        "drops": len(app_outage),
        "connections": statistics_.connections,
        "outage_app_ms": summary(app_outage),
        "outage_session_ms": summary(session_outage),
        "replayed_per_drop": summary([float(r) for r in replayed]),
        "resent_per_drop": summary([float(r) for r in resent]),
        "utterance_ms_undisturbed": summary(undisturbed),
        "utterance_ms_cut": summary([lengths[i] for i in cut]),
        "audio_frames_lost": sum(lost),
        "audio_frames_lost_per_drop": lost,
        "audio_frames_at_risk_per_drop": DROP_AT_FRAME,
        "appends_sent": sent,
    }


async def _restore(k: int) -> float:
    """Seconds from a drop to the ``ResponseCreated`` of a turn sent right after it, with a
    conversation of ``k`` items to replay."""
    from rtsession import OpenAIRealtime, Reconnect, messages as m, open_session
    from rtsession.local import open_local_server, protocol_only_engines

    options = m.SessionOptions(output_modalities=("text",), turn_detection=m.DISABLED)
    async with open_local_server(engines=protocol_only_engines()) as server:
        provider = OpenAIRealtime(base_url=server.base_url, api_key="local")
        async with open_session(provider, options, reconnect=Reconnect()) as session:
            for i in range(k):
                text = m.InputText(text=f"Note number {i}: the meeting moved to Thursday.")
                item = m.MessageItem(role="user", content=(text,))
                await session.send(m.ConversationItemCreate(item=item))
            done = 0
            async for event in session:
                if isinstance(event, m.ConversationItemDone):
                    done += 1
                if done == k:
                    break
            await server.close_connections(1011, "benchmark drop")
            dropped = time.monotonic()
            async for event in session:
                if isinstance(event, m.Reconnected):
                    question = m.InputText(text="What did I note?")
                    item = m.MessageItem(role="user", content=(question,))
                    await session.send(m.ConversationItemCreate(item=item))
                    await session.send(m.ResponseCreate())
                elif isinstance(event, m.ResponseCreated):
                    return time.monotonic() - dropped
    raise RuntimeError("the session ended before the reply")


async def _replay(sizes: tuple[int, ...]) -> dict[str, Any]:
    rows = []
    for k in sizes:
        times = [await _restore(k) for _ in range(REPLAY_REPS)]
        rows.append({"items": k, "restore_ms": statistics.median(times) * 1000})
    first, last = rows[0], rows[-1]
    extra_s = (last["restore_ms"] - first["restore_ms"]) / 1000
    rate = (last["items"] - first["items"]) / extra_s if extra_s > 0 else None
    return {"rows": rows, "items_per_s": rate}


def run(*, n: int, replay_sizes: tuple[int, ...], progress: Progress) -> dict[str, Any]:
    result = trio.run(_drops, n)
    result["replay"] = trio.run(_replay, replay_sizes)
    rate = result["replay"]["items_per_s"]
    progress.note(
        f"outage: {result['drops']} drops, outage p50 {result['outage_app_ms']['p50']:.1f} ms "
        f"(p99 {result['outage_app_ms']['p99']:.1f}), audio frames lost "
        f"{result['audio_frames_lost']}, replay "
        + ("n/a" if rate is None else f"{rate:,.0f} items/s")
    )
    return result
