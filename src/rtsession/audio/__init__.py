"""Audio helpers around a session: PCM16 <-> numpy, WAV I/O, resampling, chunking, pacing.

Audio on rtsession messages is ``bytes`` of mono 16-bit signed little-endian PCM ("PCM16");
its sample rate lives in ``SessionOptions`` (24 kHz for OpenAI, 16 kHz in / 24 kHz out for
Gemini Live). This package converts it to and from numpy arrays and WAV files, changes its
rate with a streaming soxr resampler, cuts it into 20 ms frames and paces it in real time,
and compands it to and from G.711 mu-law and A-law for telephony.
It tracks what has been played of each reply (``PlaybackTracker``, ``OutputBuffer``)
and, with the ``sound`` extra, opens a microphone and a speaker (``open_microphone``,
``open_speaker``).
"""

from .._public import publish
from ._chunk import Chunker as Chunker, chunk_bytes as chunk_bytes, iter_chunks as iter_chunks
from ._device import (
    AudioDeviceError as AudioDeviceError,
    Microphone as Microphone,
    Speaker as Speaker,
    open_microphone as open_microphone,
    open_speaker as open_speaker,
)
from ._g711 import (
    G711_RATE as G711_RATE,
    alaw_to_pcm16 as alaw_to_pcm16,
    pcm16_to_alaw as pcm16_to_alaw,
    pcm16_to_ulaw as pcm16_to_ulaw,
    ulaw_to_pcm16 as ulaw_to_pcm16,
)
from ._pcm import (
    SAMPLE_WIDTH as SAMPLE_WIDTH,
    AudioFormatError as AudioFormatError,
    BytesLike as BytesLike,
    array_to_pcm16 as array_to_pcm16,
    bytes_to_ms as bytes_to_ms,
    ms_to_samples as ms_to_samples,
    pcm16_to_array as pcm16_to_array,
    pcm16_to_float32 as pcm16_to_float32,
    samples_to_ms as samples_to_ms,
)
from ._playback import (
    OutputBuffer as OutputBuffer,
    Playback as Playback,
    PlaybackTracker as PlaybackTracker,
    PlayedPosition as PlayedPosition,
)
from ._resample import QUALITIES as QUALITIES, Resampler as Resampler, resample as resample
from ._source import sample as sample, stream_pcm16 as stream_pcm16, stream_wav as stream_wav
from ._wav import (
    WavEncoding as WavEncoding,
    WavSource as WavSource,
    read_wav as read_wav,
    write_wav as write_wav,
)

__all__ = [
    "G711_RATE",
    "QUALITIES",
    "SAMPLE_WIDTH",
    "AudioDeviceError",
    "AudioFormatError",
    "BytesLike",
    "Chunker",
    "Microphone",
    "OutputBuffer",
    "Playback",
    "PlaybackTracker",
    "PlayedPosition",
    "Resampler",
    "Speaker",
    "WavEncoding",
    "WavSource",
    "alaw_to_pcm16",
    "array_to_pcm16",
    "bytes_to_ms",
    "chunk_bytes",
    "iter_chunks",
    "ms_to_samples",
    "open_microphone",
    "open_speaker",
    "pcm16_to_alaw",
    "pcm16_to_array",
    "pcm16_to_float32",
    "pcm16_to_ulaw",
    "read_wav",
    "resample",
    "sample",
    "samples_to_ms",
    "stream_pcm16",
    "stream_wav",
    "ulaw_to_pcm16",
    "write_wav",
]

publish(__name__, globals())
del publish
