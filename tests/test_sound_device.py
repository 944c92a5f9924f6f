"""The microphone and speaker of rtsession.audio on a real sound server (PipeWire with null
sinks, reached through PortAudio and ALSA): what is played into the microphone arrives as
frames, what the speaker plays reaches the sink, and a flush stops it where the tracker says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import trio

from _sound import SoundServer, until_played
from rtsession.audio import (
    AudioDeviceError,
    open_microphone,
    open_speaker,
    read_wav,
    sample,
)

pytestmark = pytest.mark.slow

RATE = 24000


def loud_span_ms(pcm: bytes, rate: int, threshold: int = 1500) -> tuple[float, float]:
    """Where the audio is loud, in ms: (first loud sample, last loud sample)."""
    samples: npt.NDArray[np.int16] = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    assert loud.size, "no sound at all"
    return loud[0] * 1000 / rate, loud[-1] * 1000 / rate


def tone(ms: int, rate: int = RATE) -> bytes:
    t = np.arange(ms * rate // 1000) / rate
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()


async def test_the_microphone_hears_what_is_played_into_it(sound_server: SoundServer) -> None:
    pcm, rate = read_wav(sample("weather-question"))
    clip_ms = len(pcm) / 2 / rate * 1000
    frames: list[bytes] = []
    async with open_microphone(RATE, frame_ms=20) as microphone:
        player = sound_server.play_into_microphone(sample("weather-question"))
        with trio.move_on_after(clip_ms / 1000 + 1.5):
            async for frame in microphone:
                frames.append(frame)
        await trio.to_thread.run_sync(player.wait)
    assert {len(frame) for frame in frames} == {960}  # 20 ms of 16-bit mono at 24 kHz
    assert microphone.overruns == 0
    start, end = loud_span_ms(b"".join(frames), RATE)
    clip_start, clip_end = loud_span_ms(pcm, rate)
    assert abs((end - start) - (clip_end - clip_start)) <= 20


async def test_the_speaker_plays_a_part_to_the_sink_and_tracks_it(
    sound_server: SoundServer, tmp_path: Path
) -> None:
    recording = tmp_path / "speaker.wav"
    with sound_server.recording_speaker(recording):
        async with open_speaker(RATE) as speaker:
            speaker.write("item_1", 0, tone(1000))
            await until_played(speaker.tracker, "item_1", 1000)
            await trio.sleep(0.2)
    assert speaker.tracker.played_ms("item_1") == 1000
    assert speaker.underruns == 0
    start, end = loud_span_ms(read_wav(recording)[0], RATE)
    assert abs((end - start) - 1000) <= 40


async def test_a_flush_stops_the_speaker_where_the_tracker_says(
    sound_server: SoundServer, tmp_path: Path
) -> None:
    recording = tmp_path / "speaker.wav"
    with sound_server.recording_speaker(recording):
        async with open_speaker(RATE) as speaker:
            speaker.write("item_1", 0, tone(3000))
            await until_played(speaker.tracker, "item_1", 600)
            speaker.flush()
            played = speaker.tracker.played_ms("item_1")
            await trio.sleep(0.5)
    start, end = loud_span_ms(read_wav(recording)[0], RATE)
    assert 600 <= played < 1000
    assert abs((end - start) - played) <= 40


async def test_a_device_that_is_not_there_is_named_with_those_that_are(
    sound_server: SoundServer,
) -> None:
    with pytest.raises(AudioDeviceError, match=r"no output device matches 'no such card'.*default"):
        async with open_speaker(RATE, device="no such card"):
            pass
    with pytest.raises(AudioDeviceError, match=r"999 is not an input device; input devices: "):
        async with open_microphone(RATE, device=999):
            pass
    with pytest.raises(ValueError, match="frame_ms"):
        async with open_microphone(RATE, frame_ms=0.01):
            pass


async def test_a_rate_the_device_cannot_take_is_refused_by_name(sound_server: SoundServer) -> None:
    with pytest.raises(AudioDeviceError, match=r"cannot take 16-bit mono at 1000000 Hz"):
        async with open_speaker(1_000_000, frame_ms=1):
            pass


def test_without_a_sound_server_the_error_says_there_is_no_device(tmp_path: Path) -> None:
    program = (
        "import trio\n"
        "from rtsession.audio import AudioDeviceError, open_microphone\n"
        "async def main():\n"
        "    async with open_microphone(24000):\n"
        "        pass\n"
        "try:\n"
        "    trio.run(main)\n"
        "except AudioDeviceError as error:\n"
        "    print(error)\n"
    )
    runtime = tmp_path / "nothing-runs-here"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    env.pop("PULSE_SERVER", None)
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout == "there is no default input device; input devices: none\n", done.stderr
