"""WAV file reading and writing (mono PCM16 in, mono PCM16 out).

Integer PCM goes through the stdlib ``wave`` module. Python 3.11's ``wave`` refuses
``WAVE_FORMAT_IEEE_FLOAT`` (3) and ``WAVE_FORMAT_EXTENSIBLE`` (0xFFFE), so those are read by the
small RIFF chunk parser below (Microsoft "Multimedia Programming Interface and Data
Specifications 1.0", RIFF/WAVE ``fmt `` and ``data`` chunks; ``WAVEFORMATEXTENSIBLE``).

``wave`` byte-swaps frames to and from native order on big-endian hosts, while PCM16 here is
little-endian by definition; rtsession targets little-endian hosts (x86-64, arm64).
"""

from __future__ import annotations

import functools
import io
import os
import struct
import wave
from collections.abc import Callable
from importlib.resources.abc import Traversable
from typing import Any, BinaryIO, Final, Literal, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

from ._g711 import alaw_to_pcm16, pcm16_to_alaw, pcm16_to_ulaw, ulaw_to_pcm16
from ._pcm import (
    SAMPLE_WIDTH,
    AudioFormatError,
    BytesLike,
    array_to_pcm16,
    byte_length,
    check_rate,
)

__all__ = ["WavEncoding", "WavSource", "read_wav", "write_wav"]

WavEncoding: TypeAlias = Literal["pcm16", "pcmu", "pcma"]
"""How ``write_wav`` stores the samples: 16-bit PCM, or G.711 mu-law / A-law (8 bits)."""

WavSource: TypeAlias = str | os.PathLike[str] | BinaryIO | Traversable
"""A WAV to read: a path, a binary file object open for reading, or an
``importlib.resources`` resource (e.g. ``files("rtsession") / "_data" / "jfk.wav"``)."""

_WAVE_FORMAT_PCM: Final = 0x0001
_WAVE_FORMAT_IEEE_FLOAT: Final = 0x0003
_WAVE_FORMAT_ALAW: Final = 0x0006
_WAVE_FORMAT_MULAW: Final = 0x0007
_TAGS: Final = {"pcmu": _WAVE_FORMAT_MULAW, "pcma": _WAVE_FORMAT_ALAW}
_G711: Final[dict[int, Callable[[BytesLike], bytes]]] = {
    _WAVE_FORMAT_MULAW: ulaw_to_pcm16,
    _WAVE_FORMAT_ALAW: alaw_to_pcm16,
}
_WAVE_FORMAT_EXTENSIBLE: Final = 0xFFFE
# KSDATAFORMAT_SUBTYPE_* GUIDs are the format tag followed by these 14 bytes.
_GUID_TAIL: Final = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"

_F = TypeVar("_F", bound=np.floating[Any])


def read_wav(source: WavSource) -> tuple[bytes, int]:
    """Read a WAV file as mono PCM16.

    Accepts integer PCM of 8, 16, 24 or 32 bits and IEEE float of 32 or 64 bits, plain or
    ``WAVE_FORMAT_EXTENSIBLE``, with any number of channels. Several channels are downmixed to
    mono by their mean; other depths are converted to 16 bits (8-bit is re-centred, 24/32-bit
    rounded to the nearest 16-bit value, float clipped to [-1, 1] and scaled by 32767). Mono
    16-bit files are returned as stored. A trailing partial frame is dropped.

    Args:
        source: a path, a binary file object (read from its current position to the end, not
            closed), or an ``importlib.resources`` ``Traversable``.

    Returns:
        ``(pcm16, rate)``: mono 16-bit signed little-endian PCM bytes (``2 * frames`` bytes)
        and the sample rate in Hz.

    Raises:
        AudioFormatError: the data is not a RIFF/WAVE file, is truncated before its audio, or
            uses an unsupported encoding (e.g. ADPCM, 16-bit float).
        OSError: the file cannot be opened or read (e.g. ``FileNotFoundError``).
    """
    data = _read_all(source)
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
        tag = _WAVE_FORMAT_PCM
    except (wave.Error, EOFError):
        # Not integer PCM (or not a WAV at all): parse the chunks ourselves, which either
        # handles float, G.711 and extensible or raises a clear AudioFormatError.
        channels, width, rate, tag, raw = _parse_riff(data)
    if channels < 1 or rate < 1:
        raise AudioFormatError(f"invalid WAV header: {channels} channels, {rate} Hz")
    if tag in _G711:
        raw, width = _G711[tag](raw[: len(raw) - len(raw) % channels]), SAMPLE_WIDTH
    return _to_mono_pcm16(raw, width, channels, is_float=tag == _WAVE_FORMAT_IEEE_FLOAT), rate


def write_wav(
    dest: str | os.PathLike[str] | BinaryIO,
    pcm16: BytesLike,
    rate: int,
    *,
    encoding: WavEncoding = "pcm16",
) -> None:
    """Write mono PCM16 audio as a WAV file: 16-bit PCM, or G.711 (8 bits per sample).

    Args:
        dest: a path (created or overwritten) or a binary file object open for writing
            (written from its current position, flushed, not closed; need not be seekable).
        pcm16: mono 16-bit signed little-endian PCM, ``2 * n`` bytes.
        rate: the sample rate in Hz (8000 for a telephone recording).
        encoding: ``"pcm16"``; ``"pcmu"`` (G.711 mu-law, format tag 7) or ``"pcma"``
            (A-law, tag 6), companded here, with the ``fact`` chunk non-PCM files carry.

    Raises:
        AudioFormatError: ``len(pcm16)`` is odd.
        ValueError: ``rate`` is not a positive integer, or an unknown ``encoding``.
        OSError: the file cannot be written.
    """
    check_rate(rate)
    if encoding not in ("pcm16", *_TAGS):
        raise ValueError(f"encoding must be 'pcm16', 'pcmu' or 'pcma', not {encoding!r}")
    n_bytes = byte_length(pcm16)
    if n_bytes % SAMPLE_WIDTH:
        raise AudioFormatError(f"PCM16 data must have an even length, got {n_bytes} bytes")
    if isinstance(pcm16, memoryview):
        pcm16 = pcm16.tobytes()  # wave counts len(), which is items for a typed view
    write = _write if encoding == "pcm16" else functools.partial(_write_g711, encoding)
    if isinstance(dest, str | os.PathLike):
        with open(os.fspath(dest), "wb") as f:
            write(f, pcm16, rate)
    else:
        write(dest, pcm16, rate)


def _write_g711(encoding: WavEncoding, f: BinaryIO, pcm16: BytesLike, rate: int) -> None:
    """RIFF/WAVE with an 18-byte ``fmt `` (``cbSize`` 0), ``fact`` and ``data`` chunks."""
    data = pcm16_to_ulaw(pcm16) if encoding == "pcmu" else pcm16_to_alaw(pcm16)
    fmt = struct.pack("<HHIIHHH", _TAGS[encoding], 1, rate, rate, 1, 8, 0)
    fact = struct.pack("<I", len(data))
    pad = b"\x00" * (len(data) & 1)
    body = b"".join(
        [
            b"WAVE",
            b"fmt ", struct.pack("<I", len(fmt)), fmt,
            b"fact", struct.pack("<I", len(fact)), fact,
            b"data", struct.pack("<I", len(data)), data, pad,
        ]
    )  # fmt: skip
    f.write(b"RIFF" + struct.pack("<I", len(body)) + body)
    f.flush()


def _write(f: BinaryIO, pcm16: BytesLike, rate: int) -> None:
    with wave.open(f, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(rate)
        # Known length up front: the header is written once, no seek back to patch it.
        w.setnframes(byte_length(pcm16) // SAMPLE_WIDTH)
        w.writeframes(pcm16)


def _read_all(source: WavSource) -> bytes:
    if isinstance(source, str | os.PathLike):
        with open(os.fspath(source), "rb") as f:
            return f.read()
    if isinstance(source, Traversable):
        return source.read_bytes()
    return source.read()


def _parse_riff(data: bytes) -> tuple[int, int, int, int, bytes]:
    """Find the ``fmt `` and ``data`` chunks; return (channels, width, rate, tag, raw)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError("not a WAV file (no RIFF/WAVE header)")
    fmt: bytes | None = None
    raw: bytes | None = None
    pos = 12
    while pos + 8 <= len(data) and (fmt is None or raw is None):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = data[pos + 8 : pos + 8 + size]  # a streamed WAV may claim more than it has
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data":
            raw = body
        pos += 8 + size + (size & 1)  # chunks are word-aligned
    if fmt is None or len(fmt) < 16:
        raise AudioFormatError("invalid WAV file: missing or short 'fmt ' chunk")
    if raw is None:
        raise AudioFormatError("invalid WAV file: no 'data' chunk")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _WAVE_FORMAT_EXTENSIBLE:
        if len(fmt) < 40 or fmt[26:40] != _GUID_TAIL:
            raise AudioFormatError("unsupported WAVE_FORMAT_EXTENSIBLE sub-format")
        (tag,) = struct.unpack_from("<H", fmt, 24)
    if channels < 1 or block_align % channels:
        raise AudioFormatError(
            f"invalid WAV header: {channels} channels, {block_align}-byte frames"
        )
    width = block_align // channels  # container size; may exceed bits (24 valid bits in 32)
    if (
        (tag == _WAVE_FORMAT_PCM and width in (1, 2, 3, 4))
        or (tag == _WAVE_FORMAT_IEEE_FLOAT and width in (4, 8))
        or (tag in _G711 and width == 1)
    ):
        return channels, width, rate, tag, raw
    raise AudioFormatError(
        f"unsupported WAV encoding: format tag 0x{tag:04x}, {bits} bits in {width} bytes "
        "(supported: integer PCM 8/16/24/32-bit, IEEE float 32/64-bit, G.711 mu-law and "
        "A-law 8-bit)"
    )


def _to_mono_pcm16(raw: bytes, width: int, channels: int, *, is_float: bool) -> bytes:
    """Convert interleaved little-endian frames to mono PCM16 bytes."""
    frame = width * channels
    if len(raw) % frame:
        raw = raw[: len(raw) - len(raw) % frame]
    if is_float:
        f = np.frombuffer(raw, dtype="<f4" if width == 4 else "<f8").astype(np.float64)
        np.nan_to_num(f, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
        np.clip(f, -1.0, 1.0, out=f)
        return array_to_pcm16(_downmix(f, channels))
    if width == SAMPLE_WIDTH and channels == 1:
        return raw
    # Integer PCM, scaled to the 16-bit range as float32 (exact for the 24 bits that matter).
    scaled: npt.NDArray[np.float32]
    if width == 1:  # unsigned, centred on 128
        scaled = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) * 256.0
    elif width == 2:
        scaled = np.frombuffer(raw, dtype="<i2").astype(np.float32)
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = (v << 8) >> 8  # sign-extend 24 -> 32 bits
        scaled = v.astype(np.float32) / np.float32(256.0)
    elif width == 4:
        scaled = (np.frombuffer(raw, dtype="<i4") >> 8).astype(np.float32) / np.float32(256.0)
    else:
        raise AudioFormatError(f"unsupported WAV sample width: {width} bytes")
    mono = _downmix(scaled, channels)
    np.rint(mono, out=mono)
    np.clip(mono, -32768.0, 32767.0, out=mono)
    return mono.astype("<i2").tobytes()


def _downmix(x: npt.NDArray[_F], channels: int) -> npt.NDArray[_F]:
    if channels == 1:
        return x
    mono: npt.NDArray[_F] = x.reshape(-1, channels).mean(axis=1, dtype=x.dtype)
    return mono
