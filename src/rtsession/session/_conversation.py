"""The conversation as the server confirmed it, kept on the client side (sans I/O)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import TypeAlias, final, overload

import attrs

from .._errors import EncodeError
from ..messages import (
    ContentPart,
    ConversationItem,
    ConversationItemAdded,
    ConversationItemCreate,
    ConversationItemCreated,
    ConversationItemDeleted,
    ConversationItemDone,
    ConversationItemInputAudioTranscriptionCompleted,
    ConversationItemRetrieved,
    ConversationItemTruncated,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudio,
    InputText,
    MessageItem,
    OutputAudio,
    OutputText,
    ResponseOutputItemDone,
    ServerMessage,
)

__all__ = ["Conversation", "replay"]

_NOTHING_SPOKEN: Mapping[str, bytes] = {}

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

    A read-only sequence of ``ConversationItem``: messages (user,
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


def replay(
    items: Iterable[ConversationItem],
    open_calls: Collection[str],
    check: Callable[[ConversationItemCreate], None],
    spoken: Mapping[str, bytes] = _NOTHING_SPOKEN,
) -> list[ConversationItemCreate]:
    """The ``ConversationItemCreate`` messages that rebuild a conversation on a new
    connection, in order and with the same item ids where the provider carries them.

    Audio becomes its transcript (``InputAudio`` → ``InputText``, ``OutputAudio`` →
    ``OutputText``; audio without a transcript is left out), except a user turn whose audio
    ``spoken`` holds (by item id): it is replayed as that audio, with its transcript. A
    function call is replayed with its output, or alone while it is still open (in
    ``open_calls``: its answer will follow on the new connection). Left out: a call never
    answered and an output whose call is not replayed; a message still in progress (a
    reply cut off by the drop) or left with no content; MCP items (the service lists an MCP
    server's tools again by itself); and any item ``check`` refuses with
    ``EncodeError`` (what the provider cannot carry, e.g. a function call
    on Gemini Live).
    """
    items = tuple(items)
    answered = {i.call_id for i in items if isinstance(i, FunctionCallOutputItem)}
    replayable_calls = answered | set(open_calls)
    kept_calls: set[str] = set()
    out: list[ConversationItemCreate] = []
    for item in items:
        kept = _replayable(item, replayable_calls, kept_calls, spoken)
        if kept is None:
            continue
        message = _carried(kept, check)
        if message is None:
            continue
        if isinstance(kept, FunctionCallItem) and kept.call_id is not None:
            kept_calls.add(kept.call_id)
        out.append(message)
    return out


def _carried(
    item: _Replayable, check: Callable[[ConversationItemCreate], None]
) -> ConversationItemCreate | None:
    """The message that creates ``item`` as the provider carries it: with its id, else
    without (Gemini Live takes no ids), else ``None``."""
    for candidate in (
        ConversationItemCreate(item=item),
        ConversationItemCreate(item=attrs.evolve(item, id=None)),
    ):
        try:
            check(candidate)
        except EncodeError:
            continue
        return candidate
    return None


_Replayable: TypeAlias = MessageItem | FunctionCallItem | FunctionCallOutputItem


def _replayable(
    item: ConversationItem,
    replayable_calls: set[str],
    kept_calls: set[str],
    spoken: Mapping[str, bytes],
) -> _Replayable | None:
    if isinstance(item, FunctionCallItem):
        if item.call_id is None or item.call_id not in replayable_calls:
            return None
        return attrs.evolve(item, status=None)
    if isinstance(item, FunctionCallOutputItem):
        return attrs.evolve(item, status=None) if item.call_id in kept_calls else None
    if not isinstance(item, MessageItem) or item.status == "in_progress":
        return None
    audio = spoken.get(item.id) if item.id is not None else None
    parts = (_as_text(part, audio) for part in item.content)
    content = tuple(p for p in parts if p is not None)
    return attrs.evolve(item, content=content, status=None) if content else None


def _as_text(part: ContentPart, audio: bytes | None) -> ContentPart | None:
    if isinstance(part, InputAudio):
        if audio is not None:
            return InputAudio(audio=audio, transcript=part.transcript)
        return None if part.transcript is None else InputText(text=part.transcript)
    if isinstance(part, OutputAudio):
        return None if part.transcript is None else OutputText(text=part.transcript)
    return part
