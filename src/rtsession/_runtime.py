"""The check that rtsession's entry points run under trio."""

from __future__ import annotations

import sniffio
import trio

from ._errors import NotInTrioError

__all__ = ["require_trio"]


def require_trio(entry: str) -> None:
    """Raise ``NotInTrioError`` naming ``entry`` unless called inside a trio run."""
    try:
        trio.lowlevel.current_trio_token()
    except RuntimeError:
        try:
            library = sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            library = "no async library"
        raise NotInTrioError(
            f"{entry} needs trio, and it was called from {library}: run the program with "
            "trio.run(main), or call it from asyncio in a thread that runs trio.run (or through "
            "trio-asyncio)"
        ) from None
