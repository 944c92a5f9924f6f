"""Text-to-speech for the local server: the interface, and the protocol-only tone."""

from __future__ import annotations

from typing import Protocol

import attrs
import numpy as np

from ._vad import array_pcm16

__all__ = ["TextToSpeech", "ToneTTS"]


class TextToSpeech(Protocol):
    """Text-to-speech for the server's replies.

    Synchronous and picklable, like ``SpeechToText`` (the speech worker runs it in
    another process); an optional ``warm_up()`` is called when a worker process starts.
    """

    def synthesize(self, text: str, rate: int) -> bytes:
        """Speak ``text``.

        Args:
            text: the reply, plain text.
            rate: the output sample rate in Hz (24000 for OpenAI and Gemini output).

        Returns:
            Mono PCM16 at ``rate``; ``b""`` for text with nothing to say.
        """
        ...


@attrs.frozen
class ToneTTS:
    """Protocol-only text-to-speech: a sine tone as long as the text would take to say.

    ``len(text) * ms_per_char`` ms of a ``frequency_hz`` tone at ``amplitude`` (fraction of
    full scale), with 5 ms fades; the default 60 ms per character is about espeak-ng's pace at
    175 words per minute. Deterministic, and loud enough (-12 dBFS) for ``EnergyVad``.
    """

    frequency_hz: float = 440.0
    ms_per_char: int = 60
    amplitude: float = 0.25

    def duration_ms(self, text: str) -> int:
        """How long the tone for ``text`` lasts, in ms."""
        return len(text) * self.ms_per_char

    def synthesize(self, text: str, rate: int) -> bytes:
        """A tone of ``duration_ms`` at ``rate`` Hz, as PCM16."""
        if rate <= 0:
            raise ValueError(f"rate must be a positive integer, got {rate!r}")
        n = self.duration_ms(text) * rate // 1000
        if n == 0:
            return b""
        t = np.arange(n, dtype=np.float64) / rate
        y = np.sin(2.0 * np.pi * self.frequency_hz * t) * (self.amplitude * 32767.0)
        fade = min(n // 2, rate // 200)
        if fade:
            ramp = np.linspace(0.0, 1.0, fade, endpoint=False)
            y[:fade] *= ramp
            y[n - fade :] *= ramp[::-1]
        return array_pcm16(np.round(y).astype(np.int16))
