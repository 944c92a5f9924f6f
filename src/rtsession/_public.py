"""Classes only a factory may make (trio's ``NoPublicConstructor``)."""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = ["NoPublicConstructor"]

_T = TypeVar("_T")


class NoPublicConstructor(type):
    """A metaclass for classes users get from a factory, never build: calling the class
    raises ``TypeError``; the library makes instances with ``cls._create(...)``."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"{cls.__qualname__} has no public constructor: rtsession makes it for you "
            "(see its docstring)"
        )

    def _create(cls: type[_T], *args: Any, **kwargs: Any) -> _T:
        return super().__call__(*args, **kwargs)  # type: ignore[misc,no-any-return]
