"""Conversation items as Gemini ``Content`` turns and function responses, and back
(https://ai.google.dev/api/live, ``clientContent`` and ``toolResponse``)."""

from __future__ import annotations

import re
from typing import Any, Final

import orjson

from ... import messages as m
from ..._errors import EncodeError
from .._json import b64decode, b64encode
from ._fields import (
    INPUT_RATE,
    Payload,
    ResamplerFactory,
    WireError,
    get,
    optional,
    optional_list,
    pcm_rate,
    required,
    to_input_rate,
)

__all__ = [
    "function_response",
    "item_from_turn",
    "output_from_response",
    "part_from_blob",
    "turn_from_item",
]

_ROLES: Final = {"user": "user", "assistant": "model"}
_DATA_URL: Final = re.compile(r"data:([\w.+-]+/[\w.+-]+);base64,(.*)", re.DOTALL)


def _blob(mime_type: str, data: bytes) -> Payload:
    return {"inlineData": {"mimeType": mime_type, "data": b64encode(data)}}


def _part(part: m.ContentPart, rate: int, resampler: ResamplerFactory | None) -> Payload:
    if isinstance(part, m.InputText | m.OutputText):
        return {"text": part.text}
    if isinstance(part, m.InputImage):
        match = _DATA_URL.fullmatch(part.image_url)
        if match is None:
            raise EncodeError("Gemini Live takes images as data: URLs only (InputImage.from_bytes)")
        if part.detail is not None:
            raise EncodeError("Gemini Live has no per-image detail (use gemini.media_resolution)")
        try:
            data = b64decode(match[2])
        except ValueError as exc:
            raise EncodeError(f"InputImage.image_url: {exc}") from None
        return _blob(match[1], data)
    if isinstance(part, m.InputAudio) and part.audio is not None and part.transcript is None:
        try:
            pcm = to_input_rate(part.audio, rate, resampler, "InputAudio.audio")
        except ValueError as exc:
            raise EncodeError(f"InputAudio.audio: {exc}") from None
        return _blob(f"audio/pcm;rate={INPUT_RATE}", pcm)
    raise EncodeError(
        f"Gemini Live cannot carry {part} in a conversation item "
        "(InputAudio needs audio and no transcript; OutputAudio is not accepted)"
    )


def turn_from_item(
    item: m.MessageItem, rate: int, resampler: ResamplerFactory | None = None
) -> Payload:
    """A user or assistant message as a ``Content`` turn (role ``user`` / ``model``).

    Args:
        item: the message; ``id`` and ``status`` must be unset (Gemini has no item ids).
        rate: the sample rate of ``InputAudio`` parts in Hz; they are resampled to 16000 Hz.
        resampler: what resamples them (needed for a rate other than 16000 Hz).

    Raises:
        EncodeError: a system message (use ``SessionOptions.instructions``), an item id or
            status, or a part Gemini cannot carry (an image by URL, ``OutputAudio``, ...).
    """
    role = _ROLES.get(item.role)
    if role is None:
        raise EncodeError(
            "Gemini Live has no system messages in the conversation; "
            "use SessionOptions.instructions (contextUpdate)"
        )
    if item.id is not None or item.status is not None:
        raise EncodeError("Gemini Live conversation items carry no id or status")
    allowed = (m.InputText, m.InputImage, m.InputAudio) if role == "user" else (m.OutputText,)
    for part in item.content:
        if not isinstance(part, allowed):
            raise EncodeError(f"a {item.role} message cannot carry {type(part).__name__}")
    return {"role": role, "parts": [_part(p, rate, resampler) for p in item.content]}


def part_from_blob(
    blob: Any, path: str, resampler: ResamplerFactory | None = None
) -> m.InputImage | m.InputAudio:
    """An inline ``Blob`` (``{mimeType, data}``) as an image or PCM16 audio part; audio at
    another declared rate is resampled to 16000 Hz (with ``resampler``).

    Raises:
        WireError: the blob is malformed or neither an image nor raw PCM audio.
    """
    if not isinstance(blob, dict):
        raise WireError(f"expected an object, got {type(blob).__name__}", path)
    mime_type = required(blob, "mimeType", str, path)
    data = required(blob, "data", bytes, path)
    if mime_type.lower().startswith("image/"):
        return m.InputImage.from_bytes(data, mime_type)
    rate = pcm_rate(mime_type)
    if rate is None:
        raise WireError(f"unsupported MIME type {mime_type!r}", f"{path}.mimeType")
    try:
        pcm = to_input_rate(data[: len(data) // 2 * 2], rate, resampler, path)
    except ValueError as exc:
        raise WireError(str(exc), f"{path}.mimeType") from None
    return m.InputAudio(audio=pcm)


def item_from_turn(
    turn: Any, path: str, resampler: ResamplerFactory | None = None
) -> m.MessageItem:
    """A ``Content`` turn as a user or assistant message.

    Raises:
        WireError: an unknown role, or a part that is neither text nor an inline image or
            PCM audio (function calls and responses belong in ``toolCall`` /
            ``toolResponse``).
    """
    if not isinstance(turn, dict):
        raise WireError(f"expected an object, got {type(turn).__name__}", path)
    role = optional(turn, "role", str, path) or "user"
    if role not in ("user", "model"):
        raise WireError(f"unknown role {role!r} (expected 'user' or 'model')", f"{path}.role")
    parts: list[m.ContentPart] = []
    for i, part in enumerate(optional_list(turn, "parts", path)):
        where = f"{path}.parts[{i}]"
        if not isinstance(part, dict):
            raise WireError(f"expected an object, got {type(part).__name__}", where)
        text = optional(part, "text", str, where)
        if text is not None:
            parts.append(m.InputText(text=text) if role == "user" else m.OutputText(text=text))
        elif get(part, "inlineData") is not None and role == "user":
            blob = get(part, "inlineData")
            parts.append(part_from_blob(blob, f"{where}.inlineData", resampler))
        else:
            raise WireError(f"unsupported {role} part (keys: {', '.join(part)})", where)
    return m.MessageItem(role="user" if role == "user" else "assistant", content=tuple(parts))


def function_response(item: m.FunctionCallOutputItem, name: str | None) -> Payload:
    """A function call output as a ``FunctionResponse``.

    ``output`` is parsed as JSON: an object becomes ``response`` as is; any other JSON value,
    or text that is not JSON, is wrapped as ``{"output": value}`` (Gemini requires an object).

    Args:
        item: the output; ``call_id`` becomes ``id``.
        name: the function's name, known from the ``toolCall`` this codec decoded; left out
            when unknown.

    Raises:
        EncodeError: the item has an id or status (Gemini has no item ids).
    """
    if item.id is not None or item.status is not None:
        raise EncodeError("Gemini Live function responses carry no item id or status")
    try:
        value: Any = orjson.loads(item.output)
    except orjson.JSONDecodeError:
        value = item.output
    response = value if isinstance(value, dict) else {"output": value}
    return (
        {"id": item.call_id} | ({"name": name} if name is not None else {}) | {"response": response}
    )


def output_from_response(entry: Any, path: str) -> m.FunctionCallOutputItem:
    """A ``FunctionResponse`` as a function call output: ``output`` is the ``response``
    object as compact JSON (a missing ``response`` is ``{}``).

    Raises:
        WireError: ``id`` is missing (the Gemini API requires it) or a field has the wrong type.
    """
    if not isinstance(entry, dict):
        raise WireError(f"expected an object, got {type(entry).__name__}", path)
    response = optional(entry, "response", dict[str, Any], path)
    return m.FunctionCallOutputItem(
        call_id=required(entry, "id", str, path),
        output=orjson.dumps(response if response is not None else {}).decode(),
    )
