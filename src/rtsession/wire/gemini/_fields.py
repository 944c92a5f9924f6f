"""Reading and writing Gemini Live JSON fields: key casing, typed field access with wire paths,
proto Durations, audio MIME types and usage (https://ai.google.dev/api/live; ``docs/gemini.md``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import Any, Final, Protocol, TypeAlias, TypeVar

import cattrs

from ... import messages as m
from .._json import MALFORMED, make_strict_converter

__all__ = [
    "INPUT_RATE",
    "NO_RESAMPLER",
    "ResamplerFactory",
    "StreamResampler",
    "to_input_rate",
    "OUTPUT_RATE",
    "Payload",
    "WireError",
    "camel",
    "duration_ms",
    "duration_text",
    "get",
    "optional",
    "optional_int64",
    "optional_list",
    "optional_object",
    "pcm_rate",
    "required",
    "usage_from_wire",
    "usage_to_wire",
]

Payload = dict[str, Any]
T = TypeVar("T")

INPUT_RATE: Final = 16000
"""The rate Gemini Live takes input audio at, in Hz (``audio/pcm;rate=16000``)."""
OUTPUT_RATE: Final = 24000
"""The rate Gemini Live speaks at, in Hz (``audio/pcm;rate=24000``)."""

_conv = make_strict_converter()


class WireError(ValueError):
    """A field of a Gemini frame is missing or has the wrong type.

    Attributes:
        param: the field's dotted camelCase wire path, e.g. ``"serverContent.modelTurn"``.
        missing: the field is required and absent (else it is present but invalid).
    """

    def __init__(self, message: str, param: str, *, missing: bool = False) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.missing = missing


@cache
def camel(key: str) -> str:
    """``snake_case`` to ``lowerCamelCase`` (camelCase keys are returned unchanged)."""
    head, *rest = key.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


@cache
def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def get(obj: Payload, name: str) -> Any:
    """The value of the field ``name`` (camelCase), also found under its snake_case spelling,
    as proto3 JSON allows; ``None`` when absent or ``null``."""
    value = obj.get(name)
    return obj.get(_snake(name)) if value is None else value


def _structure(value: Any, tp: type[T], param: str) -> T:
    try:
        return _conv.structure(value, tp)
    except MALFORMED as exc:
        reason = (
            cattrs.transform_error(exc)[0]
            if isinstance(exc, cattrs.BaseValidationError)
            else str(exc)
        )
        raise WireError(reason, param) from None


def optional(obj: Payload, name: str, tp: type[T], path: str) -> T | None:
    """The field ``name`` of ``obj`` checked as ``tp`` (``bytes`` read as base64, either
    alphabet, padding optional, nothing else), or ``None`` when absent.

    Raises:
        WireError: the value has the wrong type.
    """
    value = get(obj, name)
    return None if value is None else _structure(value, tp, f"{path}.{name}")


def required(obj: Payload, name: str, tp: type[T], path: str) -> T:
    """Like ``optional``, for a field that must be present.

    Raises:
        WireError: the value is absent or has the wrong type.
    """
    value = optional(obj, name, tp, path)
    if value is None:
        raise WireError("required field missing", f"{path}.{name}", missing=True)
    return value


def optional_object(obj: Payload, name: str, path: str) -> Payload | None:
    """The JSON object in field ``name``, or ``None`` when absent.

    Raises:
        WireError: the value is not an object.
    """
    return optional(obj, name, dict[str, Any], path)


def optional_list(obj: Payload, name: str, path: str) -> list[Any]:
    """The JSON array in field ``name`` (empty when absent).

    Raises:
        WireError: the value is not an array.
    """
    value = get(obj, name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise WireError(f"expected an array, got {type(value).__name__}", f"{path}.{name}")
    return value


def optional_int64(obj: Payload, name: str, path: str) -> int | None:
    """An int64 field, which proto3 JSON may send as a decimal string.

    Raises:
        WireError: the value is neither an integer nor a decimal string.
    """
    value = get(obj, name)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return None if value is None else _structure(value, int, f"{path}.{name}")


def duration_ms(text: str, param: str) -> int:
    """A proto Duration (``"10s"``, ``"1.5s"``) in ms, rounded half up.

    Raises:
        WireError: the text is not a Duration.
    """
    match = re.fullmatch(r"(-?\d+(?:\.\d{1,9})?)s", text.strip())
    if match is None:
        raise WireError(f"not a duration: {text!r}", param)
    try:
        return int((Decimal(match[1]) * 1000).to_integral_value(ROUND_HALF_UP))
    except InvalidOperation:  # pragma: no cover - excluded by the pattern
        raise WireError(f"not a duration: {text!r}", param) from None


def duration_text(ms: int) -> str:
    """ms as a proto Duration string: ``1500`` -> ``"1.5s"``, ``10000`` -> ``"10s"``."""
    if ms < 0:
        return "-" + duration_text(-ms)
    seconds, rest = divmod(ms, 1000)
    return f"{seconds}s" if not rest else f"{seconds}.{rest:03d}".rstrip("0") + "s"


def pcm_rate(mime_type: str) -> int | None:
    """The sample rate (Hz) of a raw PCM16 MIME type such as ``audio/pcm;rate=16000``:
    ``INPUT_RATE`` when no rate is given, ``None`` for a type that is not raw PCM."""
    kind, *params = (p.strip().lower() for p in mime_type.split(";"))
    if kind not in ("audio/pcm", "audio/l16"):
        return None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "rate" and value.strip().isdigit() and int(value) > 0:
            return int(value)
    return INPUT_RATE


# --- usage (usageMetadata) ---------------------------------------------------------------------

_MODALITIES: Final = {"TEXT": "text", "AUDIO": "audio", "IMAGE": "image"}


def _by_modality(obj: Payload, name: str, path: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for i, entry in enumerate(optional_list(obj, name, path)):
        where = f"{path}.{name}[{i}]"
        if not isinstance(entry, dict):
            raise WireError(f"expected an object, got {type(entry).__name__}", where)
        modality = _MODALITIES.get(str(optional(entry, "modality", str, where)).upper())
        count = optional(entry, "tokenCount", int, where)
        if modality is not None and count is not None:
            counts[modality] = counts.get(modality, 0) + count
    return counts


def usage_from_wire(obj: Payload, path: str) -> m.Usage:
    """``usageMetadata`` as ``Usage``, split by modality.

    ``promptTokenCount`` is the input, ``responseTokenCount`` (Vertex:
    ``candidatesTokenCount``) the output, ``cachedContentTokenCount`` the cached input; the
    ``*TokensDetails`` lists give the TEXT / AUDIO / IMAGE counts. Thinking and tool-use
    prompt tokens and VIDEO / DOCUMENT counts have no slot (they stay in ``raw``).

    Raises:
        WireError: a count has the wrong type.
    """
    prompt = _by_modality(obj, "promptTokensDetails", path)
    cached = _by_modality(obj, "cacheTokensDetails", path)
    vertex = get(obj, "responseTokensDetails") is None
    response = _by_modality(
        obj, "candidatesTokensDetails" if vertex else "responseTokensDetails", path
    )
    output = optional(obj, "responseTokenCount", int, path)
    return m.Usage(
        total_tokens=optional(obj, "totalTokenCount", int, path),
        input_tokens=optional(obj, "promptTokenCount", int, path),
        output_tokens=output
        if output is not None
        else optional(obj, "candidatesTokenCount", int, path),
        input_text_tokens=prompt.get("text"),
        input_audio_tokens=prompt.get("audio"),
        input_image_tokens=prompt.get("image"),
        cached_tokens=optional(obj, "cachedContentTokenCount", int, path),
        cached_text_tokens=cached.get("text"),
        cached_audio_tokens=cached.get("audio"),
        cached_image_tokens=cached.get("image"),
        output_text_tokens=response.get("text"),
        output_audio_tokens=response.get("audio"),
    )


def _details(**counts: int | None) -> list[Payload] | None:
    entries = [
        {"modality": modality.upper(), "tokenCount": count}
        for modality, count in counts.items()
        if count is not None
    ]
    return entries or None


def usage_to_wire(usage: m.Usage) -> Payload:
    """``Usage`` as ``usageMetadata`` (Gemini API field names)."""
    fields = {
        "promptTokenCount": usage.input_tokens,
        "cachedContentTokenCount": usage.cached_tokens,
        "responseTokenCount": usage.output_tokens,
        "totalTokenCount": usage.total_tokens,
        "promptTokensDetails": _details(
            text=usage.input_text_tokens,
            audio=usage.input_audio_tokens,
            image=usage.input_image_tokens,
        ),
        "cacheTokensDetails": _details(
            text=usage.cached_text_tokens,
            audio=usage.cached_audio_tokens,
            image=usage.cached_image_tokens,
        ),
        "responseTokensDetails": _details(
            text=usage.output_text_tokens, audio=usage.output_audio_tokens
        ),
    }
    return {k: v for k, v in fields.items() if v is not None}


class StreamResampler(Protocol):
    """A streaming PCM16 resampler (``rtsession.audio.Resampler`` is one): ``process``
    returns the converted audio it can, ``flush`` the rest."""

    @property
    def from_rate(self) -> int: ...

    def process(self, pcm16: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


ResamplerFactory: TypeAlias = Callable[[int, int], StreamResampler]
"""Makes a ``StreamResampler`` from one rate to another, in Hz. The codec does no signal
processing itself: audio at a rate other than Gemini's 16 kHz input needs one."""


def to_input_rate(pcm16: bytes, rate: int, resampler: ResamplerFactory | None, where: str) -> bytes:
    """Whole PCM16 audio at ``rate`` Hz as Gemini's 16 kHz input.

    Raises:
        ValueError: an odd number of bytes, or another rate and no ``resampler`` (the
            message names ``where``).
    """
    if len(pcm16) % 2:
        raise ValueError(f"{where} must have an even length (whole 16-bit samples)")
    if rate == INPUT_RATE:
        return pcm16
    if resampler is None:
        raise ValueError(f"{where} is {rate} Hz audio: {NO_RESAMPLER}")
    stream = resampler(rate, INPUT_RATE)
    return stream.process(pcm16) + stream.flush()


NO_RESAMPLER: Final = (
    f"Gemini Live takes {INPUT_RATE} Hz, and this codec was made without a resampler "
    "(GeminiCodec(resampler=rtsession.audio.Resampler), as GeminiLive and rtsession.local make it)"
)
