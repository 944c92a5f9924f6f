"""G.711 mu-law and A-law: bit-exact against CPython 3.11's ``audioop`` (the Sun reference
implementation of ITU-T G.711) on every input, and G.711 WAV files."""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

from rtsession.audio import (
    AudioFormatError,
    alaw_to_pcm16,
    pcm16_to_alaw,
    pcm16_to_ulaw,
    read_wav,
    resample,
    ulaw_to_pcm16,
    write_wav,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # removed in 3.13; an oracle here
    import audioop

EVERY_SAMPLE = np.arange(-32768, 32768, dtype="<i2").tobytes()
EVERY_BYTE = bytes(range(256))


def test_encoding_every_sample_matches_the_reference() -> None:
    assert pcm16_to_ulaw(EVERY_SAMPLE) == audioop.lin2ulaw(EVERY_SAMPLE, 2)
    assert pcm16_to_alaw(EVERY_SAMPLE) == audioop.lin2alaw(EVERY_SAMPLE, 2)


def test_decoding_every_byte_matches_the_reference() -> None:
    assert ulaw_to_pcm16(EVERY_BYTE) == audioop.ulaw2lin(EVERY_BYTE, 2)
    assert alaw_to_pcm16(EVERY_BYTE) == audioop.alaw2lin(EVERY_BYTE, 2)


@given(st.binary(max_size=400).filter(lambda b: len(b) % 2 == 0))
def test_a_round_trip_stays_within_the_quantisation_step(pcm: bytes) -> None:
    for encode, decode in ((pcm16_to_ulaw, ulaw_to_pcm16), (pcm16_to_alaw, alaw_to_pcm16)):
        original = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
        back = np.frombuffer(decode(encode(pcm)), dtype="<i2").astype(np.int32)
        # the step grows with the magnitude: at most 1/16 of it, plus the smallest step
        assert np.all(np.abs(back - original) <= np.abs(original) // 16 + 16)


def test_decoded_codes_encode_back_to_themselves() -> None:
    assert pcm16_to_alaw(alaw_to_pcm16(EVERY_BYTE)) == EVERY_BYTE
    # mu-law has two codes for zero (0x7F and 0xFF); every other code is its own
    canonical = bytes(b for b in EVERY_BYTE if b != 0x7F)
    assert pcm16_to_ulaw(ulaw_to_pcm16(canonical)) == canonical


def test_odd_pcm_is_refused() -> None:
    with pytest.raises(AudioFormatError):
        pcm16_to_ulaw(b"\x00")


@pytest.mark.parametrize(
    ("encoding", "tag", "decode"), [("pcmu", 7, audioop.ulaw2lin), ("pcma", 6, audioop.alaw2lin)]
)
def test_g711_wav_files_are_written_and_read(encoding: str, tag: int, decode: object) -> None:
    tone = (np.sin(np.arange(800) / 5) * 12000).astype("<i2").tobytes()
    file = io.BytesIO()
    write_wav(file, tone, 8000, encoding=encoding)  # type: ignore[arg-type]
    data = file.getvalue()
    assert data[:4] == b"RIFF"
    assert data[8:16] == b"WAVEfmt "
    (format_tag, channels, rate, byte_rate, align, bits) = struct.unpack_from("<HHIIHH", data, 20)
    assert (format_tag, channels, rate, byte_rate, align, bits) == (tag, 1, 8000, 8000, 1, 8)
    assert b"fact" in data
    pcm, rate = read_wav(io.BytesIO(data))
    assert rate == 8000
    companded = data[data.index(b"data") + 8 :]
    assert pcm == decode(companded, 2)  # type: ignore[operator]


def test_a_telephone_recording_goes_to_the_sessions_rate() -> None:
    pcm = ulaw_to_pcm16(pcm16_to_ulaw((np.sin(np.arange(8000) / 3) * 9000).astype("<i2").tobytes()))
    assert len(resample(pcm, 8000, 24000)) == 3 * len(pcm)


def test_an_unknown_encoding_is_refused() -> None:
    with pytest.raises(ValueError, match="encoding"):
        write_wav(io.BytesIO(), b"", 8000, encoding="gsm")  # type: ignore[arg-type]
