"""Cutting PCM16 into fixed-duration chunks (20 ms frames by default)."""

from __future__ import annotations

from collections.abc import Iterator

from ._pcm import SAMPLE_WIDTH, BytesLike, byte_length, ms_to_samples

__all__ = ["Chunker", "chunk_bytes", "iter_chunks"]


def chunk_bytes(rate: int, chunk_ms: float) -> int:
    """Bytes in one chunk of ``chunk_ms`` ms of mono PCM16 at ``rate`` Hz.

    The chunk holds ``ms_to_samples(chunk_ms, rate)`` whole samples (e.g. 640 bytes for 20 ms
    at 16 kHz, 960 bytes at 24 kHz).

    Raises:
        ValueError: ``rate`` is not a positive integer, or the chunk would hold no sample.
    """
    n = ms_to_samples(chunk_ms, rate)
    if n < 1:
        raise ValueError(f"a {chunk_ms} ms chunk at {rate} Hz holds no whole sample")
    return n * SAMPLE_WIDTH


class Chunker:
    """Collects PCM16 of any size and hands it out in whole chunks of a fixed duration.

    Streaming APIs want steady frames (20 ms is the usual size for a realtime session), while
    microphones, files and TTS engines deliver arbitrary amounts. Every byte pushed comes out
    exactly once, in order: ``b"".join(chunks) + chunker.flush()`` equals what was pushed.

    Examples:
        >>> c = Chunker(16000)            # 20 ms = 320 samples = 640 bytes
        >>> [len(b) for b in c.push(bytes(1000))]
        [640]
        >>> [len(b) for b in c.push(bytes(1000))]
        [640, 640]
        >>> len(c.flush())
        80

    Args:
        rate: the sample rate in Hz.
        chunk_ms: the chunk duration in ms; the chunk holds ``ms_to_samples(chunk_ms, rate)``
            samples.

    Raises:
        ValueError: ``rate`` is not a positive integer, or the chunk would hold no sample.
    """

    __slots__ = ("_buf", "_chunk_bytes", "_rate")

    def __init__(self, rate: int, chunk_ms: int = 20) -> None:
        self._chunk_bytes = chunk_bytes(rate, chunk_ms)
        self._rate = rate
        self._buf = bytearray()

    @property
    def rate(self) -> int:
        """The sample rate in Hz."""
        return self._rate

    @property
    def chunk_bytes(self) -> int:
        """The size of a whole chunk in bytes (twice its number of samples)."""
        return self._chunk_bytes

    @property
    def pending_bytes(self) -> int:
        """Bytes held that do not yet make a whole chunk (less than ``chunk_bytes``)."""
        return len(self._buf)

    def push(self, pcm16: BytesLike) -> list[bytes]:
        """Add audio and take out every whole chunk now available.

        Args:
            pcm16: mono PCM16 bytes of any length (an odd byte is kept for the next push).

        Returns:
            Zero or more chunks, each exactly ``chunk_bytes`` bytes, oldest first.
        """
        size = self._chunk_bytes
        buf = self._buf
        if not buf and byte_length(pcm16) == size:  # the common case: already one frame
            return [pcm16 if isinstance(pcm16, bytes) else bytes(pcm16)]
        buf += pcm16
        n = len(buf) // size
        if not n:
            return []
        with memoryview(buf) as view:
            chunks = [view[i * size : (i + 1) * size].tobytes() for i in range(n)]
        del buf[: n * size]
        return chunks

    def flush(self) -> bytes:
        """Take out the remainder, shorter than a chunk (possibly ``b""``), and start afresh."""
        rest = bytes(self._buf)
        self._buf.clear()
        return rest


def iter_chunks(pcm16: BytesLike, rate: int, chunk_ms: int = 20) -> Iterator[bytes]:
    """Split a buffer into chunks of ``chunk_ms`` ms.

    Args:
        pcm16: mono PCM16 bytes.
        rate: the sample rate in Hz.
        chunk_ms: the chunk duration in ms.

    Yields:
        Chunks of exactly ``chunk_bytes(rate, chunk_ms)`` bytes, then the shorter remainder
        if any. Their concatenation equals ``pcm16``.

    Raises:
        ValueError: ``rate`` is not a positive integer, or the chunk would hold no sample.
    """
    size = chunk_bytes(rate, chunk_ms)  # validated before the first next()
    return _iter(bytes(pcm16), size)


def _iter(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
