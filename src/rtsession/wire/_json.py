"""Pieces every JSON wire format shares: the strict cattrs base converter, base64, frame
parsing, and mapping structuring errors to what the services report."""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Any, Final, TypeVar

import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.preconf.orjson import make_converter

from .._errors import DecodeError, EncodeError
from ..messages import JSON, InvalidServerMessage, Message

__all__ = [
    "b64decode",
    "b64encode",
    "MALFORMED",
    "blob_frame",
    "decode_error",
    "dumps",
    "invalid_frame",
    "loads_object",
    "make_strict_converter",
    "register_message",
]

T = TypeVar("T")
M = TypeVar("M", bound=Message)


MALFORMED: Final = (
    cattrs.BaseValidationError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
)
"""What structuring a malformed payload can raise (cattrs' validation errors, and what a value
of the wrong shape makes the hooks raise: ``int("x")``, ``None.get``, base64 errors, deep
nesting). Codecs turn these, and only these, into ``InvalidServerMessage`` /
``DecodeError`` / ``EncodeError``; anything else is a bug and propagates.
``tests/test_wire_*.py`` fuzz ``decode_server`` to show nothing else escapes."""


def b64encode(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 section 4), as both providers expect."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def blob_frame(head: bytes, data: bytes, tail: bytes) -> str:
    """A text frame that is ``head``, ``data`` in base64, then ``tail`` (``head`` and
    ``tail`` being the JSON around one string value). For audio appends: base64 needs no JSON
    escaping, and a JSON serializer's buffer growth costs many times a multi-MB string
    (orjson peaks at about 12x), where this peaks under 3x ``data``."""
    return (head + binascii.b2a_base64(data, newline=False) + tail).decode()


def b64decode(text: str) -> bytes:
    """Decode base64: standard or URL-safe alphabet, padding optional, nothing else.

    Raises:
        ValueError: the text is not base64: a character outside the alphabet, or data
            after the padding (``"!!!!"``, ``"AA==AA=="``), which a lenient decoder would
            turn into silently wrong bytes.
    """
    if "-" in text or "_" in text:
        text = text.replace("-", "+").replace("_", "/")
    missing = -len(text) % 4
    if missing:
        text += "=" * missing
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64: {exc}") from None


def _structure_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _structure_int(value: Any, _: type) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _structure_float(value: Any, _: type) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _structure_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected a boolean, got {type(value).__name__}")
    return value


def _structure_bytes(value: Any, _: type) -> bytes:
    return b64decode(_structure_str(value, str))


def _structure_json(value: Any, _: type) -> Any:
    return value


def _structure_json_object(value: Any, _: type) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


def make_strict_converter() -> cattrs.Converter:
    """An orjson-preconfigured converter that checks JSON types instead of coercing them.

    cattrs' defaults would turn ``3`` into ``"3"`` for a ``str`` field; a wire codec must
    reject that. ``bytes`` travel as base64 strings (the preconf default is base85).
    """
    conv = make_converter(detailed_validation=True, prefer_attrib_converters=False)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(bytes, _structure_bytes)
    conv.register_unstructure_hook(bytes, b64encode)
    conv.register_structure_hook_func(lambda t: t == dict[str, JSON], _structure_json_object)
    conv.register_structure_hook_func(lambda t: t is Any, _structure_json)
    return conv


def register_message(
    conv: cattrs.Converter,
    cls: type[M],
    *,
    renames: dict[str, str] | None = None,
) -> tuple[Callable[[dict[str, Any]], M], Callable[[M], dict[str, Any]]]:
    """Generate the wire hooks of a flat message class whose fields are named as on the wire.

    ``message_id`` travels as ``event_id``; ``raw`` is never sent; ``None`` fields are left out.

    Returns:
        ``(structure, unstructure)``: payload dict to message (``raw`` set to the payload), and
        message to payload dict without the ``type`` key.
    """
    overrides: dict[str, Any] = {
        "message_id": override(rename="event_id"),
        "raw": override(omit=True),
    }
    for name, wire_name in (renames or {}).items():
        overrides[name] = override(rename=wire_name)
    structure = make_dict_structure_fn(cls, conv, **overrides)
    unstructure = make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **overrides)
    conv.register_structure_hook(cls, structure)
    conv.register_unstructure_hook(cls, unstructure)

    def decode(payload: dict[str, Any]) -> M:
        message = structure(payload, cls)
        object.__setattr__(message, "raw", payload)
        return message

    return decode, unstructure


def dumps(payload: dict[str, Any]) -> str:
    """Serialize a payload to a text frame.

    Raises:
        EncodeError: a value JSON cannot carry (e.g. a string with lone surrogates).
    """
    try:
        return orjson.dumps(payload).decode()
    except orjson.JSONEncodeError as exc:
        raise EncodeError(f"cannot serialize {payload.get('type', 'message')!r}: {exc}") from None


def loads_object(frame: str | bytes) -> dict[str, Any] | str:
    """Parse a frame into a JSON object, or return why it is not one."""
    try:
        payload = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        return f"frame is not valid JSON: {exc}"
    if not isinstance(payload, dict):
        return f"frame is JSON but not an object: {type(payload).__name__}"
    return payload


def invalid_frame(frame: str | bytes, reason: str) -> InvalidServerMessage:
    return InvalidServerMessage(frame=frame, reason=reason)


def decode_error(event_type: str, exc: BaseException, event_id: str | None) -> DecodeError:
    """A ``DecodeError`` for a client event whose payload did not structure.

    The first error cattrs reports gives the code and the dotted ``param`` path.
    """
    lines = cattrs.transform_error(exc) if isinstance(exc, cattrs.BaseValidationError) else []
    if not lines:
        return DecodeError(
            f"Invalid {event_type!r} event: {exc}", code="invalid_value", event_id=event_id
        )
    text, _, path = lines[0].rpartition(" @ ")
    param = path.removeprefix("$").removeprefix(".") or None
    code = "missing_required_parameter" if "required field missing" in text else "invalid_type"
    return DecodeError(
        f"Invalid {event_type!r} event: {text} ({param})", code=code, param=param, event_id=event_id
    )
