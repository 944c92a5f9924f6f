"""Where to cut an utterance while it is spoken, so its transcription can run as it arrives.

The recogniser is most accurate on whole stretches of speech (pocketsphinx normalises each
decode by its own cepstral mean; a live, first-pass decode of an old recording came out mostly
wrong). So the server transcribes an utterance in segments, each decoded whole as soon as it
ends, and cuts a segment at a short pause once it is long enough (or at its quietest moment
once it is too long). When the turn ends only the last segment is left to decode.
"""

from __future__ import annotations

from typing import Final, final

import numpy as np
import numpy.typing as npt

__all__ = ["END_PAUSE_MS", "MAX_SEGMENT_MS", "MIN_SEGMENT_MS", "PAUSE_MS", "Segmenter"]

FRAME_MS: Final = 20
MIN_SEGMENT_MS: Final = 1500
"""A segment is cut at a pause that ends once it is this long (in the pause's middle)."""
MAX_SEGMENT_MS: Final = 3000
"""A segment this long is cut at its quietest frame of the last second, pause or not."""
PAUSE_MS: Final = 150
"""Quiet this long is a pause."""
END_PAUSE_MS: Final = 300
"""Quiet this long after speech ends a segment however short it is: it is probably the end
of the turn, and the segment is decoded while the turn detector is still waiting to be sure,
so the transcript is ready (or nearly) when the turn ends."""
END_MIN_SEGMENT_MS: Final = 500
"""The shortest segment (pause included) an end-of-turn pause cuts: a noise burst is not one."""
QUIET_FLOOR: Final = 200.0
"""A frame whose RMS (PCM16 units) is below this is quiet, however quiet the speech is."""
QUIET_RATIO: Final = 0.1
"""A frame is quiet below this fraction of the loudest frame of the utterance so far."""


@final
class Segmenter:
    """Cuts one utterance (PCM16 at ``rate`` Hz, fed from its start) into segments.

    Args:
        rate: the sample rate in Hz.
    """

    __slots__ = ("_frame", "_levels", "_peak", "_start")

    def __init__(self, rate: int) -> None:
        self._frame = rate * FRAME_MS // 1000 * 2  # bytes
        self._levels: list[float] = []  # RMS of each whole frame so far
        self._peak = 0.0
        self._start = 0  # the current segment's first frame

    def cuts(self, audio: bytes | bytearray) -> list[int]:
        """New cut positions (byte offsets into the utterance, ascending) now that the
        utterance's audio is ``audio`` (all of it so far)."""
        self._measure(audio)
        found: list[int] = []
        while (cut := self._next_cut()) is not None:
            self._start = cut
            found.append(cut * self._frame)
        return found

    def has_speech(self, audio: bytes | bytearray) -> bool:
        """Whether any frame of ``audio`` is loud enough to be speech."""
        levels = _levels(audio, self._frame)
        return bool(levels.size) and bool(np.any(levels >= self._quiet_below))

    @property
    def _quiet_below(self) -> float:
        return max(QUIET_FLOOR, QUIET_RATIO * self._peak)

    def _measure(self, audio: bytes | bytearray) -> None:
        done = len(self._levels) * self._frame
        whole = (len(audio) - done) // self._frame * self._frame
        if whole <= 0:
            return
        levels = _levels(memoryview(audio)[done : done + whole], self._frame)
        self._levels.extend(levels.tolist())
        self._peak = max(self._peak, float(levels.max()))

    def _next_cut(self) -> int | None:
        per_ms = FRAME_MS
        start, levels = self._start, self._levels
        quiet = self._quiet_below
        pause, end_pause = PAUSE_MS // per_ms, END_PAUSE_MS // per_ms
        min_frames = MIN_SEGMENT_MS // per_ms
        end_min = END_MIN_SEGMENT_MS // per_ms
        run = 0
        spoken = False  # the segment holds speech before the current quiet run
        for index in range(start, len(levels)):
            if levels[index] >= quiet:
                run, spoken = 0, True
                continue
            run += 1
            if run == pause and index + 1 - start >= min_frames:
                return index - pause // 2  # in the middle of the pause
            if run == end_pause and spoken and index + 1 - start >= end_min:
                return index + 1 - end_pause + pause // 2  # keep a little of the quiet
        if (len(levels) - start) * per_ms >= MAX_SEGMENT_MS:
            tail = range(len(levels) - 1000 // per_ms, len(levels))
            return min(tail, key=levels.__getitem__)
        return None


def _levels(audio: bytes | bytearray | memoryview, frame: int) -> npt.NDArray[np.float64]:
    """The RMS of each whole frame of ``frame`` bytes of PCM16."""
    whole = len(audio) // frame * frame
    samples = np.frombuffer(audio[:whole], dtype="<i2").astype(np.float64)
    if not samples.size:
        return samples
    rows = samples.reshape(-1, frame // 2)
    levels: npt.NDArray[np.float64] = np.sqrt(np.mean(rows * rows, axis=1))
    return levels
