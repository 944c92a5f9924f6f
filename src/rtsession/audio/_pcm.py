"""PCM16 bytes <-> numpy arrays, and sample / millisecond / byte arithmetic.

Audio in rtsession is ``bytes`` of mono 16-bit signed little-endian PCM (the wire's ``pcm16``,
OpenAI ``audio/pcm``, Gemini ``audio/pcm;rate=...``); its rate lives in ``SessionOptions``.
"""

from __future__ import annotations

import math
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt

from .._errors import RTSessionError

__all__ = [
    "SAMPLE_WIDTH",
    "AudioFormatError",
    "BytesLike",
    "array_to_pcm16",
    "byte_length",
    "bytes_to_ms",
    "ms_to_samples",
    "pcm16_to_array",
    "pcm16_to_float32",
    "samples_to_ms",
]

SAMPLE_WIDTH: Final = 2
"""Bytes per PCM16 sample (mono, so also bytes per frame)."""

BytesLike: TypeAlias = bytes | bytearray | memoryview
"""What the audio functions accept as PCM16 input: any contiguous bytes-like object."""

_INT16_LE: Final = np.dtype("<i2")


class AudioFormatError(RTSessionError, ValueError):
    """Audio data is not what it claims to be.

    Raised for PCM16 buffers whose length is not a whole number of samples (odd byte count),
    and by ``read_wav`` for files that are not RIFF/WAVE or use an unsupported encoding.
    Subclasses ``ValueError``, so ``except ValueError`` catches it too.
    """


def check_rate(rate: int, name: str = "rate") -> None:
    """Raise ``ValueError`` unless ``rate`` (Hz) is a positive integer."""
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer) or rate <= 0:
        raise ValueError(f"{name} must be a positive integer in Hz, got {rate!r}")


def byte_length(data: BytesLike) -> int:
    """The size of ``data`` in bytes (``len`` counts items for a typed ``memoryview``)."""
    return data.nbytes if isinstance(data, memoryview) else len(data)


def pcm16_to_array(data: BytesLike) -> npt.NDArray[np.int16]:
    """View PCM16 bytes as a numpy array, without copying.

    Args:
        data: mono 16-bit signed little-endian PCM, ``2 * n`` bytes.

    Returns:
        A 1-D array of shape ``(n,)`` and dtype ``int16`` (little-endian) that shares memory
        with ``data``: read-only when ``data`` is ``bytes``, writable for a ``bytearray``.

    Raises:
        AudioFormatError: ``len(data)`` is odd (not a whole number of samples).
    """
    n_bytes = byte_length(data)
    if n_bytes % SAMPLE_WIDTH:
        raise AudioFormatError(f"PCM16 data must have an even length, got {n_bytes} bytes")
    return np.frombuffer(data, dtype=_INT16_LE)


def pcm16_to_float32(data: BytesLike) -> npt.NDArray[np.float32]:
    """Convert PCM16 bytes to float samples in ``[-1.0, 1.0)``.

    Each sample is divided by 32768, so -32768 maps to -1.0 and 32767 to 0.99997.

    Args:
        data: mono 16-bit signed little-endian PCM, ``2 * n`` bytes.

    Returns:
        A new 1-D array of shape ``(n,)`` and dtype ``float32``.

    Raises:
        AudioFormatError: ``len(data)`` is odd.
    """
    out = pcm16_to_array(data).astype(np.float32)
    out *= np.float32(1.0 / 32768.0)
    return out


def array_to_pcm16(samples: npt.NDArray[np.int16] | npt.NDArray[np.floating[Any]]) -> bytes:
    """Convert a numpy array of samples to PCM16 bytes.

    ``int16`` arrays are written as they are. Float arrays are taken as ``[-1.0, 1.0]``: values
    are clipped to that range (NaN becomes 0), multiplied by 32767 and rounded to the nearest
    integer. A multi-dimensional array is flattened in C order, so a ``(frames, channels)``
    array becomes interleaved PCM; pass a 1-D array for the mono audio rtsession uses.

    Args:
        samples: an array of dtype ``int16`` or any float dtype, shape ``(n,)``.

    Returns:
        ``2 * n`` bytes of 16-bit signed little-endian PCM.

    Raises:
        TypeError: ``samples`` has another dtype (e.g. ``int32``); scale it to ``int16`` or
            to floats in ``[-1, 1]`` first.
    """
    a = np.asarray(samples)
    if a.dtype.kind == "i" and a.dtype.itemsize == SAMPLE_WIDTH:  # int16, either byte order
        return a.astype(_INT16_LE, copy=False).tobytes()
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"expected an int16 or float array, got dtype {a.dtype}")
    # a copy we may modify in place; float16 is widened so that 32767 is exact
    f: npt.NDArray[np.floating[Any]] = a.astype(np.float64 if a.dtype.itemsize > 4 else np.float32)
    np.nan_to_num(f, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    np.clip(f, -1.0, 1.0, out=f)
    f *= 32767.0
    np.rint(f, out=f)
    return f.astype(_INT16_LE).tobytes()


def samples_to_ms(n_samples: int, rate: int) -> float:
    """Duration of ``n_samples`` samples at ``rate`` Hz, in milliseconds.

    Raises:
        ValueError: ``rate`` is not a positive integer.
    """
    check_rate(rate)
    return n_samples * 1000.0 / rate


def ms_to_samples(ms: float, rate: int) -> int:
    """Number of samples in ``ms`` milliseconds at ``rate`` Hz, rounded to the nearest sample.

    Halves round up, e.g. ``ms_to_samples(20, 16000) == 320``,
    ``ms_to_samples(10, 22050) == 221`` (220.5 samples).

    Raises:
        ValueError: ``rate`` is not a positive integer.
    """
    check_rate(rate)
    return math.floor(ms * rate / 1000.0 + 0.5)


def bytes_to_ms(n_bytes: int, rate: int) -> float:
    """Duration of ``n_bytes`` bytes of mono PCM16 at ``rate`` Hz, in milliseconds.

    Raises:
        ValueError: ``rate`` is not a positive integer.
    """
    check_rate(rate)
    return n_bytes * 1000.0 / (SAMPLE_WIDTH * rate)
