"""The conversation as the server confirmed it, kept on the client side (sans I/O)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import final, overload

import attrs

from ..messages import (
    ContentPart,
    ConversationItem,
    ConversationItemAdded,
    ConversationItemCreated,
    ConversationItemDeleted,
    ConversationItemDone,
    ConversationItemInputAudioTranscriptionCompleted,
    ConversationItemRetrieved,
    ConversationItemTruncated,
    InputAudio,
    MessageItem,
    OutputAudio,
    ResponseOutputItemDone,
    ServerMessage,
)

__all__ = ["Conversation"]

_PLACED = (ConversationItemAdded, ConversationItemCreated, ConversationItemDone)


def _without_audio(part: ContentPart) -> ContentPart:
    """The part with its audio bytes dropped (the transcript is kept)."""
    if isinstance(part, InputAudio | OutputAudio) and part.audio is not None:
        return attrs.evolve(part, audio=None)
    return part


def _lean(item: ConversationItem) -> ConversationItem:
    if isinstance(item, MessageItem) and any(
        isinstance(p, InputAudio | OutputAudio) for p in item.content
    ):
        return attrs.evolve(item, content=tuple(_without_audio(p) for p in item.content))
    return item


@final
class Conversation(Sequence[ConversationItem]):
    """The conversation's items, in order, as the server confirmed them (``Session.conversation``).

    A read-only sequence of :data:`~rtsession.messages.ConversationItem`: messages (user,
    assistant, system) with their text and the transcripts of their audio, function calls
    and function call outputs. The session keeps it current from the server's item events,
    before any middleware sees them:

    - ``ConversationItemAdded`` / ``ConversationItemCreated`` (beta) / ``ConversationItemDone``
      / ``ConversationItemRetrieved`` and ``ResponseOutputItemDone`` (OpenAI
      ``conversation.item.added`` / ``.created`` / ``.done`` / ``.retrieved``,
      ``response.output_item.done``) place or update an item, after its
      ``previous_item_id`` when the server names one;
    - ``ConversationItemDeleted`` removes it; ``ConversationItemTruncated`` drops the
      transcript of the audio the user did not hear (the service truncates it too);
    - ``ConversationItemInputAudioTranscriptionCompleted`` fills in the transcript of the
      user's audio. On Gemini Live, which reports no item events, this transcription and
      ``ResponseOutputItemDone`` are what the codec gives, so the user's spoken turns and the
      model's replies appear; text the app sends with ``clientContent`` is not confirmed by
      that service and does not appear.

    Audio bytes are not kept (only transcripts), so the memory it holds grows with the text
    of the conversation, not its audio. It lives as long as the session, across switches of
    connection.
    """

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: list[ConversationItem] = []

    def observe(self, message: ServerMessage) -> None:
        """Update the conversation from one server message (others are ignored)."""
        if isinstance(message, _PLACED):
            self._place(message.item, message.previous_item_id)
        elif isinstance(message, ResponseOutputItemDone | ConversationItemRetrieved):
            self._place(message.item, None)
        elif isinstance(message, ConversationItemDeleted):
            self._items = [item for item in self._items if item.id != message.item_id]
        elif isinstance(message, ConversationItemInputAudioTranscriptionCompleted):
            self._transcribed(message.item_id, message.content_index, message.transcript)
        elif isinstance(message, ConversationItemTruncated):
            self._truncated(message.item_id, message.content_index)

    def _index(self, item_id: str | None) -> int | None:
        if item_id is None:
            return None
        for index, item in enumerate(self._items):
            if item.id == item_id:
                return index
        return None

    def _place(self, item: ConversationItem, previous_item_id: str | None) -> None:
        item = _lean(item)
        index = self._index(item.id)
        if index is not None:
            self._items[index] = item
            return
        after = self._index(previous_item_id)
        if after is None:
            self._items.append(item)
        else:
            self._items.insert(after + 1, item)

    def _transcribed(self, item_id: str, content_index: int, transcript: str) -> None:
        if self._index(item_id) is None:  # Gemini: the transcription is the only report
            heard = InputAudio(transcript=transcript)
            self._items.append(MessageItem(role="user", content=(heard,), id=item_id))
            return
        self._set_transcript(item_id, content_index, InputAudio, transcript)

    def _truncated(self, item_id: str, content_index: int) -> None:
        self._set_transcript(item_id, content_index, OutputAudio, None)

    def _set_transcript(
        self,
        item_id: str,
        content_index: int,
        kind: type[InputAudio | OutputAudio],
        transcript: str | None,
    ) -> None:
        """Set the transcript of the audio part at ``content_index`` of message
        ``item_id``, when there is one of that ``kind``."""
        index = self._index(item_id)
        if index is None:
            return
        item = self._items[index]
        if not isinstance(item, MessageItem) or content_index >= len(item.content):
            return
        part = item.content[content_index]
        if isinstance(part, kind):
            content = list(item.content)
            content[content_index] = attrs.evolve(part, transcript=transcript)
            self._items[index] = attrs.evolve(item, content=tuple(content))

    @overload
    def __getitem__(self, index: int) -> ConversationItem: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[ConversationItem]: ...

    def __getitem__(self, index: int | slice) -> ConversationItem | Sequence[ConversationItem]:
        if isinstance(index, slice):
            return tuple(self._items[index])
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[ConversationItem]:
        return iter(tuple(self._items))

    def __repr__(self) -> str:
        return f"<Conversation of {len(self._items)} items>"
