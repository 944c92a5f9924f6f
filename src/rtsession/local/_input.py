"""The input audio buffer of one connection, with its voice activity detector.

Positions are ms since the first audio of the connection, as the service's ``audio_start_ms`` /
``audio_end_ms`` are ("ms from the start of all audio sent in the session").
"""

from __future__ import annotations

from typing import Final

from ._vad import SpeechStarted, SpeechStopped, VadEvent, VoiceActivityDetector

__all__ = ["InputBuffer"]

MARGIN_MS: Final = 1000
"""Audio kept beyond the prefix padding while no speech is going on: covers the detector's
onset delay (its minimum speech duration and resampler latency) with room to spare."""


class InputBuffer:
    """Uncommitted input audio (``input_audio_buffer``) and the turn detector that cuts it.

    With a detector (server VAD), audio before the current turn is trimmed to what the prefix
    padding may still need; without one (push-to-talk) everything appended since the last
    commit or clear is kept.

    Args:
        rate: the sample rate of the audio, in Hz.
        vad: the turn detector, or ``None`` for push-to-talk.
        keep_ms: audio to keep before the next possible onset, in ms (the prefix padding).
    """

    def __init__(self, rate: int, vad: VoiceActivityDetector | None, keep_ms: int = 0) -> None:
        self._rate = rate
        self._vad = vad
        self._keep_bytes = self._bytes(keep_ms + MARGIN_MS)
        self._audio = bytearray()
        self._start = 0  # stream position of self._audio[0], in bytes
        self._vad_origin_ms = 0  # stream position where the detector started

    @property
    def rate(self) -> int:
        """The sample rate, in Hz."""
        return self._rate

    @property
    def position_ms(self) -> int:
        """All audio received on the connection, in ms (floor)."""
        return self._ms(self._start + len(self._audio))

    @property
    def buffered_ms(self) -> float:
        """The audio a commit would take now, in ms."""
        return len(self._audio) / 2 * 1000 / self._rate

    def _bytes(self, ms: int) -> int:
        return ms * self._rate // 1000 * 2

    def _ms(self, position: int) -> int:
        return position // 2 * 1000 // self._rate

    def append(self, pcm16: bytes) -> list[VadEvent]:
        """Add audio; returns the detector's turn events, positioned in connection ms.

        Without speech in progress, older audio is trimmed first (before the new audio, so a
        turn that ends in this chunk is still whole when the session takes it).
        """
        if self._vad is None:
            self._audio += pcm16
            return []
        if not self._vad.in_speech:
            excess = len(self._audio) - self._keep_bytes
            if excess > 0:
                self._drop_until(self._start + excess)
        self._audio += pcm16
        origin = self._vad_origin_ms
        return [_shift(e, origin) for e in self._vad.process(pcm16)]

    def _drop_until(self, position: int) -> None:
        """Forget the audio before a stream position, in bytes (even)."""
        cut = min(max(0, position - self._start), len(self._audio))
        cut -= cut % 2
        del self._audio[:cut]
        self._start += cut

    def take(self, start_ms: int, end_ms: int) -> bytes:
        """Remove and return the turn ``[start_ms, end_ms)``; later audio stays buffered."""
        start = max(self._bytes(start_ms) - self._start, 0)
        end = max(self._bytes(end_ms) - self._start, start)
        turn = bytes(self._audio[start:end])
        self._drop_until(self._start + end)
        return turn

    def peek(self, start_ms: int) -> bytes:
        """The audio from ``start_ms`` to the end of the buffer, left in place."""
        start = max(self._bytes(start_ms) - self._start, 0)
        return bytes(self._audio[start:])

    def take_all(self) -> bytes:
        """Remove and return everything buffered (a manual commit); speech in progress is
        forgotten."""
        audio = bytes(self._audio)
        self._drop_until(self._start + len(self._audio))
        if self._vad is not None:
            self._vad.reset()
        return audio

    def clear(self) -> None:
        """Discard the buffer (``input_audio_buffer.clear``); speech in progress is forgotten."""
        self.take_all()

    def set_vad(self, vad: VoiceActivityDetector | None, keep_ms: int = 0) -> None:
        """Switch the turn detector (a ``session.update`` changed turn detection); the new one
        starts at the current position, with no speech in progress."""
        self._vad = vad
        self._keep_bytes = self._bytes(keep_ms + MARGIN_MS)
        self._vad_origin_ms = self.position_ms


def _shift(event: VadEvent, origin_ms: int) -> VadEvent:
    if not origin_ms:
        return event
    if isinstance(event, SpeechStarted):
        return SpeechStarted(event.audio_start_ms + origin_ms, event.onset_ms + origin_ms)
    return SpeechStopped(event.audio_end_ms + origin_ms, event.offset_ms + origin_ms)
