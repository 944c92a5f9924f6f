"""Telephony: G.711 throughput against CPython's ``audioop`` (the C reference), and the Twilio
bridge's latency with concurrent calls.

**G.711.** Companding and expanding 60 s of 8 kHz speech-like audio with
``rtsession.audio`` (numpy lookup tables) and with ``audioop`` (C, deprecated, removed in
Python 3.13), best of ``reps``; throughput in seconds of audio per second of CPU.

**Bridge.** ``serve_twilio`` against ``rtsession.local`` (protocol-only engines: energy VAD,
tone replies) with ``OpenAIRealtime`` (G.711 straight through), in process over loopback.
``calls`` scripted callers at once, each sending 20 ms ``media`` frames every 20 ms (1 s of
tone, then silence) and playing the reply in real time. Times are ``time.monotonic()``:

- caller -> provider socket: from a caller sending a ``media`` frame to its
  ``InputAudioBufferAppend`` reaching the last stage before the session's writer (frames are
  matched by a call and sequence number written into their first bytes);
- provider socket -> caller: from a reply delta leaving the session's reader (the first
  stage) to its ``media`` frame arriving at the caller.
"""

from __future__ import annotations

import base64
import time
import warnings
from collections import deque
from typing import Any

import numpy as np
import orjson
import trio

from benchmarks._common import Progress, summary

SECONDS = 60
RATE = 8000


def _g711(reps: int) -> dict[str, Any]:
    from rtsession.audio import alaw_to_pcm16, pcm16_to_alaw, pcm16_to_ulaw, ulaw_to_pcm16

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

    rng = np.random.default_rng(7)
    t = np.arange(SECONDS * RATE) / RATE
    pcm = (np.sin(2 * np.pi * 220 * t) * 9000 + rng.normal(0, 800, t.size)).astype("<i2")
    data = pcm.tobytes()
    ulaw, alaw = pcm16_to_ulaw(data), pcm16_to_alaw(data)
    cases = {
        "mu-law encode": (lambda: pcm16_to_ulaw(data), lambda: audioop.lin2ulaw(data, 2)),
        "mu-law decode": (lambda: ulaw_to_pcm16(ulaw), lambda: audioop.ulaw2lin(ulaw, 2)),
        "A-law encode": (lambda: pcm16_to_alaw(data), lambda: audioop.lin2alaw(data, 2)),
        "A-law decode": (lambda: alaw_to_pcm16(alaw), lambda: audioop.alaw2lin(alaw, 2)),
    }
    rows = []
    for name, (ours, reference) in cases.items():
        assert ours() == reference()  # bit-exact, as the tests prove on every input
        best = [min(_timed(f) for _ in range(reps)) for f in (ours, reference)]
        rows.append(
            {
                "case": name,
                "rtsession_x_realtime": SECONDS / best[0],
                "audioop_x_realtime": SECONDS / best[1],
                "ratio": best[0] / best[1],
            }
        )
    return {"seconds_of_audio": SECONDS, "rows": rows}


def _mark(call: int, seq: int) -> bytes:
    """Four quiet mu-law bytes (codes 0xF0-0xFF, within +-120 of zero) that say which call
    and which frame a payload is, without making a silent frame loud for the VAD."""
    return bytes(0xF0 | (value >> shift & 0xF) for value in (call, seq) for shift in (4, 0))


def _unmark(payload: bytes) -> tuple[int, int]:
    nibbles = [byte & 0xF for byte in payload[:4]]
    return nibbles[0] << 4 | nibbles[1], nibbles[2] << 4 | nibbles[3]


def _timed(function: Any) -> float:
    start = time.process_time()
    function()
    return time.process_time() - start


async def _calls(n: int) -> dict[str, Any]:
    import trio_websocket

    from rtsession import messages as m
    from rtsession.audio import pcm16_to_ulaw
    from rtsession.local import open_local_server, protocol_only_engines
    from rtsession.middleware import observe
    from rtsession.providers import OpenAIRealtime
    from rtsession.telephony import TwilioCall, serve_twilio

    sent: dict[tuple[int, int], float] = {}
    in_ms: list[float] = []
    out_ms: list[float] = []
    left_reader: dict[int, tuple[m.ServerMessage, float]] = {}
    per_call: dict[str, deque[float]] = {}

    def to_writer(message: m.ClientMessage) -> None:
        if isinstance(message, m.InputAudioBufferAppend):
            at = sent.pop(_unmark(message.audio), None)
            if at is not None:
                in_ms.append((time.monotonic() - at) * 1000)

    def off_reader(message: m.ServerMessage) -> None:
        if isinstance(message, m.ResponseOutputAudioDelta):
            left_reader[id(message)] = (message, time.monotonic())

    def on_event(call: TwilioCall, event: m.ServerMessage) -> None:
        if isinstance(event, m.ResponseOutputAudioDelta):
            _, at = left_reader.pop(id(event))
            per_call.setdefault(call.call_sid, deque()).append(at)

    wave = (np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE) * 8000).astype("<i2").tobytes()
    tone = pcm16_to_ulaw(wave)  # 1 s: loud enough for the energy VAD
    received: dict[str, list[float]] = {}

    async def caller(url: str, index: int) -> None:
        async with trio_websocket.open_websocket_url(url) as ws, trio.open_nursery() as nursery:
            sid = f"CA{index:04}"
            await ws.send_message(orjson.dumps({"event": "connected", "protocol": "Call"}).decode())
            start = {
                "streamSid": f"MZ{index:04}", "callSid": sid, "accountSid": "AC0",
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            }  # fmt: skip
            await ws.send_message(orjson.dumps({"event": "start", "start": start}).decode())
            replied = trio.Event()

            async def listen() -> None:
                while True:
                    message = orjson.loads(await ws.get_message())
                    if message["event"] == "media":
                        received.setdefault(sid, []).append(time.monotonic())
                        replied.set()

            nursery.start_soon(listen)
            for seq in range(90):  # 1 s of tone, 0.8 s of silence
                body = tone[seq * 160 : seq * 160 + 160] if seq < 50 else b"\xff" * 160
                payload = _mark(index, seq) + body[4:]
                frame = {"event": "media", "media": {"payload": base64.b64encode(payload).decode()}}
                sent[(index, seq)] = time.monotonic()
                await ws.send_message(orjson.dumps(frame).decode())
                await trio.sleep(0.02)
            with trio.fail_after(30):
                await replied.wait()
            await trio.sleep(1.0)  # the rest of the reply
            nursery.cancel_scope.cancel()

    async with (
        open_local_server(engines=protocol_only_engines()) as server,
        trio.open_nursery() as nursery,
    ):
        provider = OpenAIRealtime(base_url=server.base_url, api_key="local")
        options = m.SessionOptions(turn_detection=m.ServerVad(silence_duration_ms=500))
        stages = [observe(on_client=to_writer, on_server=off_reader)]
        bridge = await nursery.start(
            lambda task_status: serve_twilio(
                provider, options, middleware=stages, on_event=on_event, task_status=task_status
            )
        )
        async with trio.open_nursery() as calls:
            for index in range(n):
                calls.start_soon(caller, bridge.url, index)
        nursery.cancel_scope.cancel()
    for sid, times in received.items():  # the k-th media frame is the call's k-th delta
        out_ms += [(got - left) * 1000 for got, left in zip(times, per_call[sid], strict=False)]
    return {
        "calls": n,
        "caller_to_provider_ms": summary(in_ms),
        "provider_to_caller_ms": summary(out_ms),
    }


def run(calls: int, reps: int, progress: Progress) -> dict[str, Any]:
    """G.711 throughput, then ``calls`` concurrent calls through the bridge."""
    result = {"g711": _g711(reps), "bridge": trio.run(_calls, calls)}
    bridge = result["bridge"]
    progress.note(
        f"telephony: {calls} calls, caller -> provider p50 "
        f"{bridge['caller_to_provider_ms']['p50']:.2f} ms, provider -> caller p50 "
        f"{bridge['provider_to_caller_ms']['p50']:.2f} ms"
    )
    return result
