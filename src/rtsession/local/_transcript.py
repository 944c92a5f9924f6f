"""A user's transcript while they speak: deltas as each segment of their speech is recognised,
and a final text in sentence case with end punctuation (sans I/O).

The server recognises an utterance segment by segment (``_segments.py``); each segment's
words are final, so each becomes a delta at once (``conversation.item.input_audio_transcription
.delta``, Gemini ``inputTranscription``) and the final transcript starts with every delta sent.
"""

from __future__ import annotations

from typing import Final, final

__all__ = ["LiveTranscript", "sentence"]

_QUESTION_WORDS: Final = frozenset(
    {
        *("what", "when", "where", "which", "who", "whom", "whose", "why", "how"),
        *("is", "are", "am", "was", "were", "do", "does", "did", "have", "has", "had"),
        *("can", "could", "will", "would", "shall", "should", "may", "might"),
    }
)
"""First words that make a transcript a question."""


def sentence(words: list[str]) -> str:
    """``words`` as a sentence: the first capitalised, a ``?`` at the end when the first is a
    question word (``what``, ``is``, ``can``...), else a ``.``; ``""`` for no words."""
    if not words:
        return ""
    first = words[0]
    text = " ".join([first[:1].upper() + first[1:], *words[1:]])
    if text[-1] in ".?!":
        return text
    return text + ("?" if first.lower() in _QUESTION_WORDS else ".")


@final
class LiveTranscript:
    """The transcript of one utterance as its hypotheses come in."""

    __slots__ = ("_sent",)

    def __init__(self) -> None:
        self._sent: list[str] = []

    @property
    def sent(self) -> str:
        """The text sent so far as deltas."""
        return _join(self._sent)

    def heard(self, hypothesis: str) -> str:
        """The delta to send for a new hypothesis (for all the audio so far): its words past
        those already sent, or ``""``. A hypothesis that contradicts what was sent gives no
        delta (the final transcript keeps what was sent)."""
        return self._extend(hypothesis.split())

    def finish(self, hypothesis: str) -> tuple[str, str]:
        """The last delta and the whole transcript, from the final hypothesis: every word
        sent, then the final hypothesis's words after them, as a ``sentence``. The last
        delta is the transcript past what was sent (its end, with the punctuation)."""
        words = hypothesis.split()
        full = sentence([*self._sent, *words[len(self._sent) :]])
        sent = self.sent
        return full[len(sent) :], full

    def _extend(self, words: list[str]) -> str:
        sent = self._sent
        if len(words) <= len(sent) or words[: len(sent)] != sent:
            return ""
        before = self.sent
        sent.extend(words[len(sent) :])
        return self.sent[len(before) :]


def _join(words: list[str]) -> str:
    """Words as ``sentence`` would start them (first capitalised), without the end."""
    if not words:
        return ""
    first = words[0]
    return " ".join([first[:1].upper() + first[1:], *words[1:]])
