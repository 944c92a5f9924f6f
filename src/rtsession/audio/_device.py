"""A microphone and a speaker on PortAudio (through sounddevice), bridged into trio."""

from __future__ import annotations

import importlib
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from types import ModuleType
from typing import Any, Literal, final

import trio

from .._errors import RTSessionError
from ._pcm import BytesLike, check_rate
from ._playback import OutputBuffer, PlaybackTracker

__all__ = ["AudioDeviceError", "Microphone", "Speaker", "open_microphone", "open_speaker"]

Device = int | str | None
_Kind = Literal["input", "output"]


class AudioDeviceError(RTSessionError, OSError):
    """A sound device cannot be used (the machine's, not the app's code).

    Raised by ``open_microphone`` and ``open_speaker`` when the ``sound`` extra or
    the PortAudio library is missing, when no device matches (or there is none), when the
    device cannot record or play 16-bit mono at the rate asked for, or when it is busy.
    The message names the devices that are available.
    """


def _sounddevice() -> ModuleType:
    try:
        return importlib.import_module("sounddevice")
    except ModuleNotFoundError:
        raise AudioDeviceError(
            "the microphone and speaker need the 'sound' extra: pip install 'rtsession[sound]'"
        ) from None
    except OSError as error:  # sounddevice raises it when libportaudio is missing
        raise AudioDeviceError(
            f"the PortAudio library cannot be loaded ({error}); install it, e.g. "
            "'apt install libportaudio2' on Debian and Ubuntu"
        ) from None


def _available(sd: ModuleType, kind: _Kind) -> str:
    key = f"max_{kind}_channels"
    found = [f"{d['index']}: {d['name']!r}" for d in sd.query_devices() if d[key] > 0]
    return f"{kind} devices: " + (", ".join(found) if found else "none")


def _resolve(sd: ModuleType, device: Device, kind: _Kind) -> tuple[int, str]:
    """The PortAudio index and name of ``device`` (None: the default one)."""
    devices: list[dict[str, Any]] = list(sd.query_devices())
    key = f"max_{kind}_channels"
    if device is None:
        index = sd.default.device[0 if kind == "input" else 1]
        if index is None or index < 0:
            raise AudioDeviceError(f"there is no default {kind} device; {_available(sd, kind)}")
    elif isinstance(device, int) and not isinstance(device, bool):
        index = device
    elif isinstance(device, str):
        exact = [d["index"] for d in devices if d["name"] == device and d[key] > 0]
        near = [d["index"] for d in devices if device.lower() in d["name"].lower() and d[key]]
        matches = exact or near
        if len(matches) != 1:
            how = "no" if not matches else "more than one"
            raise AudioDeviceError(
                f"{how} {kind} device matches {device!r}; {_available(sd, kind)}"
            )
        index = matches[0]
    else:
        raise TypeError(f"device must be an index, a name or None, not {device!r}")
    if not 0 <= index < len(devices) or devices[index][key] < 1:
        raise AudioDeviceError(f"{index} is not an {kind} device; {_available(sd, kind)}")
    return index, str(devices[index]["name"])


def _frame_samples(rate: int, frame_ms: float) -> int:
    check_rate(rate)
    samples = rate * frame_ms / 1000
    if not (frame_ms > 0 and samples == int(samples)):
        raise ValueError(f"frame_ms must be a positive whole number of samples at {rate} Hz")
    return int(samples)


async def _open_stream(
    sd: ModuleType, kind: _Kind, device: tuple[int, str], **settings: Any
) -> Any:
    """Open and start a 16-bit mono stream on the resolved ``(index, name)``, every PortAudio
    failure as AudioDeviceError."""
    index, name = device
    stream_type = sd.RawInputStream if kind == "input" else sd.RawOutputStream
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    rate = settings["samplerate"]
    try:
        check(device=index, channels=1, dtype="int16", samplerate=rate)
    except sd.PortAudioError as error:
        raise AudioDeviceError(
            f"{kind} device {index} {name!r} cannot take 16-bit mono at {rate} Hz ({error}); "
            + _available(sd, kind)
        ) from None

    def start() -> Any:
        stream = stream_type(device=index, channels=1, dtype="int16", **settings)
        try:
            stream.start()
        except BaseException:
            stream.close()
            raise
        return stream

    try:
        return await trio.to_thread.run_sync(start)
    except sd.PortAudioError as error:
        raise AudioDeviceError(
            f"cannot open {kind} device {index} {name!r} ({error}); it may be busy. "
            + _available(sd, kind)
        ) from None


async def _close_stream(stream: Any) -> None:
    with trio.CancelScope(shield=True):
        await trio.to_thread.run_sync(stream.close)


@final
class Microphone(trio.abc.ReceiveChannel[bytes]):
    """Frames of 16-bit mono PCM from a sound device, made by ``open_microphone``.

    Receive frames with ``async for frame in microphone`` (or ``receive``): each is
    ``frame_samples`` samples (``2 * frame_samples`` bytes) at ``rate`` Hz, in order.

    Attributes:
        rate: samples per second (Hz).
        frame_samples: samples per frame.
        device: the device's name.
        overruns: frames dropped because the app did not take them in time (the channel
            was full), plus the device's own input overflows; counted, never silent.
    """

    def __init__(self, rate: int, frame_samples: int, device: str, buffer_frames: int) -> None:
        self.rate = rate
        self.frame_samples = frame_samples
        self.device = device
        self.overruns = 0
        self._send, self._receive = trio.open_memory_channel[bytes](buffer_frames)
        self._token = trio.lowlevel.current_trio_token()

    def _callback(self, data: Any, frames: int, time: Any, status: Any) -> None:
        """PortAudio's thread: hand the frame to trio without waiting."""
        frame, overflow = bytes(data), bool(status.input_overflow)
        with suppress(trio.RunFinishedError):  # the app's trio run is over
            self._token.run_sync_soon(self._deliver, frame, overflow)

    def _deliver(self, frame: bytes, overflow: bool) -> None:
        self.overruns += overflow
        try:
            self._send.send_nowait(frame)
        except trio.WouldBlock:
            self.overruns += 1
        except trio.ClosedResourceError:
            pass

    async def receive(self) -> bytes:
        """The next frame; waits for it.

        Raises:
            trio.EndOfChannel: the microphone was closed (its block was left).

        Cancellation: no frame is lost; the next call gets it.
        """
        return await self._receive.receive()

    async def aclose(self) -> None:
        """Stop delivering frames (the device is closed when the block is left)."""
        self._send.close()
        await self._receive.aclose()


@asynccontextmanager
async def open_microphone(
    rate: int = 24000,
    *,
    frame_ms: float = 20,
    device: Device = None,
    buffer_ms: float = 1000,
) -> AsyncIterator[Microphone]:
    """Record 16-bit mono PCM from a sound device, as a channel of frames.

    ::

        async with rtsession.audio.open_microphone(24000) as microphone:
            async for frame in microphone:          # 20 ms = 480 samples = 960 bytes
                await session.send(InputAudioBufferAppend(audio=frame))

    PortAudio's audio thread hands each frame to trio without blocking; up to ``buffer_ms``
    of frames wait for the app, and frames beyond that are dropped and counted in
    ``Microphone.overruns``.

    Args:
        rate: sample rate in Hz (the session's input rate: 24000 for OpenAI, 16000 for
            Gemini).
        frame_ms: frame length in ms; must be a whole number of samples.
        device: a PortAudio device index, (part of) its name, or ``None`` for the default
            input device.
        buffer_ms: how much audio may wait for the app before frames are dropped.

    Raises:
        AudioDeviceError: no such device, it cannot record at ``rate``, it is busy, or
            PortAudio or the ``sound`` extra is missing.
        ValueError: a bad ``rate``, ``frame_ms`` or ``buffer_ms``.

    Cancellation: the device is closed (shielded, in a worker thread).
    """
    frame_samples = _frame_samples(rate, frame_ms)
    if not buffer_ms >= frame_ms:
        raise ValueError(f"buffer_ms must hold at least one frame ({frame_ms} ms)")
    sd = _sounddevice()
    resolved = _resolve(sd, device, "input")
    microphone = Microphone(rate, frame_samples, resolved[1], math.floor(buffer_ms / frame_ms))
    stream = await _open_stream(
        sd,
        "input",
        resolved,
        samplerate=rate,
        blocksize=frame_samples,
        callback=microphone._callback,
    )
    try:
        async with microphone:
            yield microphone
    finally:
        await _close_stream(stream)


@final
class Speaker:
    """A sound device playing assistant audio, made by ``open_speaker``.

    Queue each ``ResponseOutputAudioDelta`` with ``write``; the device plays the parts
    out in order and reports what has been heard to ``tracker`` (minus the device's
    own latency). Give it to ``BargeIn``, which calls ``flush`` when the user
    interrupts. It is a ``Playback``.

    Attributes:
        rate: samples per second (Hz).
        device: the device's name.
        buffer: the output buffer the device plays from.
        device_underruns: times the device ran out of data (PortAudio's output underflow).
    """

    def __init__(self, buffer: OutputBuffer, device: str) -> None:
        self.rate = buffer.rate
        self.device = device
        self.buffer = buffer
        self.device_underruns = 0

    @property
    def tracker(self) -> PlaybackTracker:
        """Where the speaker reports what has been played."""
        return self.buffer.tracker

    @property
    def underruns(self) -> int:
        """Gaps inside a part: the buffer ran dry and more of the same part came later
        (the audio arrived slower than real time)."""
        return self.buffer.underruns

    def write(self, item_id: str, content_index: int, pcm: BytesLike) -> None:
        """Queue audio of a part, e.g. ``speaker.write(event.item_id,
        event.content_index, event.delta)``.

        Raises:
            ValueError: ``pcm`` is not whole 16-bit samples.
        """
        self.buffer.write(item_id, content_index, pcm)

    def flush(self) -> None:
        """Drop what has not been played yet; the device stops within its latency."""
        self.buffer.flush()

    def _callback(self, data: Any, frames: int, time: Any, status: Any) -> None:
        """PortAudio's thread: fill the device's next block."""
        self.device_underruns += bool(status.output_underflow)
        delay = time.outputBufferDacTime - time.currentTime
        data[:] = self.buffer.read(frames, delay_ms=max(delay, 0.0) * 1000.0)


@asynccontextmanager
async def open_speaker(
    rate: int = 24000,
    *,
    frame_ms: float = 20,
    device: Device = None,
    tracker: PlaybackTracker | None = None,
) -> AsyncIterator[Speaker]:
    """Play 16-bit mono PCM on a sound device, tracking what has been heard.

    ::

        async with rtsession.audio.open_speaker(24000) as speaker:
            async with rtsession.open_session(
                provider, middleware=[BargeIn(speaker)]
            ) as session:
                async for event in session:
                    if isinstance(event, ResponseOutputAudioDelta):
                        speaker.write(event.item_id, event.content_index, event.delta)

    Args:
        rate: sample rate in Hz (the session's output rate, 24000 for OpenAI and Gemini).
        frame_ms: the device's block length in ms; must be a whole number of samples.
        device: a PortAudio device index, (part of) its name, or ``None`` for the default
            output device.
        tracker: where to report playback; a new one when omitted.

    Raises:
        AudioDeviceError: no such device, it cannot play at ``rate``, it is busy, or
            PortAudio or the ``sound`` extra is missing.
        ValueError: a bad ``rate`` or ``frame_ms``.

    Cancellation: the device is closed at once (shielded, in a worker thread); what was
    not yet played is dropped.
    """
    frame_samples = _frame_samples(rate, frame_ms)
    sd = _sounddevice()
    resolved = _resolve(sd, device, "output")
    speaker = Speaker(OutputBuffer(rate, tracker), resolved[1])
    stream = await _open_stream(
        sd, "output", resolved, samplerate=rate, blocksize=frame_samples, callback=speaker._callback
    )
    try:
        yield speaker
    finally:
        await _close_stream(stream)
