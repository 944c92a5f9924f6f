"""Tests for rtsession.audio: PCM16 conversions, WAV I/O, resampling, chunking, pacing."""

from __future__ import annotations

import importlib.resources
import io
import struct
import wave
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import trio
import trio.testing
from hypothesis import given, strategies as st

from rtsession._errors import RTSessionError
from rtsession.audio import (
    SAMPLE_WIDTH,
    AudioFormatError,
    Chunker,
    Resampler,
    array_to_pcm16,
    bytes_to_ms,
    chunk_bytes,
    iter_chunks,
    ms_to_samples,
    pcm16_to_array,
    pcm16_to_float32,
    read_wav,
    resample,
    sample,
    samples_to_ms,
    stream_pcm16,
    stream_wav,
    write_wav,
)

DATA = importlib.resources.files("rtsession") / "_data"


# -- helpers -------------------------------------------------------------------------------


def tone(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> npt.NDArray[np.float64]:
    """An analytic sine, float64 in [-amplitude, amplitude]."""
    t = np.arange(round(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def as_int(pcm16: bytes) -> npt.NDArray[np.float64]:
    return pcm16_to_array(pcm16).astype(np.float64)


def snr_db(reference: npt.NDArray[Any], test: npt.NDArray[Any]) -> float:
    noise = np.sum((reference - test) ** 2)
    return float(10 * np.log10(np.sum(reference**2) / max(noise, 1e-12)))


def stream_resample(pcm16: bytes, from_rate: int, to_rate: int, chunk_ms: int = 20) -> bytes:
    r = Resampler(from_rate, to_rate)
    out = [r.process(chunk) for chunk in iter_chunks(pcm16, from_rate, chunk_ms)]
    return b"".join(out) + r.flush()


def riff(
    tag: int,
    channels: int,
    rate: int,
    width: int,
    data: bytes,
    *,
    extensible: bool = False,
    valid_bits: int | None = None,
) -> bytes:
    """Build a WAV file by hand (the stdlib cannot write float or extensible WAVs)."""
    block_align = channels * width
    bits = width * 8
    head = struct.pack("<HHIIHH", tag, channels, rate, rate * block_align, block_align, bits)
    if extensible:
        guid = struct.pack("<H", tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        head = (
            struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate * block_align, block_align, bits)
            + struct.pack("<HHI", 22, valid_bits or bits, 0)
            + guid
        )
    elif tag != 1:
        head += struct.pack("<H", 0)  # cbSize
    chunks = b"fmt " + struct.pack("<I", len(head)) + head
    chunks += b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # an odd-sized chunk to skip
    chunks += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def stdlib_wav(channels: int, width: int, rate: int, frames: bytes) -> io.BytesIO:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    buf.seek(0)
    return buf


# -- PCM16 <-> numpy -------------------------------------------------------------------------


@given(st.binary(max_size=512).map(lambda b: b[: len(b) // 2 * 2]))
def test_pcm16_array_round_trip(data: bytes) -> None:
    a = pcm16_to_array(data)
    assert a.dtype == np.dtype("<i2")
    assert a.shape == (len(data) // SAMPLE_WIDTH,)
    assert array_to_pcm16(a) == data


def test_pcm16_to_array_is_a_little_endian_view() -> None:
    buf = bytearray(struct.pack("<3h", 1, -2, 32767))
    a = pcm16_to_array(buf)
    assert a.tolist() == [1, -2, 32767]
    assert np.shares_memory(a, np.frombuffer(buf, dtype=np.uint8))
    buf[0:2] = struct.pack("<h", -5)  # a view, not a copy
    assert a[0] == -5
    frozen = pcm16_to_array(bytes(buf))
    assert not frozen.flags.writeable
    assert pcm16_to_array(memoryview(bytes(buf))).tolist() == [-5, -2, 32767]


def test_odd_length_pcm16_is_an_audio_format_error() -> None:
    with pytest.raises(AudioFormatError, match="even length"):
        pcm16_to_array(b"\x00\x01\x02")
    with pytest.raises(ValueError, match="even length"):
        pcm16_to_float32(b"\x00")
    assert issubclass(AudioFormatError, RTSessionError)


def test_array_to_pcm16_floats_are_clipped_and_scaled() -> None:
    f = np.array([-1.5, -1.0, -0.5, 0.0, 0.25, 1.0, 2.0, np.nan, np.inf, -np.inf])
    got = pcm16_to_array(array_to_pcm16(f)).tolist()
    assert got == [-32767, -32767, -16384, 0, 8192, 32767, 32767, 0, 32767, -32767]
    # float32 and float16 inputs give the same result as float64
    g = np.array([-1.0, 0.5, 1.0])
    expected = [-32767, 16384, 32767]
    for same in (g.astype(np.float16), g.astype(np.float32), g):
        assert pcm16_to_array(array_to_pcm16(same)).tolist() == expected


def test_array_to_pcm16_rejects_other_dtypes() -> None:
    with pytest.raises(TypeError, match="int32"):
        array_to_pcm16(np.zeros(4, dtype=np.int32))  # type: ignore[arg-type]


def test_array_to_pcm16_accepts_big_endian_int16() -> None:
    a = np.array([1, -2, 300], dtype=">i2")
    assert array_to_pcm16(a) == struct.pack("<3h", 1, -2, 300)


def test_pcm16_to_float32_range() -> None:
    f = pcm16_to_float32(struct.pack("<4h", -32768, 0, 16384, 32767))
    assert f.dtype == np.float32
    assert f.tolist() == [-1.0, 0.0, 0.5, pytest.approx(32767 / 32768)]
    assert f.max() < 1.0


@given(st.lists(st.floats(-1.0, 1.0), max_size=64))
def test_float_round_trip_within_one_lsb(values: list[float]) -> None:
    f = np.array(values, dtype=np.float64)
    back = pcm16_to_float32(array_to_pcm16(f)).astype(np.float64)
    assert np.all(np.abs(back * 32768 / 32767 - f) <= 0.5 / 32767 + 1e-9)


def test_duration_arithmetic() -> None:
    assert samples_to_ms(320, 16000) == 20.0
    assert samples_to_ms(480, 24000) == 20.0
    assert ms_to_samples(20, 16000) == 320
    assert ms_to_samples(20, 24000) == 480
    assert ms_to_samples(10, 22050) == 221  # 220.5 rounds half up
    assert ms_to_samples(2.5, 16000) == 40
    assert bytes_to_ms(640, 16000) == 20.0
    assert bytes_to_ms(960, 24000) == 20.0
    for bad in (0, -16000, 16000.0, True):
        with pytest.raises(ValueError, match="rate"):
            samples_to_ms(1, bad)  # type: ignore[arg-type]


# -- WAV -----------------------------------------------------------------------------------


def test_wav_round_trip_path_and_file(tmp_path: Path) -> None:
    pcm = array_to_pcm16(tone(440, 16000, 0.5))
    path = tmp_path / "t.wav"
    write_wav(path, pcm, 16000)
    assert read_wav(path) == (pcm, 16000)
    assert read_wav(str(path)) == (pcm, 16000)
    with wave.open(str(path)) as w:  # a plain 16-bit mono WAV any tool can read
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
        assert w.getnframes() == len(pcm) // 2
    buf = io.BytesIO()
    write_wav(buf, pcm, 24000)
    assert not buf.closed
    buf.seek(0)
    assert read_wav(buf) == (pcm, 24000)


def test_write_wav_to_an_unseekable_stream() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: Any) -> int:
            self.data += b
            return len(b)

        def tell(self) -> int:
            raise OSError("unseekable")

    pipe = Pipe()
    pcm = array_to_pcm16(tone(300, 8000, 0.1))
    write_wav(pipe, pcm, 8000)  # type: ignore[arg-type]
    assert read_wav(io.BytesIO(bytes(pipe.data))) == (pcm, 8000)


def test_write_wav_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(AudioFormatError):
        write_wav(tmp_path / "x.wav", b"\x00\x00\x00", 16000)
    with pytest.raises(ValueError, match="rate"):
        write_wav(tmp_path / "x.wav", b"\x00\x00", 0)


def test_read_stereo_wav_downmixes_to_mean() -> None:
    left = np.array([1000, -2000, 32767, -32768, 3], dtype="<i2")
    right = np.array([3000, 2000, 32767, -32768, 0], dtype="<i2")
    frames = np.column_stack([left, right]).tobytes()
    pcm, rate = read_wav(stdlib_wav(2, 2, 22050, frames))
    assert rate == 22050
    assert pcm16_to_array(pcm).tolist() == [2000, 0, 32767, -32768, 2]  # 1.5 rounds to even


def test_read_8_24_32_bit_integer_wavs() -> None:
    expected = [0, 256, -256, 32512, -32768]
    u8 = bytes([128, 129, 127, 255, 0])
    assert read_wav(stdlib_wav(1, 1, 8000, u8)) == (struct.pack("<5h", *expected), 8000)

    values24 = [0, 0x0100, -0x0100, 0x7FFFFF, -0x800000, 0x0180]  # last: 1.5 LSB -> 2
    b24 = b"".join(v.to_bytes(3, "little", signed=True) for v in values24)
    pcm, _ = read_wav(stdlib_wav(1, 3, 48000, b24))
    assert pcm16_to_array(pcm).tolist() == [0, 1, -1, 32767, -32768, 2]

    i32 = np.array([0, 1 << 16, -(1 << 16), 2**31 - 1, -(2**31)], dtype="<i4").tobytes()
    pcm, _ = read_wav(stdlib_wav(1, 4, 16000, i32))
    assert pcm16_to_array(pcm).tolist() == [0, 1, -1, 32767, -32768]


@pytest.mark.parametrize("extensible", [False, True])
@pytest.mark.parametrize("dtype", ["<f4", "<f8"])
def test_read_float_wav(dtype: str, extensible: bool) -> None:
    signal = tone(440, 24000, 0.2, amplitude=0.8)
    signal[:3] = [1.5, -1.5, np.nan]  # out of range and NaN are clipped / zeroed
    left = signal.astype(dtype)
    right = (signal * 0.5).astype(dtype)
    frames = np.column_stack([left, right]).tobytes()
    width = np.dtype(dtype).itemsize
    data = riff(3, 2, 24000, width, frames, extensible=extensible)
    pcm, rate = read_wav(io.BytesIO(data))
    assert rate == 24000
    clipped = [np.clip(np.nan_to_num(ch.astype(np.float64)), -1, 1) for ch in (left, right)]
    expected = (clipped[0] + clipped[1]) / 2 * 32767  # the mean of the clipped channels
    assert np.max(np.abs(as_int(pcm) - expected)) <= 0.5 + 1e-6
    assert pcm16_to_array(pcm)[:3].tolist() == [28671, -28671, 0]  # (1 + 0.75) / 2, NaN -> 0


def test_read_extensible_pcm_24_in_32_and_mono_float() -> None:
    values = np.array([0, 1 << 16, -(1 << 16), 2**31 - 256], dtype="<i4")
    data = riff(1, 1, 16000, 4, values.tobytes(), extensible=True, valid_bits=24)
    assert pcm16_to_array(read_wav(io.BytesIO(data))[0]).tolist() == [0, 1, -1, 32767]
    mono = riff(3, 1, 16000, 4, np.array([0.5, -0.25], dtype="<f4").tobytes())
    assert pcm16_to_array(read_wav(io.BytesIO(mono))[0]).tolist() == [16384, -8192]


def test_read_g711_wav_with_extra_chunks_and_two_channels() -> None:
    ulaw = riff(7, 1, 8000, 1, bytes([0xFF, 0x80, 0x00]))  # silence, the loudest +, loudest -
    assert pcm16_to_array(read_wav(io.BytesIO(ulaw))[0]).tolist() == [0, 32124, -32124]
    alaw = riff(6, 2, 8000, 1, bytes([0xD5, 0xD5, 0xAA, 0x2A]))  # (0 + 0) / 2, (+ + -) / 2
    assert pcm16_to_array(read_wav(io.BytesIO(alaw))[0]).tolist() == [8, 0]


def test_read_wav_truncated_last_frame_is_dropped() -> None:
    frames = np.array([1, 2, 3, 4], dtype="<f4").tobytes()[:-1]
    pcm, _ = read_wav(io.BytesIO(riff(3, 1, 8000, 4, frames)))
    assert len(pcm) == 3 * SAMPLE_WIDTH


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "not a WAV"),
        (b"ID3\x03" + bytes(100), "not a WAV"),
        (b"RIFF\x04\x00\x00\x00WAVE", "fmt"),
        (riff(2, 1, 8000, 1, bytes(10)), r"unsupported WAV encoding: format tag 0x0002"),  # ADPCM
        (riff(3, 1, 8000, 2, bytes(10)), "unsupported WAV encoding"),  # 16-bit float
        (riff(1, 1, 8000, 4, bytes(8))[:44], "data"),  # header only, no data chunk
    ],
)
def test_read_wav_bad_files(data: bytes, match: str) -> None:
    with pytest.raises(AudioFormatError, match=match):
        read_wav(io.BytesIO(data))


def test_read_wav_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_wav(tmp_path / "nope.wav")


def test_bundled_speech_files() -> None:
    jfk = DATA / "jfk.wav"
    pcm, rate = read_wav(jfk)  # an importlib.resources Traversable
    assert rate == 16000
    assert bytes_to_ms(len(pcm), rate) == pytest.approx(11000, abs=1)
    assert np.abs(pcm16_to_float32(pcm)).max() > 0.5  # real audio, not silence
    pcm, rate = read_wav(DATA / "weather-question_flite_16k.wav")
    assert rate == 16000
    assert 1500 < bytes_to_ms(len(pcm), rate) < 3000
    assert "jfk.wav" in (DATA / "SOURCES.md").read_text(encoding="utf-8")


# -- Resampler -----------------------------------------------------------------------------

RATE_PAIRS = [(16000, 24000), (24000, 16000), (48000, 24000), (24000, 48000), (44100, 16000)]


@pytest.mark.parametrize(("from_rate", "to_rate"), RATE_PAIRS)
def test_streaming_resampler_matches_one_shot_and_analytic(from_rate: int, to_rate: int) -> None:
    # Three tones well inside both pass bands; 1 s split in 20 ms chunks.
    def signal(rate: int) -> npt.NDArray[np.float64]:
        return tone(440, rate, 1.0, 0.3) + tone(1234.5, rate, 1.0, 0.2) + tone(3000, rate, 1.0, 0.1)

    pcm = array_to_pcm16(signal(from_rate))
    streamed = stream_resample(pcm, from_rate, to_rate)
    one_shot = resample(pcm, from_rate, to_rate)

    n_in = len(pcm) // 2
    assert abs(len(streamed) // 2 - n_in * to_rate / from_rate) <= 0.5
    assert streamed == one_shot  # bit-exact: no trace of the 20 ms chunking
    # Against the analytic signal (edges excluded: the filter sees silence before t=0).
    expected = signal(to_rate)[: len(streamed) // 2] * 32767
    edge = to_rate // 100
    assert snr_db(expected[edge:-edge], as_int(streamed)[edge:-edge]) > 60
    # No clicks: the error right at chunk edges is as small as anywhere else.
    err = np.abs(as_int(streamed) - expected)[edge:-edge]
    assert err.max() < 20  # LSB, out of 32767


def test_chunk_by_chunk_one_shot_clicks_but_stream_does_not() -> None:
    pcm = array_to_pcm16(tone(440, 16000, 1.0))
    naive = b"".join(resample(c, 16000, 24000) for c in iter_chunks(pcm, 16000))
    reference = as_int(resample(pcm, 16000, 24000))
    assert snr_db(reference, as_int(naive)) < 50  # the edge artefacts a stateful one avoids
    assert snr_db(reference, as_int(stream_resample(pcm, 16000, 24000))) > 60


@given(st.lists(st.integers(0, 2000), max_size=40))
def test_resampler_is_independent_of_chunking(cuts: list[int]) -> None:
    pcm = array_to_pcm16(tone(700, 16000, 0.125))
    r = Resampler(16000, 24000)
    out, prev = [], 0
    for cut in [*sorted(c % len(pcm) for c in cuts), len(pcm)]:  # odd sizes included
        out.append(r.process(pcm[prev:cut]))
        prev = cut
    out.append(r.flush())
    got = b"".join(out)
    assert len(got) == 3000 * SAMPLE_WIDTH
    assert got == resample(pcm, 16000, 24000)


def test_resampler_output_is_reproducible() -> None:
    # soxr's own int16 mode dithers with a time-based seed; ours must not vary between runs.
    pcm = array_to_pcm16(tone(440, 24000, 0.5) + tone(5000, 24000, 0.5, 0.1))
    runs = {stream_resample(pcm, 24000, 16000) for _ in range(3)}
    runs.add(resample(pcm, 24000, 16000))
    assert len(runs) == 1


def test_resampler_saturates_instead_of_wrapping() -> None:
    # A full-scale square wave: the filter overshoots (Gibbs) to about +-40800.
    square = np.tile(np.r_[np.full(40, 32767), np.full(40, -32768)], 50).astype(np.int16)
    out = as_int(resample(square.tobytes(), 16000, 48000))
    assert out.max() == 32767
    assert out.min() == -32768
    # Clipped, never wrapped around: away from the edges every sample keeps the square's sign.
    ideal = np.repeat(square, 3).astype(np.float64)
    edges = np.flatnonzero(np.diff(ideal)) + 0.5
    distance = np.min(np.abs(np.arange(len(ideal))[:, None] - edges[None, :]), axis=1)
    away = distance > 2
    assert np.array_equal(np.sign(out[away]), np.sign(ideal[away]))


def test_resampler_latency_and_flush() -> None:
    r = Resampler(24000, 16000)
    chunk = array_to_pcm16(tone(440, 24000, 0.02))
    assert r.process(chunk) == b""  # soxr holds the whole first 20 ms chunk
    assert r.delay_ms == pytest.approx(20.0)
    total = 0
    for _ in range(49):
        total += len(r.process(chunk)) // 2
        assert 0 < r.delay_ms < 40
    tail = r.flush()
    assert total + len(tail) // 2 == 50 * 320
    assert r.delay_ms == 0.0
    assert r.flush() == b""
    # after flush the resampler starts a new stream, same as a fresh one
    fresh = Resampler(24000, 16000)
    assert [r.process(chunk) for _ in range(5)] == [fresh.process(chunk) for _ in range(5)]


def test_resampler_passes_through_equal_rates() -> None:
    r = Resampler(24000, 24000)
    chunk = array_to_pcm16(tone(440, 24000, 0.02))
    assert r.process(chunk) is chunk
    assert r.process(bytearray(chunk)) == chunk
    assert r.process(b"\x01") == b"\x01"  # byte-transparent
    assert r.delay_ms == 0.0
    assert r.flush() == b""
    assert resample(chunk, 24000, 24000) is chunk
    assert (r.from_rate, r.to_rate, r.quality) == (24000, 24000, "HQ")


@pytest.mark.parametrize("quality", ["QQ", "LQ", "MQ", "HQ", "VHQ"])
def test_resampler_qualities(quality: str) -> None:
    pcm = array_to_pcm16(tone(440, 16000, 0.5))
    out = as_int(stream_resample(pcm, 16000, 8000))
    assert len(out) == 4000
    assert snr_db(tone(440, 8000, 0.5)[400:-400] * 32767, out[400:-400]) > 40


def test_resampler_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="quality"):
        Resampler(16000, 24000, quality="best")
    with pytest.raises(ValueError, match="from_rate"):
        Resampler(0, 24000)
    with pytest.raises(ValueError, match="to_rate"):
        Resampler(16000, -1)
    with pytest.raises(AudioFormatError):
        resample(b"\x00\x00\x00", 16000, 24000)
    assert resample(b"", 16000, 24000) == b""


def test_jfk_round_trip_16k_24k_16k() -> None:
    pcm, rate = read_wav(DATA / "jfk.wav")
    assert rate == 16000
    up = stream_resample(pcm, 16000, 24000)
    assert bytes_to_ms(len(up), 24000) == pytest.approx(bytes_to_ms(len(pcm), 16000), abs=0.1)
    down = stream_resample(up, 24000, 16000)
    assert len(down) == len(pcm)  # duration preserved to the sample
    # and time-aligned with the original (no latency left in the output)
    assert snr_db(pcm16_to_float32(pcm), pcm16_to_float32(down)) > 50


# -- Chunker -------------------------------------------------------------------------------


def test_chunker_exact_chunks_and_remainder() -> None:
    c = Chunker(16000)
    assert c.chunk_bytes == 640
    assert [len(b) for b in c.push(bytes(1000))] == [640]
    assert c.pending_bytes == 360
    assert c.push(bytes(100)) == []
    data = bytes(range(256)) * 8  # 2048 distinct-ish bytes
    chunks = c.push(data)
    assert [len(b) for b in chunks] == [640, 640, 640]
    assert b"".join(chunks)[460:] == data[: 1920 - 460]
    assert c.flush() == data[1920 - 460 :]
    assert c.flush() == b""
    assert c.pending_bytes == 0


def test_chunker_sizes_per_rate() -> None:
    assert Chunker(24000).chunk_bytes == 960
    assert Chunker(16000, chunk_ms=10).chunk_bytes == 320
    assert Chunker(22050, chunk_ms=10).chunk_bytes == 442
    assert chunk_bytes(48000, 20) == 1920
    with pytest.raises(ValueError, match="no whole sample"):
        Chunker(1000, chunk_ms=0)
    with pytest.raises(ValueError, match="rate"):
        Chunker(0)


def test_chunker_passes_whole_frames_through() -> None:
    c = Chunker(16000)
    frame = bytes(640)
    (out,) = c.push(frame)
    assert out is frame
    assert c.push(bytearray(frame)) == [frame]
    assert c.push(memoryview(frame)) == [frame]


@given(st.lists(st.binary(max_size=1500), max_size=20), st.sampled_from([8000, 16000, 24000]))
def test_chunker_conserves_bytes(pushes: list[bytes], rate: int) -> None:
    c = Chunker(rate)
    chunks = [chunk for p in pushes for chunk in c.push(p)]
    rest = c.flush()
    assert all(len(chunk) == c.chunk_bytes for chunk in chunks)
    assert len(rest) < c.chunk_bytes
    assert b"".join(chunks) + rest == b"".join(pushes)


@given(st.binary(max_size=5000))
def test_iter_chunks(data: bytes) -> None:
    chunks = list(iter_chunks(data, 24000, 20))
    assert b"".join(chunks) == data
    assert all(len(chunk) == 960 for chunk in chunks[:-1])
    if data:
        assert 0 < len(chunks[-1]) <= 960
    else:
        assert chunks == []


def test_iter_chunks_validates_eagerly() -> None:
    with pytest.raises(ValueError, match="rate"):
        iter_chunks(b"", 0)


# -- stream_pcm16 / stream_wav -------------------------------------------------------------


async def test_stream_pcm16_paces_on_absolute_deadlines(autojump_clock: trio.abc.Clock) -> None:
    await trio.sleep(5)  # start anywhere on the clock
    pcm = bytes(640 * 10 + 100)
    start = trio.current_time()
    arrivals = []
    async for chunk in stream_pcm16(pcm, 16000):
        arrivals.append((trio.current_time() - start, len(chunk)))
    assert [n for _, n in arrivals] == [640] * 10 + [100]
    assert [t for t, _ in arrivals] == pytest.approx([k * 0.020 for k in range(11)], abs=1e-9)
    assert trio.current_time() - start == pytest.approx(0.2)  # no wait after the last chunk


async def test_stream_pcm16_slow_consumer_catches_up(autojump_clock: trio.abc.Clock) -> None:
    arrivals = []
    async for _ in stream_pcm16(bytes(960 * 8), 24000):
        arrivals.append(trio.current_time())
        if len(arrivals) == 3:
            await trio.sleep(0.050)  # late by 2.5 chunks: overdue chunks come at once
    expected = [0.0, 0.02, 0.04, 0.09, 0.09, 0.10, 0.12, 0.14]  # no drift afterwards
    assert arrivals == pytest.approx(expected, abs=1e-9)


async def test_stream_pcm16_not_realtime_does_not_sleep(autojump_clock: trio.abc.Clock) -> None:
    pcm = array_to_pcm16(tone(440, 16000, 1.0))
    agen = stream_pcm16(pcm, 16000, realtime=False)
    chunks = []
    while True:
        with trio.testing.assert_checkpoints():
            try:
                chunks.append(await agen.__anext__())
            except StopAsyncIteration:
                break
    assert trio.current_time() == 0.0
    assert len(chunks) == 50
    assert b"".join(chunks) == pcm


async def test_stream_pcm16_empty_input_checkpoints(autojump_clock: trio.abc.Clock) -> None:
    agen = stream_pcm16(b"", 16000)
    with trio.testing.assert_checkpoints(), pytest.raises(StopAsyncIteration):
        await agen.__anext__()


async def test_stream_pcm16_is_cancellable(autojump_clock: trio.abc.Clock) -> None:
    got = []
    with trio.move_on_after(0.110):
        async for chunk in stream_pcm16(bytes(640 * 100), 16000):
            got.append(chunk)
    assert len(got) == 6  # chunks at 0, 20, ..., 100 ms
    assert trio.current_time() == pytest.approx(0.110)


async def test_stream_wav_resamples_and_paces(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    pcm16k = array_to_pcm16(tone(440, 16000, 0.5))
    path = tmp_path / "tone.wav"
    write_wav(path, pcm16k, 16000)
    start = trio.current_time()
    chunks = [chunk async for chunk in stream_wav(path, rate=24000)]
    elapsed = trio.current_time() - start
    assert [len(c) for c in chunks] == [960] * 25
    assert b"".join(chunks) == resample(pcm16k, 16000, 24000)
    assert elapsed == pytest.approx(24 * 0.020)


async def test_stream_wav_native_rate_and_bundled_file(autojump_clock: trio.abc.Clock) -> None:
    chunks = [c async for c in stream_wav(DATA / "jfk.wav", realtime=False)]
    assert trio.current_time() == 0.0
    assert len(chunks) == 550  # 11.0 s in 20 ms chunks at 16 kHz
    assert {len(c) for c in chunks} == {640}
    assert b"".join(chunks) == read_wav(DATA / "jfk.wav")[0]


async def test_stream_wav_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav file at all")
    with pytest.raises(AudioFormatError):
        async for _ in stream_wav(bad):
            pass  # pragma: no cover
    with pytest.raises(ValueError, match="rate"):
        async for _ in stream_wav(bad, rate=0):
            pass  # pragma: no cover


async def test_trailing_silence_follows_the_audio_at_the_same_pace(
    autojump_clock: trio.abc.Clock,
) -> None:
    speech = bytes(range(256)) * 15  # 3840 bytes: 80 ms at 24 kHz
    start = trio.current_time()
    chunks = [c async for c in stream_pcm16(speech, 24000, trailing_silence_ms=100)]
    assert b"".join(chunks) == speech + bytes(4800)  # then 100 ms of zeros
    assert len(chunks) == 9
    assert trio.current_time() - start == pytest.approx(0.16)  # chunk 8 starts at 160 ms
    with pytest.raises(ValueError, match="trailing_silence_ms"):
        async for _ in stream_pcm16(speech, 24000, trailing_silence_ms=-1):
            pass  # pragma: no cover - refused first


async def test_the_shipped_clips_stream() -> None:
    pcm, rate = read_wav(sample("weather-question"))
    assert rate == 16000
    assert 2.0 < bytes_to_ms(len(pcm), rate) / 1000 < 2.5
    chunks = [c async for c in stream_wav(sample("jfk"), realtime=False, trailing_silence_ms=500)]
    assert bytes_to_ms(len(b"".join(chunks)), 16000) == pytest.approx(11_500, abs=20)
    with pytest.raises(ValueError, match="no clip"):
        sample("nope")  # type: ignore[arg-type]
