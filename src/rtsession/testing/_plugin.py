"""rtsession's pytest plugin: fixtures to test an app or a stage against ``rtsession.local``
or the in-memory fake, and a marker to pick the local server's speech engines.

pytest loads it by itself once rtsession is installed (the ``pytest11`` entry point); the
``testing`` extra brings pytest and pytest-trio, whose trio mode runs the async fixtures and
tests (``trio_mode = true`` under ``[tool.pytest.ini_options]``). ``docs/testing.md``, "The
pytest plugin", has a complete example.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .. import messages as m
from ..local import LocalServer, default_engines, open_local_server, protocol_only_engines
from ._fake import AppInbox, FakeProvider

__all__ = ["app_inbox", "fake_provider", "local_server"]

MARKER = "rtsession_engines"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(kind): the speech engines of the local_server fixture: "
        '"protocol" (the default: no speech work) or "real" (needs the local extra)',
    )


@pytest.fixture
async def local_server(request: pytest.FixtureRequest) -> AsyncIterator[LocalServer]:
    """A running ``rtsession.local`` server on loopback for the test, with the protocol-only
    engines, or the real ones under ``@pytest.mark.rtsession_engines("real")``."""
    marker = request.node.get_closest_marker(MARKER)
    kind = marker.args[0] if marker is not None and marker.args else "protocol"
    if kind not in ("protocol", "real"):
        raise pytest.UsageError(f'{MARKER} takes "protocol" or "real", not {kind!r}')
    engines = protocol_only_engines() if kind == "protocol" else default_engines()
    async with open_local_server(engines=engines) as server:
        yield server


@pytest.fixture
def fake_provider() -> FakeProvider:
    """A ``FakeProvider`` that greets as the service does (``SessionCreated``); pass it
    as both provider and transport. Build your own for a scripted conversation."""
    return FakeProvider([m.SessionCreated(session=m.SessionOptions())])


@pytest.fixture
def app_inbox() -> AppInbox:
    """An ``AppInbox``: start ``app_inbox.drain(session)`` in a nursery, then wait with
    ``receive_of(...)``."""
    return AppInbox()
