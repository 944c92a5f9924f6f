"""Voice: a voice agent on a real sound server, as ``rtsession talk`` runs it.

In process: PipeWire in user mode with null sinks (started here, as the device tests do,
``tests/_sound.py``), ``open_microphone`` and ``open_speaker`` through PortAudio and ALSA,
``rtsession.local`` with its real speech engines, ``OpenAIRealtime`` with
``[BargeIn(speaker), FunctionInvocation([get_weather])]`` and server VAD (500 ms). Each round
plays the spoken weather question into the virtual microphone, lets the reply play for
0.5 s, then plays 1.5 s of speech over it. Times are ``time.monotonic()``:

- ``mic_to_writer_ms``: a microphone frame from PortAudio's callback to the WebSocket writer
  (an ``observe()`` stage after the others: fused, its callback runs in the writer as it
  takes the frame); frames are matched in order (no overruns, checked).
- ``speech_end_to_speaker_ms``: from the server's ``speech_stopped`` arriving to the first
  reply audio reaching the speaker (the playback tracker's first position, which includes
  the device latency PortAudio reports), polled every 2 ms.
- ``barge_in_ms``: from the server's ``speech_started`` arriving (seen by a stage behind
  ``BargeIn``) to the speaker silent: until ``PlaybackInterrupted`` reaches the app, plus
  the audio the device still played after the flush (``audio_end_ms`` minus the position at
  ``speech_started``).
"""

from __future__ import annotations

import collections
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import trio
from tests._sound import SoundServer, start_sound_server

from benchmarks._common import Progress, summary

CUT_MS = 1500


async def _rounds(n: int, sound: SoundServer, interrupting: Path) -> dict[str, Any]:
    from rtsession import messages as m
    from rtsession.audio import Microphone, open_microphone, open_speaker, sample
    from rtsession.cli._demo import get_weather
    from rtsession.cli._providers import rates
    from rtsession.cli._talk import converse, options
    from rtsession.local import open_local_server
    from rtsession.middleware import BargeIn, FunctionInvocation, observe
    from rtsession.providers import OpenAIRealtime
    from rtsession.session import open_session

    captured: collections.deque[float] = collections.deque()
    mic_ms: list[float] = []
    end_to_speaker: list[float] = []
    barge_in: list[float] = []
    marks: dict[str, float] = {}
    audio = rates("local")

    marks["open"] = float("inf")
    callback = Microphone._callback

    def stamped(self: Microphone, *args: Any) -> None:  # PortAudio's thread: the frame exists
        captured.append(time.monotonic())
        callback(self, *args)

    Microphone._callback = stamped  # type: ignore[method-assign]
    async with (
        open_speaker(audio.output) as speaker,
        open_microphone(audio.input) as microphone,
    ):
        Microphone._callback = callback  # type: ignore[method-assign]

        def to_writer(message: m.ClientMessage) -> None:
            if isinstance(message, m.InputAudioBufferAppend) and captured:
                at = captured.popleft()
                if at >= marks["open"]:  # not the frames that waited for the session to open
                    mic_ms.append((time.monotonic() - at) * 1000)

        def from_provider(message: m.ServerMessage) -> None:
            if isinstance(message, m.InputAudioBufferSpeechStarted):
                marks["started"] = time.monotonic()
                current = speaker.tracker.current
                marks["played_at_start"] = 0.0 if current is None else current.played_ms

        reply_started = trio.Event()
        interrupted: list[m.PlaybackInterrupted] = []
        turn_done = trio.Event()

        def on_event(event: m.ServerMessage) -> None:
            nonlocal reply_started, turn_done
            if isinstance(event, m.InputAudioBufferSpeechStopped):
                marks["stopped"] = time.monotonic()
            elif isinstance(event, m.ResponseOutputAudioDelta):
                reply_started.set()
                items.append(event.item_id)
            elif isinstance(event, m.PlaybackInterrupted):
                barge_in.append(
                    (time.monotonic() - marks["started"]) * 1000
                    + event.audio_end_ms
                    - marks["played_at_start"]
                )
                interrupted.append(event)
            elif isinstance(event, m.ResponseDone) and interrupted:
                turn_done.set()

        items: list[str] = []
        stages = [
            BargeIn(speaker),
            FunctionInvocation([get_weather]),
            observe(on_client=to_writer, on_server=from_provider),
        ]
        async with (
            open_local_server() as server,
            open_session(
                OpenAIRealtime(base_url=server.base_url, api_key="local"),
                options(audio),
                middleware=stages,
            ) as session,
            trio.open_nursery() as nursery,
        ):
            marks["open"] = time.monotonic()
            nursery.start_soon(converse, session, microphone, speaker, on_event)
            for _ in range(n):
                reply_started, turn_done = trio.Event(), trio.Event()
                interrupted.clear()
                items.clear()
                marks.pop("stopped", None)
                sound.play_into_microphone(sample("weather-question"))
                with trio.fail_after(30):
                    await reply_started.wait()
                    stopped = marks["stopped"]
                    while speaker.tracker.played_ms(items[0]) <= 0:  # noqa: ASYNC110 - the device thread
                        await trio.sleep(0.002)
                    end_to_speaker.append((time.monotonic() - stopped) * 1000)
                    while speaker.tracker.played_ms(items[0]) < 500:  # noqa: ASYNC110
                        await trio.sleep(0.01)
                    sound.play_into_microphone(interrupting)
                    await turn_done.wait()
                    await trio.sleep(1.0)
            nursery.cancel_scope.cancel()
        sound.stop_players()
    return {
        "rounds": n,
        "mic_to_writer_ms": summary(mic_ms),
        "speech_end_to_speaker_ms": summary(end_to_speaker),
        "barge_in_ms": summary(barge_in),
        "microphone_overruns": microphone.overruns,
        "speaker_gaps": speaker.underruns,
    }


def run(n: int, progress: Progress) -> dict[str, Any]:
    """Run ``n`` rounds on a sound server started for the run."""
    from rtsession.audio import read_wav, sample, write_wav

    with tempfile.TemporaryDirectory(prefix="rtsession-voice-") as folder:
        pcm, rate = read_wav(sample("jfk"))
        interrupting = Path(folder) / "interrupt.wav"
        write_wav(interrupting, pcm[: CUT_MS * rate // 1000 * 2], rate)
        saved = os.environ.get("XDG_RUNTIME_DIR")
        with start_sound_server(Path(folder) / "run") as sound:
            os.environ["XDG_RUNTIME_DIR"] = sound.env["XDG_RUNTIME_DIR"]
            try:
                result = trio.run(_rounds, n, sound, interrupting)
            finally:
                if saved is None:
                    os.environ.pop("XDG_RUNTIME_DIR", None)
                else:
                    os.environ["XDG_RUNTIME_DIR"] = saved
    progress.note(
        f"voice: speech end -> speaker p50 {result['speech_end_to_speaker_ms']['p50']:.0f} ms, "
        f"barge-in p50 {result['barge_in_ms']['p50']:.0f} ms"
    )
    return result
