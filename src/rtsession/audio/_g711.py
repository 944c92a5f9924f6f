"""G.711: mu-law and A-law companding of 16-bit PCM, as the telephone network carries it.

Bit-exact to the ITU-T G.711 reference as the classic Sun implementation (``g711.c``) gives
it, which CPython's ``audioop`` and the telephony stacks use: mu-law from the top 14 bits of
a sample, A-law from the top 13, each byte one sample at 8000 Hz. Vectorised with numpy
through lookup tables built on first use (256 entries to decode, 65,536 to encode).
"""

from __future__ import annotations

import functools
from typing import Final

import numpy as np
import numpy.typing as npt

from ._pcm import BytesLike, pcm16_to_array

__all__ = ["G711_RATE", "alaw_to_pcm16", "pcm16_to_alaw", "pcm16_to_ulaw", "ulaw_to_pcm16"]

G711_RATE: Final = 8000
"""The sample rate of G.711 audio (``audio/pcmu``, ``audio/pcma``), Hz."""

_BIAS: Final = 0x84
_ULAW_CLIP: Final = 8159
_ULAW_SEGMENT_ENDS: Final = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_ALAW_SEGMENT_ENDS: Final = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


def _every_sample() -> npt.NDArray[np.int32]:
    return np.arange(-32768, 32768, dtype=np.int32)


@functools.cache
def _ulaw_encoder() -> npt.NDArray[np.uint8]:
    """mu-law byte of every 16-bit sample, indexed by the sample as unsigned."""
    pcm = _every_sample() >> 2  # the 14-bit sample
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), _ULAW_CLIP) + (_BIAS >> 2)
    segment = np.searchsorted(np.array(_ULAW_SEGMENT_ENDS), magnitude)
    quantized = (np.minimum(segment, 7) << 4) | ((magnitude >> (np.minimum(segment, 7) + 1)) & 0xF)
    byte = np.where(segment >= 8, 0x7F, quantized) ^ mask
    return np.roll(byte.astype(np.uint8), -32768)


@functools.cache
def _alaw_encoder() -> npt.NDArray[np.uint8]:
    """A-law byte of every 16-bit sample, indexed by the sample as unsigned."""
    pcm = _every_sample() >> 3  # the 13-bit sample
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    magnitude = np.where(pcm >= 0, pcm, -pcm - 1)
    segment = np.searchsorted(np.array(_ALAW_SEGMENT_ENDS), magnitude)
    shift = np.where(segment < 2, 1, np.minimum(segment, 7))
    quantized = (np.minimum(segment, 7) << 4) | ((magnitude >> shift) & 0xF)
    byte = np.where(segment >= 8, 0x7F, quantized) ^ mask
    return np.roll(byte.astype(np.uint8), -32768)


@functools.cache
def _ulaw_decoder() -> npt.NDArray[np.int16]:
    value = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((value & 0x0F) << 3) + _BIAS) << ((value & 0x70) >> 4)
    return np.where(value & 0x80, _BIAS - t, t - _BIAS).astype("<i2")


@functools.cache
def _alaw_decoder() -> npt.NDArray[np.int16]:
    value = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (value & 0x70) >> 4
    t = (value & 0x0F) << 4
    t = np.where(segment == 0, t + 8, (t + 0x108) << np.maximum(segment - 1, 0))
    return np.where(value & 0x80, t, -t).astype("<i2")


def _encode(pcm16: BytesLike, table: npt.NDArray[np.uint8]) -> bytes:
    samples = pcm16_to_array(pcm16)
    return np.take(table, samples.view(np.uint16)).tobytes()  # take: 2x fancy indexing


def _decode(data: BytesLike, table: npt.NDArray[np.int16]) -> bytes:
    return np.take(table, np.frombuffer(data, dtype=np.uint8)).tobytes()


def pcm16_to_ulaw(pcm16: BytesLike) -> bytes:
    """Compand PCM16 to G.711 mu-law (``audio/pcmu``): one byte per sample.

    The rate does not change; resample to 8000 Hz first for the telephone network.

    Raises:
        AudioFormatError: ``pcm16`` is not whole 2-byte samples.
    """
    return _encode(pcm16, _ulaw_encoder())


def pcm16_to_alaw(pcm16: BytesLike) -> bytes:
    """Compand PCM16 to G.711 A-law (``audio/pcma``): one byte per sample.

    Raises:
        AudioFormatError: ``pcm16`` is not whole 2-byte samples.
    """
    return _encode(pcm16, _alaw_encoder())


def ulaw_to_pcm16(data: BytesLike) -> bytes:
    """Expand G.711 mu-law bytes to PCM16 (``2 * len(data)`` bytes, same rate)."""
    return _decode(data, _ulaw_decoder())


def alaw_to_pcm16(data: BytesLike) -> bytes:
    """Expand G.711 A-law bytes to PCM16 (``2 * len(data)`` bytes, same rate)."""
    return _decode(data, _alaw_decoder())
