"""The conversation one connection holds: its items in order, with their audio and transcripts."""

from __future__ import annotations

import attrs

from .. import messages as m
from ..wire.openai import PCM_RATE

__all__ = ["Conversation", "Entry", "item_id", "wire_item"]


def item_id(item: m.ConversationItem) -> str:
    """The id of an item the server has accepted (every stored item has one)."""
    if item.id is None:  # pragma: no cover - the server assigns ids before storing
        raise ValueError("the item has no id")
    return item.id


def wire_item(item: m.ConversationItem) -> m.ConversationItem:
    """The item as ``conversation.item.added`` / ``.done`` show it: audio bytes left out, as the
    service does on the live wire (a user audio item carries its transcript, not its audio)."""
    if not isinstance(item, m.MessageItem):
        return item
    parts = tuple(
        attrs.evolve(p, audio=None) if isinstance(p, m.InputAudio | m.OutputAudio) else p
        for p in item.content
    )
    return attrs.evolve(item, content=parts)


@attrs.define(eq=False)
class Entry:
    """One item of a conversation (or of a response's inline ``input``) and what the server
    knows about it beyond the wire item.

    Attributes:
        item: the item as the server holds it; audio parts carry no bytes (see ``audio``).
        audio: the PCM16 of its audio part (user input or assistant output), ``b""`` if none.
        rate: the sample rate of ``audio`` in Hz.
        transcript: what the audio says, for the reply rules; set even when input
            transcription is off (the wire item then keeps ``transcript: null``).
        pending: a transcription of ``audio`` is in progress; responses that read this item
            wait for it.
        report_transcript: send ``conversation.item.input_audio_transcription.*`` events when
            the transcription finishes (input transcription was on when the item was added).
    """

    item: m.ConversationItem
    audio: bytes = b""
    rate: int = PCM_RATE
    transcript: str | None = None
    pending: bool = False
    report_transcript: bool = False

    @property
    def id(self) -> str:
        """The item id."""
        return item_id(self.item)

    @property
    def audio_ms(self) -> int:
        """The duration of ``audio``, in ms (floor)."""
        return len(self.audio) // 2 * 1000 // self.rate

    def with_audio(self) -> m.ConversationItem:
        """The item with its audio bytes filled in, as ``conversation.item.retrieved`` shows it."""
        item = self.item
        if not self.audio or not isinstance(item, m.MessageItem):
            return item
        parts = tuple(
            attrs.evolve(p, audio=self.audio) if isinstance(p, m.InputAudio | m.OutputAudio) else p
            for p in item.content
        )
        return attrs.evolve(item, content=parts)


class Conversation:
    """The items of the default conversation, in order, addressable by id."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: list[Entry] = []

    def entries(self) -> tuple[Entry, ...]:
        """All entries, first to last."""
        return tuple(self._entries)

    def get(self, item_id: str) -> Entry | None:
        """The entry of ``item_id``, or ``None``."""
        for entry in self._entries:
            if entry.id == item_id:
                return entry
        return None

    def find_call(self, call_id: str) -> Entry | None:
        """The ``function_call`` item with ``call_id``, or ``None``."""
        for entry in self._entries:
            if isinstance(entry.item, m.FunctionCallItem) and entry.item.call_id == call_id:
                return entry
        return None

    def insert(self, entry: Entry, previous_item_id: str | None = None) -> str | None:
        """Add an entry after ``previous_item_id`` (``None``: at the end; ``"root"``: first).

        Returns:
            The id of the item now before it (the event's ``previous_item_id``), or ``None``
            when it is first.

        Raises:
            KeyError: ``previous_item_id`` names no item.
        """
        if previous_item_id is None:
            index = len(self._entries)
        elif previous_item_id == "root":
            index = 0
        else:
            previous = self.get(previous_item_id)
            if previous is None:
                raise KeyError(previous_item_id)
            index = self._entries.index(previous) + 1
        self._entries.insert(index, entry)
        return self._entries[index - 1].id if index else None

    def delete(self, item_id: str) -> Entry | None:
        """Remove and return the entry of ``item_id``, or ``None`` when there is none."""
        entry = self.get(item_id)
        if entry is not None:
            self._entries.remove(entry)
        return entry
