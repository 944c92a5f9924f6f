"""Where each wire format puts audio, and how audio bytes turn into durations: the wire facts
that logging, barge-in, the telephony bridge, recording and replay need (credentials are
hidden by ``rtsession._redact``).

Recording and replay work on decoded frames (the wire's JSON objects), not on messages, so they
also cover what the vocabulary does not model (``RawClientMessage`` / ``RawServerMessage``
payloads). ``tests/test_wire_frames.py`` checks ``audio_fields`` against the codecs: every
message they encode with audio, in both directions and every dialect, has exactly that audio
where it looks.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator
from typing import Final, Literal, TypeAlias, final

import attrs

from .. import messages as m
from ..messages import JSON, AudioFormat

__all__ = [
    "PCM16_24K",
    "AudioField",
    "AudioFormats",
    "Encoding",
    "audio_fields",
    "b64_size",
    "encoding",
    "get_path",
    "session_encoding",
    "set_path",
    "shorten_b64",
]

Path: TypeAlias = tuple[str | int, ...]
"""Where a value sits in a JSON document: object keys and list indices from the root."""


# --- audio -----------------------------------------------------------------------------------

_G711: Final = frozenset({"audio/pcmu", "audio/pcma", "g711_ulaw", "g711_alaw"})


@attrs.frozen
class Encoding:
    """How mono audio is laid out in bytes: enough to turn sizes into durations.

    Attributes:
        sample_rate: samples per second (Hz).
        sample_bytes: bytes per sample (2 for PCM16, 1 for G.711).
    """

    sample_rate: int = 24000
    sample_bytes: int = 2

    def ms(self, size: int) -> float:
        """Milliseconds of ``size`` bytes."""
        return size * 1000 / (self.sample_rate * self.sample_bytes)

    def size(self, ms: float) -> int:
        """Bytes of ``ms`` milliseconds, whole samples only."""
        return int(ms * self.sample_rate / 1000) * self.sample_bytes


PCM16_24K: Final = Encoding()
"""The default: 24 kHz PCM16, as OpenAI sends and expects."""


def encoding(format_type: str = "audio/pcm", rate: int | None = None) -> Encoding:
    """The encoding of a wire format name: PCM16 at ``rate`` Hz (24000 when ``None``), or
    G.711 at 8000 Hz (``audio/pcmu``, ``audio/pcma``, beta ``g711_ulaw`` / ``g711_alaw``)."""
    if format_type in _G711:
        return Encoding(8000, 1)
    return Encoding(rate or PCM16_24K.sample_rate, 2)


def session_encoding(audio_format: AudioFormat | None) -> Encoding:
    """The encoding of a session's ``AudioFormat`` (``None``: the
    24 kHz PCM16 default)."""
    if audio_format is None:
        return PCM16_24K
    return encoding(audio_format.type, audio_format.rate)


def b64_size(text: str) -> int:
    """The number of bytes a padded base64 string decodes to, without decoding it."""
    return len(text) * 3 // 4 - text[-2:].count("=") if text else 0


def shorten_b64(text: str, size: int) -> str:
    """The base64 of the first ``size`` bytes of the base64 ``text`` (all of it when it is
    not longer). Raises ``binascii.Error`` for text that is not base64."""
    if b64_size(text) <= size:
        return text
    data = binascii.a2b_base64(text)[:size]
    return binascii.b2a_base64(data, newline=False).decode("ascii")


@attrs.frozen
class AudioField:
    """A base64 audio string inside a wire frame.

    Attributes:
        path: where it is, e.g. ``("audio",)`` or ``("serverContent", "modelTurn", "parts",
            0, "inlineData", "data")``.
        direction: ``"input"`` (the user's audio) or ``"output"`` (the model's).
        rate: the sample rate its MIME type states (Gemini ``audio/pcm;rate=16000``), else
            ``None`` (the session's format applies).
    """

    path: Path
    direction: Literal["input", "output"]
    rate: int | None = None


Direction: TypeAlias = Literal["input", "output"]

_AUDIO_CARRIERS: Final[dict[type, tuple[str, Direction]]] = {
    m.InputAudioBufferAppend: ("audio", "input"),
    m.ResponseOutputAudioDelta: ("delta", "output"),
    m.InputAudio: ("audio", "input"),
    m.OutputAudio: ("audio", "output"),
}
"""The messages and content parts that carry audio: the field (its wire name too) and whose
audio it is."""


def _openai_audio_tags() -> dict[str, tuple[str, Direction]]:
    """The OpenAI ``type`` tags of events and content parts that carry audio, in both dialects,
    derived from the codecs' own event and part tables."""
    from .openai._codec import GA
    from .openai._common import PART_TAGS
    from .openai_beta._codec import BETA

    tagged: list[tuple[str, type]] = [
        (name, cls)
        for dialect in (GA, BETA)
        for name, cls in (*dialect.client_events.items(), *dialect.server_events.items())
    ]
    tagged += [(tag, cls) for cls, tags in PART_TAGS.items() for tag in tags]
    return {name: _AUDIO_CARRIERS[cls] for name, cls in tagged if cls in _AUDIO_CARRIERS}


_AUDIO_EVENTS: Final = _openai_audio_tags()


def _mime_rate(mime: str) -> int | None:
    for parameter in mime.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name == "rate" and value.isdigit():
            return int(value)
    return None


MAX_JSON_DEPTH: Final = 240
"""JSON nested deeper is not walked, logged or recorded as JSON: orjson writes at most 254
levels, and a recording line or log record adds its own."""


def too_deep(value: JSON, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` nests more than ``limit`` levels of arrays and objects (checked
    without recursion)."""
    stack: list[tuple[JSON, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def audio_fields(value: JSON, path: Path = ()) -> Iterator[AudioField]:
    """Find the base64 audio strings in a decoded frame of any wire format: OpenAI GA and
    beta (``input_audio_buffer.append.audio``, ``response.output_audio.delta.delta``,
    ``input_audio`` / ``output_audio`` content parts) and Gemini (blobs whose ``mimeType``
    is ``audio/*``: realtime input, media chunks, model-turn inline data). Depth first, in
    document order, without recursion (a hostile frame may nest deeply)."""
    stack: list[tuple[JSON, Path]] = [(value, path)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, list):
            stack.extend(reversed([(item, (*path, index)) for index, item in enumerate(value)]))
            continue
        if not isinstance(value, dict):
            continue
        found: str | None = None
        kind = value.get("type")
        if isinstance(kind, str) and kind in _AUDIO_EVENTS:
            key, direction = _AUDIO_EVENTS[kind]
            if isinstance(value.get(key), str):
                found = key
                yield AudioField((*path, key), direction)
        mime = value.get("mimeType", value.get("mime_type"))
        if (
            isinstance(mime, str)
            and mime.startswith("audio/")
            and isinstance(value.get("data"), str)
        ):
            found = "data"
            direction = "output" if "inlineData" in path or "inline_data" in path else "input"
            yield AudioField((*path, "data"), direction, _mime_rate(mime))
        children = [
            (item, (*path, key))
            for key, item in value.items()
            if key != found and isinstance(item, dict | list)
        ]
        stack.extend(reversed(children))


def get_path(value: JSON, path: Path) -> JSON:
    """The value at ``path``. Raises ``KeyError`` / ``IndexError`` / ``TypeError`` when it
    is not there."""
    for step in path:
        value = value[step]
    return value


def set_path(value: JSON, path: Path, new: JSON) -> None:
    """Replace the value at ``path`` (which must exist) in place."""
    get_path(value, path[:-1])[path[-1]] = new


@final
class AudioFormats:
    """The audio encodings in force on a connection, learned from the frames that state
    them, so an audio field's bytes can be turned into milliseconds.

    Reads OpenAI GA ``session.created`` / ``session.updated`` (``session.audio.input.format``
    / ``output.format``) and beta ``input_audio_format`` / ``output_audio_format``. Until a
    frame says otherwise, both directions are 24 kHz PCM16.
    """

    __slots__ = ("input", "output")

    def __init__(self) -> None:
        self.input = PCM16_24K
        self.output = PCM16_24K

    def observe(self, frame: JSON) -> None:
        """Update the encodings from a server frame (other frames are ignored)."""
        if not isinstance(frame, dict):
            return
        kind = frame.get("type")
        if not isinstance(kind, str) or kind not in _SESSION_EVENTS:
            return
        session = frame.get("session")
        if not isinstance(session, dict):
            return
        audio = session.get("audio")
        if isinstance(audio, dict):
            self.input = _ga_encoding(audio.get("input"), self.input)
            self.output = _ga_encoding(audio.get("output"), self.output)
        if isinstance(session.get("input_audio_format"), str):
            self.input = encoding(session["input_audio_format"])
        if isinstance(session.get("output_audio_format"), str):
            self.output = encoding(session["output_audio_format"])

    def of(self, field: AudioField) -> Encoding:
        """The encoding of the audio in ``field``."""
        if field.rate is not None:
            return encoding(rate=field.rate)
        return self.input if field.direction == "input" else self.output


_SESSION_EVENTS: Final = frozenset({"session.created", "session.updated"})


def _ga_encoding(direction: JSON, default: Encoding) -> Encoding:
    if not isinstance(direction, dict):
        return default
    audio_format = direction.get("format")
    if not isinstance(audio_format, dict) or not isinstance(audio_format.get("type"), str):
        return default
    rate = audio_format.get("rate")
    return encoding(audio_format["type"], rate if isinstance(rate, int) else None)
