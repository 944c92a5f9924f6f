"""The public surface, as trio keeps it: classes only a factory may make
(``NoPublicConstructor``), and public names that report their public module (``publish``)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["NoPublicConstructor", "publish"]

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


def publish(module: str, namespace: Mapping[str, Any]) -> None:
    """Make each class and function in ``namespace["__all__"]`` that rtsession defines report
    ``module`` as its ``__module__`` (``rtsession.session.Session``, not
    ``rtsession.session._session.Session``), as trio's ``fixup_module_metadata`` does. A
    package calls it last in its ``__init__``; the top-level package calls it after the
    subpackages, so what it re-exports reports ``rtsession``.

    A class's string annotations (``from __future__ import annotations``) are evaluated
    first, in the module that defines them: ``typing.get_type_hints`` (used by attrs and
    cattrs) looks names up in ``sys.modules[cls.__module__]``, which would no longer be that
    module.

    Raises:
        NameError: an annotation names something its module does not define.
    """
    for name in namespace["__all__"]:
        value = namespace[name]
        defined_in = getattr(value, "__module__", None)
        if not isinstance(defined_in, str) or not defined_in.startswith("rtsession."):
            continue
        if not callable(value) or defined_in == module:
            continue
        if isinstance(value, type):
            value.__annotations__ = inspect.get_annotations(value, eval_str=True)
        value.__module__ = module
