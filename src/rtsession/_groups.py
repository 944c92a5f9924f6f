"""Turning a nursery's exception group back into the one exception it stands for.

Trio wraps whatever leaves a nursery in an ``ExceptionGroup``. The transport and the session
hide their nurseries, so they collapse the group at their edge (trio-style rule 2), the way
``trio.as_safe_channel`` does with trio's private ``raise_single_exception_from_group``.
"""

from __future__ import annotations

from typing import NoReturn

import trio

from ._errors import RTSessionError

__all__ = ["collapse", "reraise"]


def collapse(
    group: BaseExceptionGroup[BaseException], preferred: BaseException | None = None
) -> BaseException:
    """Return the single exception that should leave a context manager hiding a nursery.

    Args:
        group: what the nursery raised.
        preferred: the exception the caller's own code (e.g. the user's ``async with`` body)
            raised, if any; it wins over failures of background tasks.

    Returns:
        The one exception other than ``trio.Cancelled`` (the others being cancellations it
        caused), collapsed in turn if it is itself a group, or the first ``Cancelled`` when
        there is nothing else. With several real
        failures: ``preferred`` if it is one of them, with the rest attached as its
        ``__context__``; a new ``KeyboardInterrupt`` / ``SystemExit`` (caused by the group) if
        one of them is that; otherwise an ``RTSessionError`` caused by the group.
    """
    failures = [exc for exc in group.exceptions if not isinstance(exc, trio.Cancelled)]
    if not failures:
        return group.exceptions[0]
    if len(failures) == 1:
        (only,) = failures
        # a library's own nursery inside ours (Hypercorn's, say) nests one group in another
        return collapse(only) if isinstance(only, BaseExceptionGroup) else only
    for exc in failures:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            interrupt = type(exc)(*exc.args)
            interrupt.__cause__ = group
            return interrupt
    if preferred is not None and preferred in failures:
        others = [exc for exc in failures if exc is not preferred]
        if preferred.__context__ is not None and not preferred.__suppress_context__:
            others.append(preferred.__context__)
        preferred.__context__ = BaseExceptionGroup("failures during the same session", others)
        preferred.__suppress_context__ = False
        return preferred
    error = RTSessionError(f"{len(failures)} failures at once; see the cause")
    error.__cause__ = group
    return error


def reraise(exc: BaseException) -> NoReturn:
    """Raise ``exc`` without making the group being handled its ``__context__``."""
    context = exc.__context__
    try:
        raise exc
    finally:
        exc.__context__ = context
        del exc, context
