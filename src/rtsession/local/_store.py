"""Sessions the local server keeps for resumption on a new connection (Gemini Live handles)."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Final

import attrs

from .. import messages as m
from ._conversation import Conversation, Entry

__all__ = ["HANDLES_PER_SESSION", "MAX_SESSIONS", "SessionStore", "Snapshot"]

MAX_SESSIONS: Final = 64
"""Resumable sessions one server keeps; the least recently saved is forgotten beyond that."""
HANDLES_PER_SESSION: Final = 4
"""Handles kept per session, the latest ones."""


@attrs.frozen
class Snapshot:
    """A session's state at a point where it could be resumed.

    Attributes:
        lineage: the id of the session's first connection; every handle of a resumed
            session belongs to it.
        options: the configuration in force.
        entries: the conversation, copied (so later changes do not reach it).
        audio_present: the conversation holds assistant audio (the voice is fixed).
    """

    lineage: str
    options: m.SessionOptions
    entries: tuple[Entry, ...]
    audio_present: bool

    @classmethod
    def take(
        cls,
        lineage: str,
        options: m.SessionOptions,
        conversation: Conversation,
        audio_present: bool,
    ) -> Snapshot:
        """A snapshot of ``conversation`` as it is now."""
        entries = tuple(attrs.evolve(entry) for entry in conversation.entries())
        return cls(lineage, options, entries, audio_present)

    def conversation(self) -> Conversation:
        """A new conversation holding copies of the snapshot's entries."""
        conversation = Conversation()
        for entry in self.entries:
            conversation.insert(attrs.evolve(entry))
        return conversation


class SessionStore:
    """Snapshots of a server's resumable sessions, by handle.

    Each session keeps its ``HANDLES_PER_SESSION`` latest handles (a client resumes
    with the latest it received; a connection that ended early may not have delivered the
    very latest), and at most ``MAX_SESSIONS`` sessions are kept, the least recently
    saved forgotten first. Handles are ``<lineage>.<n>``.
    """

    def __init__(self) -> None:
        self._sessions: OrderedDict[str, OrderedDict[str, Snapshot]] = OrderedDict()
        self._numbers = itertools.count(1)

    def save(self, snapshot: Snapshot) -> str:
        """Keep ``snapshot``; returns its handle."""
        handle = f"{snapshot.lineage}.{next(self._numbers)}"
        handles = self._sessions.pop(snapshot.lineage, None) or OrderedDict()
        handles[handle] = snapshot
        while len(handles) > HANDLES_PER_SESSION:
            handles.popitem(last=False)
        self._sessions[snapshot.lineage] = handles
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return handle

    def get(self, handle: str) -> Snapshot | None:
        """The snapshot ``handle`` names, or ``None`` if it is unknown or forgotten."""
        handles = self._sessions.get(handle.rpartition(".")[0])
        return None if handles is None else handles.get(handle)
