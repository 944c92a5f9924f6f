"""Speech-to-text for the local server: the interface, and the protocol-only table of
transcripts."""

from __future__ import annotations

from typing import Final, Protocol

import attrs

__all__ = ["DEFAULT_TRANSCRIPTS", "SpeechToText", "TableSTT"]


class SpeechToText(Protocol):
    """Speech-to-text for whole stretches of speech. The server transcribes an utterance
    while it is spoken by cutting it at pauses and transcribing each segment whole
    (``_segments.py``).

    Implementations are synchronous; the speech worker runs them in another process, so they
    must be picklable (keep configuration in fields and load models lazily, e.g. into a
    module-level cache keyed by the configuration). An optional ``warm_up()`` method, if
    present, is called when a worker process starts.
    """

    def transcribe(self, pcm16: bytes, rate: int) -> str:
        """Transcribe one whole utterance or segment of one.

        Args:
            pcm16: mono PCM16, the audio (a turn from ``audio_start_ms`` to ``audio_end_ms``,
                or a segment of it).
            rate: its sample rate in Hz.

        Returns:
            The transcript (lower-case words for pocketsphinx); ``""`` for no speech. The same
            audio gives the same transcript.
        """
        ...


DEFAULT_TRANSCRIPTS: Final = (
    "hello",
    "what is the weather in paris today",
    "call the function get time",
    "what time is it",
)
"""The protocol-only transcripts: entry ``i`` for utterances of ``i`` whole seconds, cycling."""


@attrs.frozen
class TableSTT:
    """Protocol-only speech-to-text: no recognition, a transcript from a fixed table.

    The rule: an utterance of ``d`` ms gets ``table[(d // bucket_ms) % len(table)]``. With the
    defaults, a turn shorter than 1 s is ``"hello"``, 1-2 s ``"what is the weather in paris
    today"``, 2-3 s ``"call the function get time"``, 3-4 s ``"what time is it"``, and so on
    round. A turn's length includes the VAD's prefix padding and silence window; a turn cut
    into segments gets an entry per segment that holds sound.

    Attributes:
        table: the transcripts, at least one.
        bucket_ms: the duration step between entries, in ms.
    """

    table: tuple[str, ...] = DEFAULT_TRANSCRIPTS
    bucket_ms: int = 1000

    def __attrs_post_init__(self) -> None:
        if not self.table:
            raise ValueError("table must hold at least one transcript")
        if self.bucket_ms <= 0:
            raise ValueError(f"bucket_ms must be positive, got {self.bucket_ms}")

    def transcript_for(self, duration_ms: int) -> str:
        """The transcript of an utterance lasting ``duration_ms``."""
        return self.table[(duration_ms // self.bucket_ms) % len(self.table)]

    def transcribe(self, pcm16: bytes, rate: int) -> str:
        """The table entry for the utterance's duration; the audio itself is not looked at."""
        return self.transcript_for(len(pcm16) // 2 * 1000 // rate)
