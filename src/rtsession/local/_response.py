"""One response's lifecycle, as the events the service sends for it (sans-I/O).

The order follows a real GA turn (``docs/messages.md``): ``response.created``, then for
the one output item ``response.output_item.added``, ``conversation.item.added``,
``response.content_part.added``, the deltas (``response.output_audio.delta`` with the
``response.output_audio_transcript.delta`` words due by then, or ``response.output_text.delta``,
or ``response.function_call_arguments.delta``), the matching ``.done`` events,
``response.content_part.done``, ``response.output_item.done``, ``conversation.item.done``, and
``response.done`` with status and usage.
"""

from __future__ import annotations

import enum
import re
from collections import deque
from collections.abc import Callable
from typing import Final, Literal

import attrs

from .. import messages as m
from ..audio import G711_RATE
from ..wire.openai import PCM_RATE
from ._conversation import Conversation, Entry, item_id, wire_item
from ._replies import CallFunction, Reply, Say
from ._usage import Tally, audio_tokens, char_tokens, context_tally, usage

__all__ = ["AUDIO_CHUNK_MS", "Phase", "ResponseRun", "ResponseSettings"]

AUDIO_CHUNK_MS: Final = 40
"""The length of each ``response.output_audio.delta``, in ms (the last may be shorter). Deltas
go out as fast as the client reads them, like the service's, not in real time."""

ARGUMENT_CHUNK_CHARS: Final = 16
"""Characters per ``response.function_call_arguments.delta``."""

_WORDS: Final = re.compile(r"\S+\s*")


class Phase(enum.Enum):
    """Where a response is."""

    WAITING_INPUT = "waiting_input"
    """Transcriptions of items in its context are still running."""
    WAITING_AUDIO = "waiting_audio"
    """Its reply is being spoken by the text-to-speech engine."""
    STREAMING = "streaming"
    """Its events are going out."""
    DONE = "done"
    """``response.done`` was sent."""


def format_rate(fmt: m.AudioFormat | None) -> int:
    """The sample rate of a session's audio format, Hz: G.711's 8000 for ``audio/pcmu`` and
    ``audio/pcma`` (their audio is handled as PCM16 at that rate inside the server and
    companded at the connection), else the PCM rate (24000 when unset)."""
    if fmt is not None and fmt.type != "audio/pcm":
        return G711_RATE
    return (fmt.rate if fmt is not None else None) or PCM_RATE


@attrs.frozen(kw_only=True)
class ResponseSettings:
    """The settings one response runs with: the session's, overridden by ``response.create``.

    Attributes:
        output_modalities: ``("audio",)`` (speech plus transcript) or ``("text",)``.
        voice: the voice, echoed in the response object.
        output_format: the audio format; its rate (Hz) is the rate of the audio deltas.
        instructions: the instructions the reply rules read.
        tools: the tools the reply rules may call.
        tool_choice: how they may call them.
        max_output_tokens: echoed in the response object (not enforced).
        metadata: echoed in the response object.
    """

    output_modalities: tuple[m.Modality, ...]
    voice: str
    output_format: m.AudioFormat
    instructions: str | None
    tools: tuple[m.Tool, ...]
    tool_choice: m.ToolChoice
    max_output_tokens: int | Literal["inf"]
    metadata: dict[str, str] | None = None

    @property
    def rate(self) -> int:
        """The output sample rate, in Hz (of the PCM16 the server makes; G.711 is companded
        from it at the connection)."""
        return format_rate(self.output_format)


@attrs.define(eq=False)
class _OpenItem:
    """The output item between its ``output_item.added`` and ``output_item.done``."""

    item: m.ConversationItem
    entry: Entry | None = None
    previous_item_id: str | None = None
    part: m.OutputText | m.OutputAudio | None = None
    content: tuple[m.ContentPart, ...] = ()
    text: str = ""
    audio: bytearray = attrs.Factory(bytearray)


Group = list[m.ServerMessage]


@attrs.frozen
class _Part:
    """Builds the events of content part 0 of output item 0 of a response."""

    response_id: str
    item_id: str

    def added(self, part: m.OutputText | m.OutputAudio) -> m.ResponseContentPartAdded:
        return m.ResponseContentPartAdded(
            response_id=self.response_id, item_id=self.item_id, output_index=0, content_index=0,
            part=part,
        )  # fmt: skip

    def done(self, part: m.OutputText | m.OutputAudio) -> m.ResponseContentPartDone:
        return m.ResponseContentPartDone(
            response_id=self.response_id, item_id=self.item_id, output_index=0, content_index=0,
            part=part,
        )  # fmt: skip

    def audio(self, chunk: bytes) -> m.ResponseOutputAudioDelta:
        return m.ResponseOutputAudioDelta(
            response_id=self.response_id, item_id=self.item_id, output_index=0, content_index=0,
            delta=chunk,
        )  # fmt: skip

    def audio_done(self) -> m.ResponseOutputAudioDone:
        return m.ResponseOutputAudioDone(
            response_id=self.response_id, item_id=self.item_id, output_index=0, content_index=0
        )

    def transcript(self, delta: str) -> m.ResponseOutputAudioTranscriptDelta:
        return m.ResponseOutputAudioTranscriptDelta(
            response_id=self.response_id, item_id=self.item_id, output_index=0, content_index=0,
            delta=delta,
        )  # fmt: skip

    def transcript_done(self, transcript: str) -> m.ResponseOutputAudioTranscriptDone:
        return m.ResponseOutputAudioTranscriptDone(
            response_id=self.response_id, item_id=self.item_id, output_index=0, content_index=0,
            transcript=transcript,
        )  # fmt: skip

    def text(self, delta: str) -> m.ResponseOutputTextDelta:
        return m.ResponseOutputTextDelta(
            response_id=self.response_id, item_id=self.item_id, output_index=0, content_index=0,
            delta=delta,
        )  # fmt: skip

    def text_done(self, text: str) -> m.ResponseOutputTextDone:
        return m.ResponseOutputTextDone(
            response_id=self.response_id, item_id=self.item_id, output_index=0, content_index=0,
            text=text,
        )  # fmt: skip


class ResponseRun:
    """The events of one response, handed out group by group, and its close-out on cancel.

    Created by the session for each ``response.create`` (or server-VAD turn). The session
    calls ``plan`` with the reply once the context's transcriptions are done, then
    ``set_audio`` with the spoken reply when the reply is speech, then
    ``next_batch`` until it returns nothing. ``cancel`` and ``fail`` end it early
    with exactly what was sent so far.

    Messages carry no ``message_id``; the session stamps event ids as it sends them.

    Args:
        response_id: the ``resp_...`` id.
        settings: what it runs with.
        context: the items the reply rules read.
        conversation: the conversation its output joins, or ``None`` for an out-of-band
            response (``conversation: "none"``), whose output joins nothing.
        conversation_id: the ``conversation_id`` of its response object.
        new_id: makes item and call ids (``new_id("item")``).
    """

    def __init__(
        self,
        response_id: str,
        settings: ResponseSettings,
        context: tuple[Entry, ...],
        conversation: Conversation | None,
        conversation_id: str | None,
        new_id: Callable[[str], str],
    ) -> None:
        self.id = response_id
        self.settings = settings
        self.context = context
        self.phase = Phase.WAITING_INPUT
        self._conversation = conversation
        self._conversation_id = conversation_id
        self._new_id = new_id
        self._reply: Reply | None = None
        self._groups: deque[Group] = deque()
        self._open: _OpenItem | None = None
        self._output: list[m.ConversationItem] = []
        self._sent_text = 0  # characters of text, transcript and arguments sent
        self._sent_audio = 0  # bytes of audio sent
        self.usage: m.Usage | None = None
        """The usage reported in ``response.done``, once it went out."""

    @property
    def in_conversation(self) -> bool:
        """Whether the output joins the default conversation."""
        return self._conversation is not None

    @property
    def ready(self) -> bool:
        """Waiting for input, and no item of the context is being transcribed any more."""
        return self.phase is Phase.WAITING_INPUT and not any(e.pending for e in self.context)

    @property
    def sent_audio(self) -> bool:
        """Whether any audio delta went out."""
        return self._sent_audio > 0

    def _response(
        self,
        status: m.ResponseStatus,
        details: m.ResponseStatusDetails | None = None,
        response_usage: m.Usage | None = None,
    ) -> m.Response:
        s = self.settings
        return m.Response(
            id=self.id,
            status=status,
            status_details=details,
            output=tuple(self._output),
            conversation_id=self._conversation_id,
            output_modalities=s.output_modalities,
            max_output_tokens=s.max_output_tokens,
            voice=s.voice,
            output_audio_format=s.output_format,
            usage=response_usage,
            metadata=s.metadata,
        )

    def created(self) -> m.ResponseCreated:
        """The ``response.created`` event."""
        return m.ResponseCreated(response=self._response("in_progress"))

    # --- planning ------------------------------------------------------------------------------

    def plan(self, reply: Reply) -> str | None:
        """Lay out the events of ``reply``.

        Returns:
            The text to speak when the reply is speech in audio mode (then
            ``set_audio`` must follow), else ``None`` (streaming may start).
        """
        self._reply = reply
        if isinstance(reply, CallFunction):
            self._groups = self._function_call_groups(reply)
        elif "audio" in self.settings.output_modalities:
            self.phase = Phase.WAITING_AUDIO
            return reply.text
        else:
            self._groups = self._text_groups(reply.text)
        self.phase = Phase.STREAMING
        return None

    def set_audio(self, pcm16: bytes) -> None:
        """Lay out an audio reply: ``pcm16`` is the spoken reply at the output rate."""
        if not isinstance(self._reply, Say) or self.phase is not Phase.WAITING_AUDIO:
            raise RuntimeError("set_audio() needs a planned speech reply")
        self._groups = self._audio_groups(self._reply.text, pcm16)
        self.phase = Phase.STREAMING

    def _item_added(self, item: m.ConversationItem) -> m.ResponseOutputItemAdded:
        return m.ResponseOutputItemAdded(response_id=self.id, output_index=0, item=item)

    def _item_done(self, item: m.ConversationItem) -> m.ResponseOutputItemDone:
        return m.ResponseOutputItemDone(response_id=self.id, output_index=0, item=item)

    def _start_message(self, part: m.OutputText | m.OutputAudio) -> tuple[_Part, Group]:
        item_id = self._new_id("item")
        item = m.MessageItem(role="assistant", id=item_id, status="in_progress")
        events = _Part(self.id, item_id)
        return events, [self._item_added(item), events.added(part)]

    def _end_message(self, events: _Part, part: m.OutputText | m.OutputAudio) -> Group:
        item = m.MessageItem(
            role="assistant", content=(part,), id=events.item_id, status="completed"
        )
        return [events.done(part), self._item_done(item)]

    def _audio_groups(self, text: str, pcm16: bytes) -> deque[Group]:
        events, first = self._start_message(m.OutputAudio(transcript=""))
        groups: deque[Group] = deque([first])
        size = self.settings.rate * AUDIO_CHUNK_MS // 1000 * 2
        chunks = [pcm16[i : i + size] for i in range(0, len(pcm16), size)]
        words = _WORDS.findall(text)
        # word j goes out with chunk j * len(chunks) // len(words): the transcript keeps pace
        due = [j * len(chunks) // len(words) for j in range(len(words))] if chunks else []
        for i, chunk in enumerate(chunks):
            group: Group = [events.audio(chunk)]
            group += [events.transcript(w) for w, at in zip(words, due, strict=True) if at == i]
            groups.append(group)
        if not chunks and words:
            groups.append([events.transcript(w) for w in words])
        part = m.OutputAudio(transcript=text)
        groups.append(
            [events.audio_done(), events.transcript_done(text), *self._end_message(events, part)]
        )
        return groups

    def _text_groups(self, text: str) -> deque[Group]:
        events, first = self._start_message(m.OutputText(text=""))
        groups: deque[Group] = deque([first])
        groups.extend([events.text(w)] for w in _WORDS.findall(text))
        part = m.OutputText(text=text)
        groups.append([events.text_done(text), *self._end_message(events, part)])
        return groups

    def _function_call_groups(self, call: CallFunction) -> deque[Group]:
        item_id, call_id = self._new_id("item"), self._new_id("call")
        item = m.FunctionCallItem(
            name=call.name, arguments="", call_id=call_id, id=item_id, status="in_progress"
        )
        groups: deque[Group] = deque([[self._item_added(item)]])
        args = call.arguments
        for i in range(0, len(args), ARGUMENT_CHUNK_CHARS):
            delta = m.ResponseFunctionCallArgumentsDelta(
                response_id=self.id, item_id=item_id, output_index=0, call_id=call_id,
                delta=args[i : i + ARGUMENT_CHUNK_CHARS],
            )  # fmt: skip
            groups.append([delta])
        done = m.ResponseFunctionCallArgumentsDone(
            response_id=self.id, item_id=item_id, output_index=0, call_id=call_id,
            arguments=args, name=call.name,
        )  # fmt: skip
        complete = attrs.evolve(item, arguments=args, status="completed")
        groups.append([done, self._item_done(complete)])
        return groups

    # --- sending -------------------------------------------------------------------------------

    def next_batch(self) -> list[m.ServerMessage]:
        """The next group of events: the opening events, one delta (an audio delta comes with
        the transcript words due by then), the closing events, and finally ``response.done``.

        Returns:
            The events, or ``[]`` once ``response.done`` went out or before streaming started.
        """
        if self.phase is not Phase.STREAMING:
            return []
        if not self._groups:
            return self._finish("completed")
        batch: list[m.ServerMessage] = []
        for message in self._groups.popleft():
            batch += self._deliver(message)
        return batch

    def _deliver(self, message: m.ServerMessage) -> list[m.ServerMessage]:
        """Account for one event going out; adds the ``conversation.item.*`` events it implies."""
        if isinstance(message, m.ResponseOutputItemAdded):
            return self._open_item(message)
        if isinstance(message, m.ResponseOutputItemDone):
            return self._close_item(message)
        current = self._open
        if current is None:  # pragma: no cover - every layout opens an item first
            raise RuntimeError(f"{type(message).__name__} outside an output item")
        if isinstance(message, m.ResponseContentPartAdded):
            current.part = message.part
        elif isinstance(message, m.ResponseContentPartDone):
            current.part = None
            current.content = (message.part,)
        elif isinstance(message, m.ResponseOutputAudioDelta):
            current.audio += message.delta
            self._sent_audio += len(message.delta)
        elif isinstance(
            message,
            m.ResponseOutputAudioTranscriptDelta
            | m.ResponseOutputTextDelta
            | m.ResponseFunctionCallArgumentsDelta,
        ):
            current.text += message.delta
            self._sent_text += len(message.delta)
        return [message]

    def _open_item(self, message: m.ResponseOutputItemAdded) -> list[m.ServerMessage]:
        current = self._open = _OpenItem(message.item)
        self._output.append(message.item)
        if self._conversation is None:
            return [message]
        current.entry = Entry(message.item, rate=self.settings.rate)
        current.previous_item_id = self._conversation.insert(current.entry)
        added = m.ConversationItemAdded(
            item=message.item, previous_item_id=current.previous_item_id
        )
        return [message, added]

    def _close_item(self, message: m.ResponseOutputItemDone) -> list[m.ServerMessage]:
        current, self._open = self._open, None
        if current is None:  # pragma: no cover - every layout opens an item first
            raise RuntimeError("output_item.done without output_item.added")
        self._output[-1] = message.item
        if current.entry is None:
            return [message]
        current.entry.item = message.item
        current.entry.audio = bytes(current.audio)
        current.entry.transcript = current.text if current.audio else None
        done = m.ConversationItemDone(
            item=wire_item(message.item), previous_item_id=current.previous_item_id
        )
        return [message, done]

    # --- ending --------------------------------------------------------------------------------

    def cancel(self, reason: str) -> list[m.ServerMessage]:
        """End now (``response.cancel`` or a barge-in): close the open item with what was sent
        (status ``incomplete``) and send ``response.done`` with status ``cancelled``.

        Args:
            reason: ``"client_cancelled"`` or ``"turn_detected"``.
        """
        details = m.ResponseStatusDetails(type="cancelled", reason=reason)
        return self._end_early("cancelled", details)

    def fail(self, code: str) -> list[m.ServerMessage]:
        """End with status ``failed`` (a speech engine failed), ``server_error`` / ``code``."""
        details = m.ResponseStatusDetails(type="failed", error_type="server_error", error_code=code)
        return self._end_early("failed", details)

    def _end_early(
        self, status: m.ResponseStatus, details: m.ResponseStatusDetails
    ) -> list[m.ServerMessage]:
        if self.phase is Phase.DONE:
            return []
        self._groups.clear()
        batch: list[m.ServerMessage] = []
        if self._open is not None:
            for message in self._close_out(self._open):
                batch += self._deliver(message)
        return batch + self._finish(status, details)

    def _close_out(self, current: _OpenItem) -> Group:
        """The ``.done`` events of the open item, holding exactly what was sent."""
        item = current.item
        if isinstance(item, m.FunctionCallItem):
            return [
                self._item_done(attrs.evolve(item, arguments=current.text, status="incomplete"))
            ]
        if not isinstance(item, m.MessageItem):  # pragma: no cover - responses make no others
            raise RuntimeError(f"cannot close a {type(item).__name__}")
        group: Group = []
        content = current.content
        if current.part is not None:
            events = _Part(self.id, item_id(item))
            part: m.OutputText | m.OutputAudio
            if isinstance(current.part, m.OutputAudio):
                part = m.OutputAudio(transcript=current.text)
                group += [events.audio_done(), events.transcript_done(current.text)]
            else:
                part = m.OutputText(text=current.text)
                group.append(events.text_done(current.text))
            group.append(events.done(part))
            content = (part,)
        group.append(self._item_done(attrs.evolve(item, content=content, status="incomplete")))
        return group

    def _finish(
        self, status: m.ResponseStatus, details: m.ResponseStatusDetails | None = None
    ) -> list[m.ServerMessage]:
        self.phase = Phase.DONE
        inputs = context_tally(self.settings.instructions, self.context)
        sent_ms = self._sent_audio // 2 * 1000 // self.settings.rate
        outputs = Tally(text=char_tokens(self._sent_text), audio=audio_tokens(sent_ms, output=True))
        self.usage = usage(inputs, outputs)
        return [m.ResponseDone(response=self._response(status, details, self.usage))]
