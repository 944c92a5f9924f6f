"""A voice agent on a real audio stack: speech played into a virtual microphone reaches
rtsession.local through ``open_microphone``, the reply plays on ``open_speaker`` into a null
sink whose monitor is recorded, and a second utterance over the reply barges in. The code
under test is what ``rtsession talk`` runs (``converse``, its options and middleware)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import trio

from _sound import SoundServer, until_played
from rtsession import messages as m
from rtsession.audio import open_microphone, open_speaker, read_wav, sample
from rtsession.cli._demo import get_weather
from rtsession.cli._providers import rates
from rtsession.cli._talk import converse, options
from rtsession.local import open_local_server
from rtsession.middleware import BargeIn, FunctionInvocation, ToolInvocationCompleted
from rtsession.providers import OpenAIRealtime
from rtsession.session import open_session
from test_docs import SOUND, blocks

pytestmark = pytest.mark.slow

RATE = 24000
WINDOW = RATE // 200  # 5 ms


def loud_windows(pcm: bytes, threshold: float = 300.0) -> npt.NDArray[np.intp]:
    """Indexes of the 5 ms windows whose RMS is above ``threshold``."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    windows = samples[: samples.size // WINDOW * WINDOW].reshape(-1, WINDOW)
    return np.flatnonzero(np.sqrt((windows**2).mean(axis=1)) > threshold)


def heard_ms(pcm: bytes) -> float:
    """From the first loud window to the end of the last one, in ms."""
    loud = loud_windows(pcm)
    assert loud.size, "no sound"
    return float((loud[-1] + 1 - loud[0]) * 5)


async def test_talk_over_a_reply_cuts_it_where_the_speaker_stopped(
    sound_server: SoundServer, tmp_path: Path
) -> None:
    events: list[m.ServerMessage] = []
    reply = bytearray()
    first_audio, interrupted, truncated = trio.Event(), trio.Event(), trio.Event()

    def on_event(event: m.ServerMessage) -> None:
        events.append(event)
        if isinstance(event, m.ResponseOutputAudioDelta):
            reply.extend(event.delta)
            first_audio.set()
        elif isinstance(event, m.PlaybackInterrupted):
            interrupted.set()
        elif isinstance(event, m.ConversationItemTruncated):
            truncated.set()

    recording = tmp_path / "speaker.wav"
    audio = rates("local")
    with sound_server.recording_speaker(recording):
        async with (
            open_speaker(audio.output) as speaker,
            open_microphone(audio.input) as microphone,
            open_local_server() as server,
            open_session(
                OpenAIRealtime(base_url=server.base_url, api_key="local"),
                options(audio),
                middleware=[BargeIn(speaker), FunctionInvocation([get_weather])],
            ) as session,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(converse, session, microphone, speaker, on_event)
            sound_server.play_into_microphone(sample("weather-question"))
            with trio.fail_after(30):
                await first_audio.wait()
                item = next(e for e in events if isinstance(e, m.ResponseOutputAudioDelta)).item_id
            await until_played(speaker.tracker, item, 800)
            sound_server.play_into_microphone(sample("jfk"))  # talk over the reply
            with trio.fail_after(10):
                await interrupted.wait()
                await truncated.wait()
            await trio.sleep(0.5)  # the sink records the silence after the cut
            nursery.cancel_scope.cancel()

    said = [e for e in events if isinstance(e, m.ConversationItemInputAudioTranscriptionCompleted)]
    assert "weather" in said[0].transcript.lower()
    assert "paris" in said[0].transcript.lower()
    tools = [e for e in events if isinstance(e, ToolInvocationCompleted)]
    assert [(t.name, t.outcome) for t in tools] == [("get_weather", "succeeded")]

    (cut,) = [e for e in events if isinstance(e, m.PlaybackInterrupted)]
    (confirmed,) = [e for e in events if isinstance(e, m.ConversationItemTruncated)]
    assert cut.reason == "speech_started"
    assert cut.truncated
    assert not cut.estimated
    assert 800 <= cut.audio_end_ms < cut.audio_ms
    assert (confirmed.item_id, confirmed.audio_end_ms) == (cut.item_id, cut.audio_end_ms)

    # What the sink played of the reply ends where the item was truncated: the span from
    # the reply's first sound to its last, in the recording and in the reply cut there.
    sink, rate = read_wav(recording)
    assert rate == RATE
    expected = heard_ms(bytes(reply[: cut.audio_end_ms * RATE // 1000 * 2]))
    print(f"the sink played {heard_ms(sink):.0f} ms of the reply; the item keeps {expected:.0f} ms")
    assert abs(heard_ms(sink) - expected) <= 40
    assert heard_ms(sink) < heard_ms(bytes(reply)) - 300  # it was really cut short


def speak_to(command: list[str], sound_server: SoundServer, ready: str) -> tuple[int, str]:
    """Run a voice program, ask about the weather once it prints ``ready``, wait for the
    answer, then press Ctrl+C; its exit status and output."""
    program = subprocess.Popen(
        command,
        env={**sound_server.env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert program.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    for line in program.stdout:
        lines.append(line)
        if line.startswith(ready):
            sound_server.play_into_microphone(sample("weather-question"))
        if line.startswith("assistant:") or time.monotonic() > deadline:
            break
    program.send_signal(signal.SIGINT)
    rest, _ = program.communicate(timeout=20)
    return program.returncode, "".join(lines) + rest


def test_rtsession_talk_transcribes_answers_and_leaves_on_ctrl_c(
    sound_server: SoundServer,
) -> None:
    command = [sys.executable, "-m", "rtsession.cli", "talk"]
    status, output = speak_to(command, sound_server, ready="listening on")
    assert status == 0, output
    assert "you: what is the weather in paris" in output.lower(), output
    assert "[tool] get_weather -> " in output
    assert "assistant: It is sunny and 21 degrees in Paris." in output
    assert "bye" in output
    assert re.search(r"microphone overruns: \d+, speaker gaps: \d+, device underruns: \d+", output)


VOICE_AGENT = [code for page, _, code, marker in blocks() if marker == SOUND]


@pytest.mark.parametrize("code", VOICE_AGENT)
def test_the_voice_agent_of_the_docs_runs_as_written(
    code: str, sound_server: SoundServer, tmp_path: Path
) -> None:
    script = tmp_path / "agent.py"
    script.write_text(code)
    status, output = speak_to([sys.executable, str(script)], sound_server, ready="speak")
    assert status == 0, output
    assert "you: What is the weather in paris today?" in output, output
    assert "tool: get_weather" in output
    assert "assistant: It is sunny and 21 degrees in Paris." in output
    assert output.endswith("bye\n")
