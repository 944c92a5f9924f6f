"""The server direction: Gemini server frames as the GA response lifecycle, and back
(https://ai.google.dev/api/live; ``docs/gemini.md``, "Server direction", for the order).

Gemini has no response, item or content-part events: ``Synthesizer`` keeps the state to
synthesize them, with ids numbered per connection, and ``ServerEncoder`` turns such a
sequence back into Gemini frames. ``docs/gemini.md`` describes the mapping and the round-trip
unit.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import attrs
import orjson

from ... import messages as m
from ..._errors import EncodeError
from .._json import b64encode
from ._fields import (
    OUTPUT_RATE,
    Payload,
    WireError,
    camel,
    duration_ms,
    duration_text,
    get,
    optional,
    optional_int64,
    optional_list,
    optional_object,
    pcm_rate,
    required,
    usage_from_wire,
    usage_to_wire,
)

__all__ = ["ServerEncoder", "Synthesizer"]

PartKind = Literal["audio", "text"]
Output = tuple[Literal["audio", "text", "transcript"], bytes | str]
Activity = tuple[Literal["start", "end"], int | None]

_CANCELLED: Final = m.ResponseStatusDetails(type="cancelled", reason="turn_detected")
_ACTIVITY: Final = {"ACTIVITY_START": "start", "ACTIVITY_END": "end"}
_VAD_SIGNALS: Final = {"VAD_SIGNAL_TYPE_SOS": "start", "VAD_SIGNAL_TYPE_EOS": "end"}


# --- parsing one frame (pure; raises WireError) ------------------------------------------------


@attrs.define
class _Frame:
    """What one server frame says, checked and typed, before it touches any state."""

    recognized: bool = False
    leftovers: Payload = attrs.Factory(dict)
    session_id: str | None = None
    setup_complete: bool = False
    usage: m.Usage | None = None
    input_text: str | None = None
    input_finished: bool = False
    outputs: list[Output] = attrs.Factory(list)
    interrupted: bool = False
    generation_complete: bool = False
    turn_complete: bool = False
    calls: list[tuple[str | None, str, str]] = attrs.Factory(list)
    activity: list[Activity] = attrs.Factory(list)
    messages: list[m.ServerMessage] = attrs.Factory(list)
    """Messages that need no state: cancellation, goAway, resumption updates."""


def _object(value: Any, path: str) -> Payload:
    if not isinstance(value, dict):
        raise WireError(f"expected an object, got {type(value).__name__}", path)
    return value


def _parse_parts(turn: Payload, frame: _Frame) -> list[Any]:
    """Add the text and PCM audio parts of ``modelTurn`` to ``frame.outputs``; return the
    parts it does not map (thoughts, code, other media)."""
    unmapped = []
    for i, part in enumerate(optional_list(turn, "parts", "serverContent.modelTurn")):
        where = f"serverContent.modelTurn.parts[{i}]"
        part = _object(part, where)
        text = optional(part, "text", str, where)
        blob = optional_object(part, "inlineData", where)
        if get(part, "thought") is True:
            unmapped.append(part)
        elif text is not None:
            if text:
                frame.outputs.append(("text", text))
        elif blob is not None and pcm_rate(required(blob, "mimeType", str, f"{where}.inlineData")):
            audio = required(blob, "data", bytes, f"{where}.inlineData")
            if audio:
                frame.outputs.append(("audio", audio))
        else:
            unmapped.append(part)
    return unmapped


def _parse_content(content: Payload, frame: _Frame) -> Payload:
    """Read ``serverContent`` into ``frame``; return its fields that are not mapped."""
    leftovers: Payload = {}
    path = "serverContent"
    for key, value in content.items():
        name = camel(key)
        if name == "modelTurn":
            unmapped = _parse_parts(_object(value, f"{path}.modelTurn"), frame)
            if unmapped:
                leftovers[key] = {"parts": unmapped}
        elif name == "turnComplete":
            frame.turn_complete = bool(optional(content, name, bool, path))
        elif name == "interrupted":
            frame.interrupted = bool(optional(content, name, bool, path))
        elif name == "generationComplete":
            frame.generation_complete = bool(optional(content, name, bool, path))
        elif name == "inputTranscription":
            where = f"{path}.inputTranscription"
            transcription = _object(value, where)
            frame.input_text = optional(transcription, "text", str, where) or ""
            frame.input_finished = bool(optional(transcription, "finished", bool, where))
        elif name == "outputTranscription":
            where = f"{path}.outputTranscription"
            text = optional(_object(value, where), "text", str, where)
            if text:
                frame.outputs.append(("transcript", text))
        else:
            leftovers[key] = value
    return leftovers


def _parse_calls(call: Payload, frame: _Frame) -> None:
    for i, entry in enumerate(optional_list(call, "functionCalls", "toolCall")):
        where = f"toolCall.functionCalls[{i}]"
        entry = _object(entry, where)
        args = optional_object(entry, "args", where)
        frame.calls.append(
            (
                optional(entry, "id", str, where),
                required(entry, "name", str, where),
                orjson.dumps(args if args is not None else {}).decode(),
            )
        )


def _parse_activity(value: Payload, name: str) -> Activity | None:
    if name == "voiceActivity":
        kind = optional(value, "voiceActivityType", str, name) or optional(value, "type", str, name)
        table, field = _ACTIVITY, "voiceActivityType"
    else:
        kind = optional(value, "vadSignalType", str, name)
        table, field = _VAD_SIGNALS, "vadSignalType"
    if kind is None or kind.upper().endswith("UNSPECIFIED"):
        return None
    edge = table.get(kind.upper())
    if edge is None:
        raise WireError(f"unknown value {kind!r}", f"{name}.{field}")
    offset = optional(value, "audioOffset", str, name)
    ms = None if offset is None else duration_ms(offset, f"{name}.audioOffset")
    return ("start" if edge == "start" else "end"), ms


def _parse(payload: Payload) -> _Frame:
    """Check and type one server frame.

    Raises:
        WireError: a known field is missing or has the wrong type.
    """
    frame = _Frame()
    for key, value in payload.items():
        name = camel(key)
        if name == "usageMetadata":
            frame.usage = usage_from_wire(_object(value, name), name)
        elif name == "setupComplete":
            frame.setup_complete = True
            frame.session_id = optional(_object(value, name), "sessionId", str, name)
        elif name == "serverContent":
            left = _parse_content(_object(value, name), frame)
            if left:
                frame.leftovers[key] = left
        elif name == "toolCall":
            _parse_calls(_object(value, name), frame)
        elif name == "toolCallCancellation":
            ids = optional(_object(value, name), "ids", list[str], name) or []
            frame.messages.append(m.ToolCallCancellation(call_ids=tuple(ids)))
        elif name == "goAway":
            time_left = optional(_object(value, name), "timeLeft", str, name)
            ms = None if time_left is None else duration_ms(time_left, "goAway.timeLeft")
            frame.messages.append(m.GoAway(time_left_ms=ms))
        elif name == "sessionResumptionUpdate":
            value = _object(value, name)
            frame.messages.append(
                m.SessionResumptionUpdate(
                    handle=optional(value, "newHandle", str, name),
                    resumable=optional(value, "resumable", bool, name),
                    last_consumed_client_message_index=optional_int64(
                        value, "lastConsumedClientMessageIndex", name
                    ),
                )
            )
        elif name in ("voiceActivity", "voiceActivityDetectionSignal"):
            activity = _parse_activity(_object(value, name), name)
            if activity is not None:
                frame.activity.append(activity)
        else:
            frame.leftovers[key] = value
            continue
        frame.recognized = True
    return frame


# --- synthesizing the lifecycle ----------------------------------------------------------------


@attrs.define
class _Part:
    kind: PartKind
    index: int
    text: str = ""
    generated: bool = False
    """Its ``ResponseOutputAudioDone`` / ``ResponseOutputTextDone`` was sent."""


@attrs.define
class _Message:
    id: str
    output_index: int
    parts: list[_Part] = attrs.Factory(list)


@attrs.define
class _Response:
    id: str
    items: int = 0
    output: list[m.ConversationItem] = attrs.Factory(list)
    message: _Message | None = None
    cancelled: bool = False
    usage: m.Usage | None = None


@attrs.define
class _UserItem:
    id: str
    responses: int
    """How many responses had opened when it was created."""
    transcript: str = ""
    deltas: int = 0
    speech: Literal["none", "started", "stopped"] = "none"


class Synthesizer:
    """Decodes server frames into typed messages, synthesizing the GA response lifecycle.

    Ids are numbered per connection: responses ``resp_1``, ``resp_2``, ...; items (assistant
    messages, function calls and the user's speech) ``item_1``, ``item_2``, ...; a
    ``successor`` numbers on.

    Attributes:
        responses_opened: how many responses have started on this connection.
        call_names: the function name of every call id decoded so far (a ``toolResponse``
            echoes it).
    """

    def __init__(self) -> None:
        self.responses_opened = 0
        self.call_names: dict[str, str] = {}
        self._items = 0
        self._response: _Response | None = None
        self._last_response_id: str | None = None
        self._user: _UserItem | None = None
        self._usage: m.Usage | None = None

    def successor(self) -> Synthesizer:
        """A synthesizer for the next connection of the same session: nothing open, ids
        numbered on from this one's, the call names kept."""
        successor = Synthesizer()
        successor.responses_opened = self.responses_opened
        successor.call_names = dict(self.call_names)
        successor._items = self._items
        return successor

    @property
    def response_open(self) -> bool:
        """Whether a response has started and not ended."""
        return self._response is not None

    def decode(
        self, payload: Payload, session: m.SessionOptions, input_ms: int
    ) -> list[m.ServerMessage]:
        """The messages one server frame stands for, in order.

        Args:
            payload: the decoded frame.
            session: the options in force, for ``SessionCreated``.
            input_ms: ms of input audio sent so far, the best available ``audio_start_ms``
                / ``audio_end_ms`` when Gemini gives none.

        Raises:
            WireError: a known field is missing or has the wrong type (no state changes).
        """
        frame = _parse(payload)
        out: list[m.ServerMessage] = []
        self._usage = frame.usage
        if frame.setup_complete:
            out.append(m.SessionCreated(session=session, session_id=frame.session_id))
        if frame.input_text is not None:
            self._input_transcription(frame.input_text, frame.input_finished, out)
        if frame.turn_complete or frame.calls:
            self._complete_prompt(bool(frame.outputs or frame.calls), out)
        for kind, value in frame.outputs:
            self._output(kind, value, out)
        if frame.interrupted:
            self._interrupted(input_ms, out)
        if frame.generation_complete and self._response and self._response.message:
            self._generated(self._response, self._response.message, out)
        if frame.turn_complete and self._response is not None:
            self._close_response(out)
        if frame.calls:
            self._tool_call(frame.calls, out)
        for edge, ms in frame.activity:
            self._activity(edge, input_ms if ms is None else ms, out)
        out += frame.messages
        if self._usage is not None:
            if self._response is not None:
                self._response.usage = self._usage
            else:
                out.append(m.UsageMetadata(usage=self._usage, response_id=self._last_response_id))
        if frame.leftovers or not frame.recognized:
            first = next(iter(frame.leftovers), "")
            out.append(m.RawServerMessage(type=first, payload=frame.leftovers))
        for message in out:
            object.__setattr__(message, "raw", payload)
        return out

    # the user's speech

    def _new_user(self) -> _UserItem:
        self._items += 1
        self._user = _UserItem(id=f"item_{self._items}", responses=self.responses_opened)
        return self._user

    def _complete_user(self, out: list[m.ServerMessage]) -> None:
        user, self._user = self._user, None
        if user is not None and user.deltas:
            out.append(self._completed(user))

    @staticmethod
    def _completed(user: _UserItem) -> m.ConversationItemInputAudioTranscriptionCompleted:
        return m.ConversationItemInputAudioTranscriptionCompleted(
            item_id=user.id, content_index=0, transcript=user.transcript
        )

    def _stale(self, user: _UserItem) -> bool:
        """Whether a response has started since the user's item was created."""
        return user.responses < self.responses_opened

    def _input_transcription(self, text: str, finished: bool, out: list[m.ServerMessage]) -> None:
        if text:
            user = self._user or self._new_user()
            out.append(
                m.ConversationItemInputAudioTranscriptionDelta(
                    item_id=user.id, content_index=0, delta=text
                )
            )
            user.transcript += text
            user.deltas += 1
        if finished:
            out.append(self._completed(self._user or self._new_user()))
            self._user = None

    def _complete_prompt(self, new_output: bool, out: list[m.ServerMessage]) -> None:
        """A frame will end a response: first complete the user item that response answers.

        That is any pending item when the frame ends a response it starts itself (or when it
        ends a turn without one), else the item only if it was created before the open
        response started (speech that began during the response prompts the next one).
        """
        user, response = self._user, self._response
        if user is None or not user.deltas:
            return  # nothing to report; it stays the pending item (a late transcript may come)
        fresh = response is None or (response.cancelled and new_output)
        if fresh or self._stale(user):
            self._complete_user(out)

    def _start_speech(self, ms: int, out: list[m.ServerMessage]) -> None:
        user = self._user
        if user is None or user.speech != "none" or self._stale(user):
            self._complete_user(out)
            user = self._new_user()
        user.speech = "started"
        out.append(m.InputAudioBufferSpeechStarted(item_id=user.id, audio_start_ms=ms))

    def _activity(self, edge: str, ms: int, out: list[m.ServerMessage]) -> None:
        if edge == "start":
            self._start_speech(ms, out)
            return
        user = self._user
        if user is None or user.speech == "stopped":
            user = self._new_user()
        user.speech = "stopped"
        out.append(m.InputAudioBufferSpeechStopped(item_id=user.id, audio_end_ms=ms))

    # the model's output

    def _open_response(self, out: list[m.ServerMessage]) -> _Response:
        self.responses_opened += 1
        response = _Response(id=f"resp_{self.responses_opened}")
        self._response = response
        out.append(m.ResponseCreated(response=m.Response(id=response.id, status="in_progress")))
        return response

    def _current_response(self, out: list[m.ServerMessage]) -> _Response:
        """The open response; output after an interruption starts a new one."""
        response = self._response
        if response is not None and response.cancelled:
            self._close_response(out)
            response = None
        return response or self._open_response(out)

    def _open_item(self, response: _Response) -> tuple[str, int]:
        self._items += 1
        response.items += 1
        return f"item_{self._items}", response.items - 1

    def _output(self, kind: str, value: bytes | str, out: list[m.ServerMessage]) -> None:
        response = self._current_response(out)
        part_kind: PartKind = "text" if kind == "text" else "audio"
        message = response.message
        part = None if message is None else next(
            (p for p in message.parts if p.kind == part_kind), None
        )  # fmt: skip
        if message is not None and part is not None and part.generated and kind != "transcript":
            self._close_message(response, "completed", out)
            message = part = None
        if message is None:
            item_id, index = self._open_item(response)
            message = response.message = _Message(id=item_id, output_index=index)
            out.append(
                m.ResponseOutputItemAdded(
                    response_id=response.id,
                    output_index=index,
                    item=m.MessageItem(role="assistant", id=item_id, status="in_progress"),
                )
            )
        if part is None:
            part = _Part(kind=part_kind, index=len(message.parts))
            message.parts.append(part)
            out.append(
                m.ResponseContentPartAdded(
                    **self._where(response, message, part),
                    part=m.OutputText(text="")
                    if part_kind == "text"
                    else m.OutputAudio(transcript=""),
                )
            )
        where = self._where(response, message, part)
        if isinstance(value, bytes):
            out.append(m.ResponseOutputAudioDelta(**where, delta=value))
            return
        part.text += value
        if kind == "text":
            out.append(m.ResponseOutputTextDelta(**where, delta=value))
        else:
            out.append(m.ResponseOutputAudioTranscriptDelta(**where, delta=value))

    @staticmethod
    def _where(response: _Response, message: _Message, part: _Part) -> dict[str, Any]:
        return {
            "response_id": response.id,
            "item_id": message.id,
            "output_index": message.output_index,
            "content_index": part.index,
        }

    def _generated(
        self, response: _Response, message: _Message, out: list[m.ServerMessage]
    ) -> None:
        """``generationComplete``: the content is complete (a late transcript may follow)."""
        for part in message.parts:
            if not part.generated:
                part.generated = True
                where = self._where(response, message, part)
                if part.kind == "audio":
                    out.append(m.ResponseOutputAudioDone(**where))
                else:
                    out.append(m.ResponseOutputTextDone(**where, text=part.text))

    def _close_message(
        self,
        response: _Response,
        status: Literal["completed", "incomplete"],
        out: list[m.ServerMessage],
    ) -> None:
        message = response.message
        if message is None:
            return
        self._generated(response, message, out)
        content: list[m.OutputAudio | m.OutputText] = []
        for part in message.parts:
            where = self._where(response, message, part)
            done: m.OutputAudio | m.OutputText
            if part.kind == "audio":
                out.append(m.ResponseOutputAudioTranscriptDone(**where, transcript=part.text))
                done = m.OutputAudio(transcript=part.text)
            else:
                done = m.OutputText(text=part.text)
            out.append(m.ResponseContentPartDone(**where, part=done))
            content.append(done)
        item = m.MessageItem(role="assistant", content=tuple(content), id=message.id, status=status)
        out.append(
            m.ResponseOutputItemDone(
                response_id=response.id, output_index=message.output_index, item=item
            )
        )
        response.output.append(item)
        response.message = None

    def _close_response(self, out: list[m.ServerMessage]) -> None:
        response = self._response
        if response is None:
            return
        self._close_message(response, "incomplete" if response.cancelled else "completed", out)
        usage, self._usage = (self._usage or response.usage), None
        out.append(
            m.ResponseDone(
                response=m.Response(
                    id=response.id,
                    status="cancelled" if response.cancelled else "completed",
                    status_details=_CANCELLED if response.cancelled else None,
                    output=tuple(response.output),
                    usage=usage,
                )
            )
        )
        self._last_response_id = response.id
        self._response = None

    def _interrupted(self, input_ms: int, out: list[m.ServerMessage]) -> None:
        """Barge-in, as OpenAI reports it: speech started (unless already reported), the
        message ends ``incomplete``; ``ResponseDone`` (cancelled, ``turn_detected``) follows
        at ``turnComplete``."""
        user = self._user
        if user is None or user.speech == "none" or self._stale(user):
            self._start_speech(input_ms, out)
        response = self._response
        if response is not None and not response.cancelled:
            self._close_message(response, "incomplete", out)
            response.cancelled = True

    def _tool_call(
        self, calls: list[tuple[str | None, str, str]], out: list[m.ServerMessage]
    ) -> None:
        """``toolCall``: the response ends with its function calls, as on OpenAI; Gemini goes
        on once the app answers them."""
        response = self._current_response(out)
        self._close_message(response, "completed", out)
        for call_id, name, arguments in calls:
            item_id, index = self._open_item(response)
            call_id = call_id if call_id is not None else item_id
            self.call_names[call_id] = name
            out.append(
                m.ResponseOutputItemAdded(
                    response_id=response.id,
                    output_index=index,
                    item=m.FunctionCallItem(
                        name=name, arguments="", call_id=call_id, id=item_id, status="in_progress"
                    ),
                )
            )
            out.append(
                m.ResponseFunctionCallArgumentsDone(
                    response_id=response.id,
                    item_id=item_id,
                    output_index=index,
                    call_id=call_id,
                    arguments=arguments,
                    name=name,
                )
            )
            item = m.FunctionCallItem(
                name=name, arguments=arguments, call_id=call_id, id=item_id, status="completed"
            )
            out.append(
                m.ResponseOutputItemDone(response_id=response.id, output_index=index, item=item)
            )
            response.output.append(item)
        self._close_response(out)


# --- encoding (the local server's direction) ---------------------------------------------------

_QUIET: Final = (
    m.ResponseCreated,
    m.ResponseOutputItemAdded,
    m.ResponseContentPartDone,
    m.ResponseOutputAudioTranscriptDone,
    m.ResponseFunctionCallArgumentsDone,
)
"""Messages Gemini implies: they need no frame of their own."""


def _content(**fields: Any) -> Payload:
    return {"serverContent": fields}


class ServerEncoder:
    """Encodes the GA lifecycle as Gemini server frames, the inverse of ``Synthesizer``.

    Lifecycle events Gemini implies give no frame; content ends as ``generationComplete``, an
    ``incomplete`` message as ``interrupted``, a response as ``turnComplete`` (or, when it has
    function calls, as one ``toolCall`` with all of them) with its usage alongside.
    """

    def __init__(self) -> None:
        self._parts: dict[str, set[int]] = {}
        """The content parts begun in each message item of the current response."""
        self._generated: set[tuple[str, int]] = set()
        """The parts a ``generationComplete`` already ended (it ends every part begun)."""
        self._interrupted = False
        self._user_item: str | None = None
        self._user_sent = ""

    def encode(self, message: m.ServerMessage) -> list[Payload]:
        """The frames (as JSON objects) for one server message; often none.

        Raises:
            EncodeError: Gemini Live has no equivalent of the message (e.g. ``Error``:
                Gemini reports errors by closing the WebSocket), or a function call's
                arguments are not a JSON object.
        """
        if isinstance(message, m.RawServerMessage):
            return [message.payload]
        if isinstance(message, m.ResponseContentPartAdded):
            self._parts.setdefault(message.item_id, set()).add(message.content_index)
            return []
        if isinstance(message, _QUIET):
            return []
        if isinstance(message, m.ResponseOutputAudioDelta):
            blob = {"mimeType": f"audio/pcm;rate={OUTPUT_RATE}", "data": b64encode(message.delta)}
            return [_content(modelTurn={"parts": [{"inlineData": blob}]})] if message.delta else []
        if isinstance(message, m.ResponseOutputTextDelta):
            return (
                [_content(modelTurn={"parts": [{"text": message.delta}]})] if message.delta else []
            )
        if isinstance(message, m.ResponseOutputAudioTranscriptDelta):
            return [_content(outputTranscription={"text": message.delta})] if message.delta else []
        if isinstance(message, m.ResponseOutputAudioDone | m.ResponseOutputTextDone):
            item_id, part = message.item_id, message.content_index
            if (item_id, part) in self._generated:
                return []
            self._generated |= {(item_id, p) for p in self._parts.get(item_id, set()) | {part}}
            return [_content(generationComplete=True)]
        if isinstance(message, m.ResponseOutputItemDone):
            item = message.item
            if not isinstance(item, m.MessageItem) or item.status == "completed":
                return []
            return self._interrupt()
        if isinstance(message, m.ResponseDone):
            return self._response_done(message.response)
        return self._other(message)

    def _interrupt(self) -> list[Payload]:
        if self._interrupted:
            return []
        self._interrupted = True
        return [_content(interrupted=True)]

    def _response_done(self, response: m.Response) -> list[Payload]:
        usage = {} if response.usage is None else {"usageMetadata": usage_to_wire(response.usage)}
        frames = self._interrupt() if response.status == "cancelled" else []
        self._interrupted = False
        self._parts.clear()
        self._generated.clear()
        calls = [item for item in response.output if isinstance(item, m.FunctionCallItem)]
        if not calls or response.status == "cancelled":
            return [*frames, _content(turnComplete=True) | usage]
        return [{"toolCall": {"functionCalls": [_function_call(c) for c in calls]}} | usage]

    def _other(self, message: m.ServerMessage) -> list[Payload]:
        if isinstance(message, m.SessionCreated):
            return [{"setupComplete": _omit_none(sessionId=message.session_id)}]
        if isinstance(message, m.ConversationItemInputAudioTranscriptionDelta):
            if message.item_id != self._user_item:
                self._user_item, self._user_sent = message.item_id, ""
            self._user_sent += message.delta or ""
            return [_content(inputTranscription={"text": message.delta})] if message.delta else []
        if isinstance(message, m.ConversationItemInputAudioTranscriptionCompleted):
            sent = self._user_sent if message.item_id == self._user_item else ""
            self._user_item, self._user_sent = None, ""
            text = message.transcript
            rest = text[len(sent) :] if text.startswith(sent) else text
            return [_content(inputTranscription={"text": rest, "finished": True})]
        if isinstance(message, m.InputAudioBufferSpeechStarted | m.InputAudioBufferSpeechStopped):
            started = isinstance(message, m.InputAudioBufferSpeechStarted)
            ms = message.audio_start_ms if started else message.audio_end_ms  # type: ignore[union-attr]
            kind = "ACTIVITY_START" if started else "ACTIVITY_END"
            return [
                {"voiceActivity": {"voiceActivityType": kind, "audioOffset": duration_text(ms)}}
            ]
        if isinstance(message, m.ToolCallCancellation):
            return [{"toolCallCancellation": {"ids": list(message.call_ids)}}]
        if isinstance(message, m.GoAway):
            left = None if message.time_left_ms is None else duration_text(message.time_left_ms)
            return [{"goAway": _omit_none(timeLeft=left)}]
        if isinstance(message, m.SessionResumptionUpdate):
            return [
                {
                    "sessionResumptionUpdate": _omit_none(
                        newHandle=message.handle,
                        resumable=message.resumable,
                        lastConsumedClientMessageIndex=message.last_consumed_client_message_index,
                    )
                }
            ]
        if isinstance(message, m.UsageMetadata):
            return [{"usageMetadata": usage_to_wire(message.usage)}]
        raise EncodeError(f"{type(message).__name__} is not carried by Gemini Live")


def _omit_none(**fields: Any) -> Payload:
    return {k: v for k, v in fields.items() if v is not None}


def _function_call(item: m.FunctionCallItem) -> Payload:
    try:
        args = orjson.loads(item.arguments)
    except orjson.JSONDecodeError:
        args = None
    if not isinstance(args, dict):
        raise EncodeError(
            f"function call {item.name!r}: Gemini needs arguments that are a JSON object, "
            f"got {item.arguments!r}"
        )
    return _omit_none(id=item.call_id, name=item.name) | {"args": args}
