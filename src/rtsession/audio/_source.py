"""Async sources: stream PCM16 or a WAV file in chunks at real-time pace."""

from __future__ import annotations

import importlib.resources
from collections.abc import AsyncIterator, Iterator
from importlib.resources.abc import Traversable
from typing import Literal

import trio

from ._chunk import chunk_bytes
from ._pcm import SAMPLE_WIDTH, BytesLike, check_rate
from ._resample import Resampler
from ._wav import WavSource, read_wav

__all__ = ["sample", "stream_pcm16", "stream_wav"]


async def stream_pcm16(
    pcm16: BytesLike,
    rate: int,
    *,
    chunk_ms: int = 20,
    realtime: bool = True,
    trailing_silence_ms: int = 0,
) -> AsyncIterator[bytes]:
    """Yield a buffer in chunks, paced like a live microphone.

    Chunk ``k`` (from 0) is released at ``start + k * chunk_ms`` ms (``start`` being the trio
    clock at the first ``__anext__``; the chunk duration is taken from its whole number of
    samples), on absolute deadlines with ``trio.sleep_until``, so slow consumers or
    scheduling jitter do not accumulate drift: a consumer that falls
    behind gets the overdue chunks at once and is back on schedule. With ``realtime=False``
    chunks come as fast as they are taken, still with a checkpoint before each one (and at the
    end), so a long buffer cannot starve other tasks. The counterpart of the .NET samples'
    ``SendInputAudioAsync(Stream)``::

        async for chunk in stream_pcm16(pcm16, 24000):
            await session.send(messages.InputAudioBufferAppend(audio=chunk))

    The generator holds no nursery, cancel scope or resource, so breaking out of the loop
    early needs no cleanup.

    Args:
        pcm16: mono PCM16 bytes at ``rate``.
        rate: the sample rate in Hz.
        chunk_ms: the chunk duration in ms (20 ms = 640 bytes at 16 kHz, 960 at 24 kHz).
        realtime: pace the chunks in real time (trio's clock); ``False`` for as fast as taken.
        trailing_silence_ms: silence streamed after the audio, in ms, paced like it. A
            server's voice activity detection ends a turn only after this much silence
            (``ServerVad.silence_duration_ms``, 200-500 ms by default), so an utterance
            streamed from a file needs it to be answered: 1000 is enough for the defaults.

    Yields:
        ``bytes`` chunks of ``chunk_bytes(rate, chunk_ms)`` bytes, the last possibly shorter.

    Raises:
        ValueError: ``rate`` is not a positive integer, the chunk would hold no sample, or
            ``trailing_silence_ms`` is negative (raised on the first iteration).
    """
    size = chunk_bytes(rate, chunk_ms)
    data = bytes(pcm16) + _silence(rate, trailing_silence_ms)
    start = trio.current_time()
    for offset, chunk in _schedule(data, rate, size):
        if realtime:
            await trio.sleep_until(start + offset)
        else:
            await trio.lowlevel.checkpoint()
        yield chunk
    await trio.lowlevel.checkpoint()  # the final __anext__ checkpoints too


async def stream_wav(
    source: WavSource,
    *,
    rate: int | None = None,
    chunk_ms: int = 20,
    realtime: bool = True,
    trailing_silence_ms: int = 0,
) -> AsyncIterator[bytes]:
    """Read a WAV file and yield it as mono PCM16 chunks, paced like a live microphone.

    The file is read (and resampled) in a worker thread with ``trio.to_thread.run_sync``
    before the first chunk, then streamed as ``stream_pcm16`` does.

    Args:
        source: a path, binary file object or ``importlib.resources`` resource; see
            ``read_wav`` for the accepted encodings (stereo is downmixed to mono).
        rate: the sample rate in Hz to stream at, e.g. the session's input rate; the audio is
            converted with ``Resampler`` (soxr HQ, flushed at the end) when the file's
            rate differs. ``None`` streams at the file's own rate.
        chunk_ms: the chunk duration in ms.
        realtime: pace the chunks in real time; ``False`` for as fast as taken.
        trailing_silence_ms: silence streamed after the file, in ms, so a server's voice
            activity detection sees the utterance end (see ``stream_pcm16``).

    Yields:
        ``bytes`` chunks of mono PCM16 at ``rate`` (or the file's rate), ``chunk_ms`` long,
        the last possibly shorter.

    Raises:
        AudioFormatError: the file is not a supported WAV (see ``read_wav``).
        OSError: the file cannot be read.
        ValueError: ``rate`` is not a positive integer, the chunk would hold no sample, or
            ``trailing_silence_ms`` is negative.
    """
    if rate is not None:
        check_rate(rate)
    pcm16, out_rate = await trio.to_thread.run_sync(_load, source, rate)
    chunks = stream_pcm16(
        pcm16,
        out_rate,
        chunk_ms=chunk_ms,
        realtime=realtime,
        trailing_silence_ms=trailing_silence_ms,
    )
    async for chunk in chunks:
        yield chunk


def _silence(rate: int, ms: int) -> bytes:
    if ms < 0:
        raise ValueError(f"trailing_silence_ms must not be negative, got {ms}")
    return bytes(ms * rate // 1000 * 2)


def sample(name: Literal["jfk", "weather-question"]) -> Traversable:
    """A speech clip shipped with rtsession, for examples and tests (pass it to
    ``stream_wav`` or ``read_wav``).

    Args:
        name: ``"jfk"``: 11 s of John F. Kennedy's 1961 inaugural address ("And so, my fellow
            Americans, ask not what your country can do for you...", 16 kHz, public domain);
            ``"weather-question"``: "What is the weather in Paris today?" (2.2 s, 16 kHz,
            synthesised with flite).

    Raises:
        ValueError: ``name`` is not one of the clips.
    """
    files = {"jfk": "jfk.wav", "weather-question": "weather-question_flite_16k.wav"}
    if name not in files:
        raise ValueError(f"no clip {name!r}: the clips are {', '.join(files)}")
    return importlib.resources.files("rtsession") / "_data" / files[name]


def _load(source: WavSource, rate: int | None) -> tuple[bytes, int]:
    pcm16, file_rate = read_wav(source)
    if rate is None or rate == file_rate:
        return pcm16, file_rate
    resampler = Resampler(file_rate, rate)
    return resampler.process(pcm16) + resampler.flush(), rate


def _schedule(data: bytes, rate: int, size: int) -> Iterator[tuple[float, bytes]]:
    """Yield ``(release offset in s, chunk)``; offsets come from sample counts, not sums."""
    for start in range(0, len(data), size):
        yield start / (SAMPLE_WIDTH * rate), data[start : start + size]
