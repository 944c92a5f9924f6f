"""Shared test configuration.

Hypothesis runs without per-example deadlines: CI machines are shared and noisy, and the
properties here are about behaviour, never speed (speed lives in benchmarks/).
"""

from __future__ import annotations

import os

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, settings

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
