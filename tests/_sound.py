"""A real sound server for the device tests: PipeWire (with its PulseAudio server and session
manager) in user mode in a private runtime directory, with two null sinks: ``rts_speaker``
(the default output; its monitor is what "reached the speaker") and ``rts_mic`` (its monitor
is the default input, so audio played into it is what the microphone hears). PortAudio
reaches it through ALSA's PipeWire and PulseAudio plugins.

Nothing here skips: a machine without the packages fails with the line that installs them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.resources import as_file
from importlib.resources.abc import Traversable
from pathlib import Path

import attrs
import trio

from rtsession.audio import PlaybackTracker

PACKAGES = "pipewire pipewire-pulse pipewire-alsa wireplumber pulseaudio-utils libportaudio2 dbus"
_PROGRAMS = ("dbus-run-session", "pipewire", "wireplumber", "pipewire-pulse", "pactl", "paplay")
_DAEMONS = "pipewire & sleep 0.3; wireplumber & pipewire-pulse & wait"


class SoundServerError(RuntimeError):
    """The sound server could not be started (the test fails with it)."""


@attrs.frozen
class SoundServer:
    """A running sound server; ``env`` reaches it (set it in ``os.environ`` for PortAudio)."""

    env: dict[str, str]
    players: list[subprocess.Popen[bytes]] = attrs.field(factory=list)

    def pactl(self, *args: str) -> str:
        return subprocess.run(
            ["pactl", *args], env=self.env, check=True, capture_output=True, text=True, timeout=10
        ).stdout

    def play_into_microphone(self, wav: Traversable) -> subprocess.Popen[bytes]:
        """Start playing ``wav`` (a file, e.g. ``rtsession.audio.sample(...)``) into the
        virtual microphone."""
        with as_file(wav) as path:
            player = subprocess.Popen(
                ["paplay", "--device=rts_mic", "--latency-msec=20", str(path)], env=self.env
            )
        self.players.append(player)
        return player

    def stop_players(self) -> None:
        """Stop what is still playing into the microphone."""
        for player in self.players:
            player.kill()
            player.wait(timeout=10)
        self.players.clear()

    @contextmanager
    def recording_speaker(self, wav: Path, rate: int = 24000) -> Iterator[None]:
        """Record what reaches the speaker into ``wav`` (16-bit mono) while in the block."""
        recorder = subprocess.Popen(
            [
                "parecord",
                "--device=rts_speaker.monitor",
                f"--rate={rate}",
                "--channels=1",
                "--format=s16le",
                "--file-format=wav",
                "--latency-msec=20",
                str(wav),
            ],
            env=self.env,
        )
        try:
            time.sleep(0.3)  # the recording stream is connected
            yield
        finally:
            recorder.send_signal(signal.SIGINT)
            recorder.wait(timeout=10)


@contextmanager
def start_sound_server(runtime_dir: Path) -> Iterator[SoundServer]:
    """Start PipeWire in ``runtime_dir`` with the two null sinks; stop it on exit.

    Raises:
        SoundServerError: a program is missing or the server does not come up in 15 s.
    """
    missing = [p for p in _PROGRAMS if shutil.which(p) is None]
    if missing:
        raise SoundServerError(
            f"the device tests need a sound server; missing {', '.join(missing)}: "
            f"apt-get install {PACKAGES}"
        )
    runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir)}
    env.pop("PULSE_SERVER", None)
    log = (runtime_dir / "daemons.log").open("wb")
    daemons = subprocess.Popen(
        ["dbus-run-session", "--", "sh", "-c", _DAEMONS],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = SoundServer(env)
    try:
        _wait_until_up(server, daemons, runtime_dir)
        server.pactl("load-module", "module-null-sink", "sink_name=rts_speaker")
        server.pactl("load-module", "module-null-sink", "sink_name=rts_mic")
        _until(
            lambda: (
                {"rts_speaker", "rts_mic"} <= set(server.pactl("list", "short", "sinks").split())
            )
        )
        _until(lambda: _succeeds(server, "set-default-sink", "rts_speaker"))
        _until(lambda: _succeeds(server, "set-default-source", "rts_mic.monitor"))
        yield server
    finally:
        server.stop_players()
        os.killpg(daemons.pid, signal.SIGTERM)
        daemons.wait(timeout=10)
        log.close()


def _succeeds(server: SoundServer, *args: str) -> bool:
    try:
        server.pactl(*args)
    except subprocess.CalledProcessError:
        return False
    return True


def _until(condition: Callable[[], bool]) -> None:
    """Wait (at most 10 s) for the session manager to create what was asked."""
    deadline = time.monotonic() + 10
    while not condition():
        if time.monotonic() > deadline:
            raise SoundServerError("the sound server did not create its null sinks in 10 s")
        time.sleep(0.05)


def _wait_until_up(server: SoundServer, daemons: subprocess.Popen[bytes], runtime: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if daemons.poll() is not None:
            break
        try:
            if "PipeWire" in server.pactl("info"):
                return
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.1)
    log = (runtime / "daemons.log").read_text(errors="replace")[-2000:]
    raise SoundServerError(f"the sound server did not start; its log ends:\n{log}")


async def until_played(tracker: PlaybackTracker, item_id: str, ms: float) -> None:
    """Wait (at most 10 s) until ``ms`` of the item have been played."""
    with trio.fail_after(10):
        while tracker.played_ms(item_id) < ms:  # noqa: ASYNC110 - fed by the sound card's thread
            await trio.sleep(0.01)
