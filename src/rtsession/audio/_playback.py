"""Playback tracking: how much of each assistant audio part has really been played, and the
output (jitter) buffer that plays deltas out in order and reports it."""

from __future__ import annotations

import collections
import threading
from typing import Protocol, final

import attrs

from ._pcm import SAMPLE_WIDTH, BytesLike, byte_length, check_rate

__all__ = ["OutputBuffer", "Playback", "PlaybackTracker", "PlayedPosition"]


@attrs.frozen
class PlayedPosition:
    """How far one assistant audio part has been played.

    Attributes:
        item_id: the assistant message item (``ResponseOutputAudioDelta.item_id``).
        content_index: its audio part (``ResponseOutputAudioDelta.content_index``).
        played_ms: milliseconds of the part's audio heard so far, from its start.
    """

    item_id: str
    content_index: int
    played_ms: float


@final
class PlaybackTracker:
    """What has actually been played of each assistant audio part, in milliseconds.

    Whoever plays the audio feeds it: ``OutputBuffer`` (and so the speaker of
    ``open_speaker``) does it by itself; an app with its own output (a browser, a phone
    line) calls ``update`` with the position its player reports. ``BargeIn`` reads it to
    truncate an interrupted item at what the user heard (``conversation.item.truncate``
    ``audio_end_ms``).

    One thread may update while others read (a sound card's callback thread and trio's).
    """

    __slots__ = ("_current", "_played")

    def __init__(self) -> None:
        self._played: dict[tuple[str, int], float] = {}
        self._current: PlayedPosition | None = None

    def update(self, item_id: str, content_index: int, played_ms: float) -> None:
        """Report that the first ``played_ms`` ms of the part have been played.

        Positions only move forward: a lower value than the one known is ignored.

        Raises:
            ValueError: ``played_ms`` is negative.
        """
        if not played_ms >= 0:
            raise ValueError(f"played_ms must be >= 0, not {played_ms}")
        key = (item_id, content_index)
        played_ms = max(played_ms, self._played.get(key, 0.0))
        self._played[key] = played_ms
        self._current = PlayedPosition(item_id, content_index, played_ms)

    def played_ms(self, item_id: str, content_index: int = 0) -> float:
        """Milliseconds played of the part; 0.0 for a part nothing was played of."""
        return self._played.get((item_id, content_index), 0.0)

    @property
    def current(self) -> PlayedPosition | None:
        """The part played most recently and its position; ``None`` before any playback."""
        return self._current


class Playback(Protocol):
    """A local audio output that ``BargeIn`` can silence: ``OutputBuffer``, the speaker
    of ``open_speaker``, or an app's own (a relay to a browser, a phone stream)."""

    @property
    def tracker(self) -> PlaybackTracker:
        """Where the output reports what it has played."""
        ...

    def flush(self) -> None:
        """Stop at once and drop the audio not yet played; the tracker then holds the
        final position of the part that was cut."""
        ...


@final
class OutputBuffer:
    """A jitter buffer: takes audio deltas as they arrive, plays them out in order, and
    reports the played position of each part to a ``PlaybackTracker``.

    The audio is PCM16 mono at ``rate`` Hz. A player pulls fixed blocks with ``read``
    (silence where nothing is queued); ``flush`` drops what is queued at once.
    ``write`` and ``flush`` may be called from one thread (trio's) while ``read`` runs in
    another (a sound card's callback thread).

    Args:
        rate: sample rate of the audio in Hz (the session's output rate, e.g. 24000).
        tracker: where to report progress; a new one when omitted.

    Raises:
        ValueError: ``rate`` is not a positive integer.
    """

    __slots__ = (
        "_dry",
        "_handed",
        "_lock",
        "_marks",
        "_parts",
        "_queue",
        "_queued",
        "_rate",
        "_tracker",
        "underruns",
    )

    def __init__(self, rate: int, tracker: PlaybackTracker | None = None) -> None:
        check_rate(rate)
        self._rate = rate
        self._tracker = PlaybackTracker() if tracker is None else tracker
        self._lock = threading.Lock()
        self._queue: collections.deque[_Piece] = collections.deque()
        self._queued = 0  # bytes queued, not yet handed out
        self._handed = 0  # samples handed out since the start, the stream's clock
        self._parts: dict[tuple[str, int], int] = {}  # samples handed out of each part
        # (stream sample at which a handed-out piece ends, its part, the part's ms there)
        self._marks: collections.deque[tuple[int, tuple[str, int], float]] = collections.deque()
        self._dry: tuple[str, int] | None = None  # the part that ran dry while playing
        self.underruns = 0
        """Gaps inside a part: the buffer ran dry and more of the same part came later."""

    @property
    def tracker(self) -> PlaybackTracker:
        """The tracker this buffer reports to."""
        return self._tracker

    @property
    def rate(self) -> int:
        """The sample rate in Hz."""
        return self._rate

    @property
    def queued_ms(self) -> float:
        """Milliseconds of audio waiting to be handed out."""
        return self._queued * 1000.0 / (SAMPLE_WIDTH * self._rate)

    def write(self, item_id: str, content_index: int, pcm: BytesLike) -> None:
        """Queue a delta of the part (``ResponseOutputAudioDelta``'s ``item_id``,
        ``content_index`` and ``delta``), after everything queued before it.

        Raises:
            ValueError: ``pcm`` is not whole 16-bit samples.
        """
        size = byte_length(pcm)
        if size % SAMPLE_WIDTH:
            raise ValueError(f"PCM16 audio is whole 2-byte samples, got {size} bytes")
        if not size:
            return
        with self._lock:
            if self._dry == (item_id, content_index):
                self.underruns += 1
            self._dry = None
            self._queue.append(_Piece(item_id, content_index, bytes(pcm)))
            self._queued += size

    def read(self, samples: int, delay_ms: float = 0.0) -> bytes:
        """Hand out the next ``samples`` samples (``2 * samples`` bytes), silence where
        nothing is queued, and report what has been played by now.

        Args:
            samples: how many samples the player wants.
            delay_ms: how long audio handed out now takes to be heard (the output's
                latency, e.g. a sound card's buffer); positions are reported that much
                later.
        """
        out = bytearray(samples * SAMPLE_WIDTH)
        with self._lock:
            filled = 0
            while filled < len(out) and self._queue:
                piece = self._queue[0]
                take = min(len(out) - filled, len(piece.pcm) - piece.offset)
                out[filled : filled + take] = piece.pcm[piece.offset : piece.offset + take]
                filled += take
                piece.offset += take
                self._queued -= take
                if piece.offset == len(piece.pcm):
                    self._queue.popleft()
                part = (piece.item_id, piece.content_index)
                handed = self._parts.get(part, 0) + take // SAMPLE_WIDTH
                self._parts[part] = handed
                end = self._handed + filled // SAMPLE_WIDTH
                self._marks.append((end, part, handed * 1000.0 / self._rate))
                if filled < len(out) and not self._queue:
                    self._dry = part  # silence follows it in this very block
            self._handed += samples
            self._report(self._handed - round(delay_ms * self._rate / 1000.0))
        return bytes(out)

    def flush(self) -> None:
        """Drop the queued audio at once. Audio already handed out counts as played (the
        player plays out what it holds), so the tracker holds where the cut part ends."""
        with self._lock:
            self._queue.clear()
            self._queued = 0
            self._dry = None
            self._report(self._handed)

    def _report(self, played: int) -> None:
        """Report each part's position at stream sample ``played``."""
        marks, tracker = self._marks, self._tracker
        while marks and marks[0][0] <= played:
            _, (item_id, index), end_ms = marks.popleft()
            tracker.update(item_id, index, end_ms)
        if marks:
            end, (item_id, index), end_ms = marks[0]
            at_ms = end_ms - (end - played) * 1000.0 / self._rate
            if at_ms > tracker.played_ms(item_id, index):
                tracker.update(item_id, index, at_ms)


@attrs.define
class _Piece:
    item_id: str
    content_index: int
    pcm: bytes
    offset: int = 0  # bytes handed out
