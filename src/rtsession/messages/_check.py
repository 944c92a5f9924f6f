"""Every field of a message checked against its declared type: what ``Session.send`` runs
before a message enters the chain, so nothing mistyped reaches a socket (attrs classes do not
check types when they are built)."""

from __future__ import annotations

import math
import types
import typing
from typing import Any, Literal, Union, final

import attrs

from .._errors import EncodeError
from ._base import Disabled, Message

__all__ = ["Bound", "Bounds", "check_message"]

_MAX_JSON_DEPTH = 64
"""Nesting deeper than this in a JSON value (a tool schema, a raw payload) is refused."""


class _Mismatch(Exception):
    """A value that breaks a rule; ``where`` is filled in on the way out (field names,
    ``[index]``), so a value that passes builds no path."""

    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule
        self.where: list[str] = []

    def at(self, step: str) -> _Mismatch:
        self.where.append(step)
        return self

    def path(self, root: str) -> str:
        return root + "".join(reversed(self.where))


_HINTS: dict[type, tuple[tuple[str, Any], ...]] = {}


def _hints(cls: type) -> tuple[tuple[str, Any], ...]:
    """The declared type of each field, resolved once per class."""
    hints = _HINTS.get(cls)
    if hints is None:
        resolved = typing.get_type_hints(cls)
        hints = _HINTS[cls] = tuple((f.name, resolved[f.name]) for f in attrs.fields(cls))
    return hints


_SHAPES: dict[Any, tuple[Any, tuple[Any, ...]]] = {}


def _shape(hint: Any) -> tuple[Any, tuple[Any, ...]]:
    """``typing.get_origin`` and ``get_args`` of a hint, computed once per hint."""
    shape = _SHAPES.get(hint)
    if shape is None:
        origin = typing.get_origin(hint)
        if origin is types.UnionType:
            origin = Union
        shape = _SHAPES[hint] = (origin, typing.get_args(hint))
    return shape


def _describe(hint: Any) -> str:
    if hint is type(None):
        return "None"
    origin, args = _shape(hint)
    if origin is Literal:
        return " or ".join(repr(arg) for arg in args)
    if origin is Union:
        return " or ".join(_describe(arg) for arg in args)
    if origin is tuple:
        return "a tuple"
    if origin is dict:
        return "a dict"
    if hint is Any:
        return "a JSON value"
    if hint is float:
        return "a finite number"
    if isinstance(hint, type):
        return "DISABLED" if hint is Disabled else hint.__name__
    return str(hint)


def _json(value: object, depth: int = 0) -> None:
    """A value JSON can carry: finite numbers, string keys, not nested too deep."""
    if depth > _MAX_JSON_DEPTH:
        raise _Mismatch(f"JSON nested at most {_MAX_JSON_DEPTH} levels deep")
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Mismatch(f"a finite number, not {value!r} (JSON has no NaN or infinity)")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Mismatch(f"a JSON object, whose keys are strings, not {key!r}")
            try:
                _json(item, depth + 1)
            except _Mismatch as mismatch:
                raise mismatch.at(f".{key}") from None
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            try:
                _json(item, depth + 1)
            except _Mismatch as mismatch:
                raise mismatch.at(f"[{index}]") from None
        return
    raise _Mismatch(f"a JSON value, not {type(value).__name__}")


def _container_fits(value: object, hint: Any) -> bool:
    """Whether ``value`` is of the kind ``hint`` holds (a tuple for ``tuple[...]``, an
    instance of an attrs class), whatever its contents."""
    origin = _shape(hint)[0]
    if origin is tuple or origin is dict:
        return isinstance(value, origin)
    return isinstance(hint, type) and attrs.has(hint) and isinstance(value, hint)


def _value(value: object, hint: Any) -> None:
    if type(value) is hint and hint in _PLAIN:
        return  # the common case: a str, bytes, int or bool field holding one
    if hint is Any:
        _json(value)
        return
    origin, args = _shape(hint)
    if origin is Union:
        if value is None and type(None) in args:
            return
        fitting = [arm for arm in args if _container_fits(value, arm)]
        if len(fitting) == 1:  # one arm of the value's kind: its error names the field
            _value(value, fitting[0])
            return
        for arm in args:
            try:
                _value(value, arm)
            except _Mismatch:
                continue
            return
        raise _Mismatch(f"{_describe(hint)}, not {value!r}")
    if origin is Literal:
        if not any(value == arg and type(value) is type(arg) for arg in args):
            raise _Mismatch(f"{_describe(hint)}, not {value!r}")
        return
    if origin is tuple:
        if not isinstance(value, tuple):
            raise _Mismatch(f"a tuple, not {type(value).__name__}")
        items = args[:1] * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        if len(items) != len(value):
            raise _Mismatch(f"a tuple of {len(items)} items, not {len(value)}")
        for index, (item, item_hint) in enumerate(zip(value, items, strict=True)):
            try:
                _value(item, item_hint)
            except _Mismatch as mismatch:
                raise mismatch.at(f"[{index}]") from None
        return
    if origin is dict:
        if not isinstance(value, dict):
            raise _Mismatch(f"a dict, not {type(value).__name__}")
        key_hint, item_hint = args
        for key, item in value.items():
            try:
                _value(key, key_hint)
                _value(item, item_hint)
            except _Mismatch as mismatch:
                raise mismatch.at(f".{key}") from None
        return
    if hint is type(None):
        if value is not None:
            raise _Mismatch(f"None, not {value!r}")
        return
    if hint is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _Mismatch(f"a number, not {value!r}")
        if not math.isfinite(value):
            raise _Mismatch(f"a finite number, not {value!r}")
        return
    if hint is int and isinstance(value, bool):
        raise _Mismatch(f"an int, not {value!r}")
    if not isinstance(value, hint):
        raise _Mismatch(f"{_describe(hint)}, not {type(value).__name__} {value!r}"[:200])
    if attrs.has(hint):
        _fields(value)


_PLAIN: frozenset[type] = frozenset({str, bytes, int, bool})


def _fields(obj: object) -> None:
    for name, hint in _hints(type(obj)):
        try:
            _value(getattr(obj, name), hint)
        except _Mismatch as mismatch:
            raise mismatch.at(f".{name}") from None


def check_message(message: Message) -> None:
    """Check every field of ``message``, nested items and options included, against its
    declared type: strings are strings, numbers are finite numbers (not ``bool``), literals
    are among their values, tuples hold what they declare, JSON values (tool schemas, raw
    payloads, metadata) are JSON (the wire format's own rules, e.g. a raw OpenAI event's
    string ``type``, are its codec's ``check_client``).

    Raises:
        EncodeError: the first field that does not match, named by its path, e.g.
            ``ConversationItemTruncate.content_index must be int, not str 'x'``.
    """
    try:
        _fields(message)
    except _Mismatch as mismatch:
        where = mismatch.path(type(message).__name__)
        raise EncodeError(f"{where} must be {mismatch.rule}") from None


@attrs.frozen
class Bound:
    """A documented range of one numeric field of one class (a wire format's rule).

    Attributes:
        owner: the attrs class, e.g. ``SessionOptions``.
        field: the field's name, e.g. ``"output_speed"``.
        low: the smallest value allowed.
        high: the largest value allowed; ``None`` for no upper bound.
        unit: how to say the value, e.g. ``"ms"`` (for the error message).
    """

    owner: type
    field: str
    low: float
    high: float | None = None
    unit: str = ""


def _outside(value: object, bound: Bound) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False  # "inf" tokens, None: not a number to bound
    return value < bound.low or (bound.high is not None and value > bound.high)


def _classes(hint: Any) -> tuple[Any, ...]:
    origin, args = _shape(hint)
    if origin in (Union, tuple):
        return tuple(c for arg in args if arg is not Ellipsis for c in _classes(arg))
    return (hint,)


@final
class Bounds:
    """A wire format's documented numeric ranges (``Bound`` each), checked wherever their
    fields are in a message.

    Args:
        bounds: the ranges; one per ``(owner, field)``.
    """

    __slots__ = ("_by_field", "_holds")

    def __init__(self, *bounds: Bound) -> None:
        self._by_field = {(bound.owner, bound.field): bound for bound in bounds}
        self._holds: dict[type, bool] = {}  # per class: can it hold a bounded field?

    def _may_hold(self, cls: type) -> bool:
        """Whether an object of ``cls`` can hold a bounded field, itself or nested (worked
        out once per class: an audio append holds none)."""
        known = self._holds.get(cls)
        if known is None:
            self._holds[cls] = False  # a class that holds itself
            known = self._holds[cls] = any(
                (cls, name) in self._by_field
                or any(
                    isinstance(arm, type) and attrs.has(arm) and self._may_hold(arm)
                    for arm in _classes(hint)
                )
                for name, hint in _hints(cls)
            )
        return known

    def _check(self, obj: object) -> None:
        if not self._may_hold(type(obj)):
            return
        for name, _ in _hints(type(obj)):
            value = getattr(obj, name)
            bound = self._by_field.get((type(obj), name))
            if bound is not None and _outside(value, bound):
                upper = f" to {bound.high}" if bound.high is not None else " or more"
                unit = f" {bound.unit}" if bound.unit else ""
                raise _Mismatch(f"{bound.low}{upper}{unit}, not {value!r}").at(f".{name}")
            for index, item in enumerate(value if isinstance(value, tuple) else (value,)):
                if attrs.has(type(item)):
                    try:
                        self._check(item)
                    except _Mismatch as mismatch:
                        step = f"[{index}]" if isinstance(value, tuple) else ""
                        raise mismatch.at(step).at(f".{name}") from None

    def check(self, message: Message) -> None:
        """Check the bounded fields wherever they are in ``message`` (one
        ``check_message`` has accepted).

        Raises:
            EncodeError: the first value outside its range, named by its path.
        """
        try:
            self._check(message)
        except _Mismatch as mismatch:
            where = mismatch.path(type(message).__name__)
            raise EncodeError(f"{where} must be {mismatch.rule}") from None
