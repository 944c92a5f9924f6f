"""PlaybackTracker and OutputBuffer: what was played of each part, in ms, through a player's
latency, gaps and flushes (synchronous; no trio)."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, strategies as st

from rtsession.audio import OutputBuffer, PlaybackTracker, PlayedPosition

RATE = 24000
MS = RATE // 1000  # samples per ms


def pcm(ms: int, value: int = 1) -> bytes:
    return value.to_bytes(2, "little", signed=True) * (ms * MS)


def test_tracker_positions_only_move_forward() -> None:
    tracker = PlaybackTracker()
    assert tracker.current is None
    assert tracker.played_ms("item_1") == 0.0
    tracker.update("item_1", 0, 120.0)
    tracker.update("item_1", 0, 80.0)  # late report: ignored
    assert tracker.played_ms("item_1", 0) == 120.0
    assert tracker.current == PlayedPosition("item_1", 0, 120.0)
    with pytest.raises(ValueError, match="played_ms"):
        tracker.update("item_1", 0, -1)


def test_buffer_plays_parts_in_order_and_reports_each() -> None:
    buffer = OutputBuffer(RATE)
    buffer.write("a", 0, pcm(30, 1))
    buffer.write("b", 0, pcm(20, 2))
    assert buffer.queued_ms == 50
    first = buffer.read(40 * MS)
    assert first == pcm(30, 1) + pcm(10, 2)
    assert buffer.tracker.played_ms("a") == 30
    assert buffer.tracker.played_ms("b") == 10
    second = buffer.read(20 * MS)
    assert second == pcm(10, 2) + pcm(10, 0)  # then silence
    assert buffer.tracker.played_ms("b") == 20
    assert buffer.queued_ms == 0
    assert buffer.underruns == 0


def test_positions_wait_for_the_players_latency() -> None:
    buffer = OutputBuffer(RATE)
    buffer.write("a", 0, pcm(100))
    buffer.read(20 * MS, delay_ms=50)  # handed out 20 ms, none heard yet
    assert buffer.tracker.played_ms("a") == 0
    buffer.read(20 * MS, delay_ms=50)
    buffer.read(20 * MS, delay_ms=50)  # 60 handed out, 10 heard
    assert buffer.tracker.played_ms("a") == pytest.approx(10)
    buffer.read(20 * MS, delay_ms=50)
    assert buffer.tracker.played_ms("a") == pytest.approx(30)


def test_flush_drops_the_queue_and_counts_what_the_player_holds_as_played() -> None:
    buffer = OutputBuffer(RATE)
    buffer.write("a", 0, pcm(500))
    buffer.read(20 * MS, delay_ms=60)
    buffer.read(20 * MS, delay_ms=60)
    assert buffer.tracker.played_ms("a") == 0
    buffer.flush()
    assert buffer.tracker.played_ms("a") == 40  # the device plays out its 40 ms
    assert buffer.queued_ms == 0
    assert buffer.read(10 * MS) == pcm(10, 0)


def test_a_gap_inside_a_part_is_an_underrun_a_new_part_is_not() -> None:
    buffer = OutputBuffer(RATE)
    buffer.write("a", 0, pcm(10))
    buffer.read(20 * MS)  # ran dry in the middle of "a"
    buffer.write("a", 0, pcm(10))  # more of "a": it stuttered
    assert buffer.underruns == 1
    buffer.read(20 * MS)
    buffer.write("b", 0, pcm(10))  # a new part after silence is normal
    assert buffer.underruns == 1
    # the position of "a" counts only its audio, not the silence between its pieces
    assert buffer.tracker.played_ms("a") == 20


def test_a_part_that_arrives_just_in_time_is_no_underrun() -> None:
    buffer = OutputBuffer(RATE)
    buffer.write("a", 0, pcm(20))
    assert buffer.read(20 * MS) == pcm(20)  # exactly what was queued: no silence played
    buffer.write("a", 0, pcm(20))
    assert buffer.underruns == 0


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        OutputBuffer(0)
    with pytest.raises(ValueError, match="2-byte samples"):
        OutputBuffer(RATE).write("a", 0, b"\x00")


@given(
    pieces=st.lists(st.integers(min_value=1, max_value=2000), min_size=1, max_size=20),
    block=st.integers(min_value=1, max_value=1500),
    delay_ms=st.floats(min_value=0, max_value=200),
)
def test_every_sample_written_is_handed_out_once_in_order(
    pieces: list[int], block: int, delay_ms: float
) -> None:
    buffer = OutputBuffer(RATE)
    written = b"".join(i.to_bytes(2, "little") * n for i, n in enumerate(pieces, 1))
    for i, n in enumerate(pieces, 1):
        buffer.write("a", 0, i.to_bytes(2, "little") * n)
    out = b"".join(buffer.read(block, delay_ms) for _ in range(-(-len(written) // 2 // block)))
    assert out[: len(written)] == written
    buffer.flush()
    assert buffer.tracker.played_ms("a") == pytest.approx(sum(pieces) / MS)


def test_reads_from_another_thread_while_writing() -> None:
    buffer = OutputBuffer(RATE)
    written = threading.Event()
    out: list[bytes] = []

    def player() -> None:
        while not (written.is_set() and buffer.queued_ms == 0):
            out.append(buffer.read(MS * 20))

    thread = threading.Thread(target=player)
    thread.start()
    for _ in range(200):
        buffer.write("a", 0, pcm(20, 7))
    written.set()
    thread.join(timeout=10)
    assert b"".join(out).replace(b"\x00\x00", b"") == pcm(20, 7) * 200
    assert buffer.tracker.played_ms("a") == 4000
