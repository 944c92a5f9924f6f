"""Shared test configuration.

Hypothesis runs without per-example deadlines: CI machines are shared and noisy, and the
properties here are about behaviour, never speed (speed lives in benchmarks/).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, settings

from _sound import SoundServer, SoundServerError, start_sound_server

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture
def lazy_clock() -> trio.testing.MockClock:
    """Virtual time that jumps to the next deadline only after 50 ms of real idleness: loopback
    I/O answers well within that, so it is never skipped past, while waits of seconds (pings,
    timeouts) take no wall time. (``autojump_clock`` jumps at once, which can run a timeout
    out while a loopback answer is still on its way.)"""
    return trio.testing.MockClock(autojump_threshold=0.05)


@pytest.fixture
def sound_server(running_sound_server: SoundServer) -> Iterator[SoundServer]:
    """A real PipeWire sound server with a virtual microphone and speaker (``_sound.py``),
    reached by PortAudio in this process; fails the test when it cannot start. What a test
    plays into the microphone stops when it ends."""
    yield running_sound_server
    running_sound_server.stop_players()


@pytest.fixture(scope="session")
def running_sound_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoundServer]:
    """The session's sound server (use ``sound_server``)."""
    try:
        with (
            start_sound_server(tmp_path_factory.mktemp("sound") / "run") as server,
            pytest.MonkeyPatch.context() as patch,
        ):
            patch.setenv("XDG_RUNTIME_DIR", server.env["XDG_RUNTIME_DIR"])
            patch.delenv("PULSE_SERVER", raising=False)
            yield server
    except SoundServerError as error:
        pytest.fail(str(error))
