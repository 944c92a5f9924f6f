"""Testing helpers for rtsession users.

- ``FakeProvider``: an in-memory, scripted provider and transport, to run a session
  (and your middleware) without sockets; ``response_events`` builds a whole response
  for its scripts; ``AppInbox`` reads the session on the app's side. See
  ``docs/testing.md``.
- ``ReplayTransport`` plays a recording (``rtsession.transport.RecordingTransport``'s) back
  as the server, checking that the client sends what was recorded (``ReplayMismatch``
  otherwise); see ``docs/recording.md``.
- ``rtsession.testing.strategies``: hypothesis strategies for every message (import it
  explicitly; it needs hypothesis).
- A pytest plugin, loaded by pytest by itself: the fixtures ``local_server``,
  ``fake_provider`` and ``app_inbox`` and the marker ``rtsession_engines`` (the ``testing``
  extra; ``docs/testing.md``, "The pytest plugin").
"""

from .._public import publish
from ._fake import (
    AppInbox as AppInbox,
    FakeProvider as FakeProvider,
    Reply as Reply,
    response_events as response_events,
)
from ._replay import ReplayMismatch as ReplayMismatch, ReplayTransport as ReplayTransport

__all__ = [
    "AppInbox",
    "FakeProvider",
    "ReplayMismatch",
    "ReplayTransport",
    "Reply",
    "response_events",
]

publish(__name__, globals())
del publish
