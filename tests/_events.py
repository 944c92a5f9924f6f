"""Reading a session's events in tests."""

from __future__ import annotations

import trio

from rtsession import messages as m
from rtsession.session import Session

TIMEOUT = 10  # seconds: rtsession.local answers in milliseconds


async def until(session: Session, last: type[m.ServerMessage]) -> list[m.ServerMessage]:
    """Every message up to and including the first ``last``."""
    received: list[m.ServerMessage] = []
    with trio.fail_after(TIMEOUT):
        async for event in session:
            received.append(event)
            if isinstance(event, last):
                return received
    raise AssertionError(f"the session ended before {last.__name__}: {received}")
