"""Test audio that needs no speech engine."""

from __future__ import annotations

import math


def tone(seconds: float, rate: int) -> bytes:
    """A 440 Hz sine as 16-bit PCM at ``rate`` Hz (loud enough for energy VAD: the
    protocol-only engines hear it as speech)."""
    n = int(seconds * rate)
    samples = (round(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(n))
    return b"".join(s.to_bytes(2, "little", signed=True) for s in samples)
