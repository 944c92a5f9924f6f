"""Which responses are in progress: the one rule every per-response state follows."""

from __future__ import annotations

from typing import final

__all__ = ["OpenResponses"]


@final
class OpenResponses:
    """The responses in progress, for stages and the session's provider end (sans I/O).

    A response is open from its ``ResponseCreated`` (OpenAI ``response.created``) until the
    first of:

    - its ``ResponseDone`` (``response.done``). The session delivers one itself, status
      ``cancelled`` with reason ``"reconnected"``, for each response still open when it
      moves to a new connection without a clean switch point; when the session ends, every
      stage's state ends with it.
    - the next ``ResponseCreated`` of the conversation: the service runs one conversation
      response at a time, so a new one means the previous has ended and its ``ResponseDone``
      was lost. ``created`` returns those *superseded* ids, so a stage can end their
      state (close a span, flush a tool round, release a held request) instead of waiting
      for ever.

    Out-of-band responses (``ResponseCreate(conversation="none")``) run beside the
    conversation's: note each such request with ``requested_out_of_band``, and the next
    ``ResponseCreated`` is taken as its answer; it neither supersedes nor is superseded.
    """

    __slots__ = ("_beside", "_in_conversation", "_out_of_band_requests")

    def __init__(self) -> None:
        self._in_conversation: set[str | None] = set()
        self._beside: set[str | None] = set()
        self._out_of_band_requests = 0

    def requested_out_of_band(self) -> None:
        """An out-of-band ``ResponseCreate`` went to the provider."""
        self._out_of_band_requests += 1

    def created(self, response_id: str | None) -> tuple[str | None, ...]:
        """A ``ResponseCreated`` arrived; returns the responses it supersedes, in no
        particular order."""
        if self._out_of_band_requests:
            self._out_of_band_requests -= 1
            self._beside.add(response_id)
            return ()
        superseded = tuple(self._in_conversation - {response_id})
        self._in_conversation = {response_id}
        return superseded

    def done(self, response_id: str | None) -> bool:
        """A ``ResponseDone`` arrived; returns whether that response was open."""
        if response_id in self._in_conversation:
            self._in_conversation.discard(response_id)
            return True
        if response_id in self._beside:
            self._beside.discard(response_id)
            return True
        return False

    def release_all(self) -> tuple[str | None, ...]:
        """Count every open response as ended (their ``ResponseDone`` will not come);
        returns their ids."""
        released = (*self._in_conversation, *self._beside)
        self._in_conversation.clear()
        self._beside.clear()
        self._out_of_band_requests = 0
        return released

    def ids(self) -> tuple[str | None, ...]:
        """The open responses' ids."""
        return (*self._in_conversation, *self._beside)

    def __bool__(self) -> bool:
        return bool(self._in_conversation or self._beside)
