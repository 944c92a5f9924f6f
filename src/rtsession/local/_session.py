"""The per-connection protocol state machine of the local server (sans-I/O).

``ServerSession`` takes decoded client messages and returns a ``Step``: the server
messages to send, in order, and the ``Job`` s (speech work, streaming) the I/O layer runs
and reports back. It holds the session configuration, the conversation, the input audio buffer
with its turn detector, and the responses in progress. It never awaits anything, so every
behaviour here is testable without sockets or a speech worker.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final, TypeAlias

import attrs

from .. import messages as m
from .._errors import DecodeError
from ..wire.openai import ROLE_PARTS
from ._config import RequestError, ServiceRules, merge_session, response_settings, vad_settings
from ._conversation import Conversation, Entry, wire_item
from ._ids import IdFactory
from ._input import InputBuffer
from ._replies import decide_reply
from ._response import Phase, ResponseRun, format_rate
from ._store import SessionStore, Snapshot
from ._transcript import LiveTranscript, sentence
from ._usage import audio_tokens, text_tokens
from ._vad import SpeechStarted, VadFactory, VoiceActivityDetector

__all__ = [
    "Close",
    "Forget",
    "Hear",
    "Job",
    "Listen",
    "ServerSession",
    "Step",
    "Stream",
    "Synthesize",
    "Transcribe",
]

MIN_COMMIT_MS: Final = 100
"""The shortest buffer ``input_audio_buffer.commit`` accepts, in ms (the service's rule)."""
TOKENS_PER_MINUTE: Final = 40000
REQUESTS_PER_MINUTE: Final = 5000

_WORDS: Final = re.compile(r"\S+\s*")
_REASON_BYTES: Final = 123  # the longest close reason a WebSocket close frame holds


def _close_reason(message: str) -> str:
    return message.encode()[:_REASON_BYTES].decode(errors="ignore")


@attrs.frozen
class Transcribe:
    """Job: transcribe an item's audio, then call ``ServerSession.transcribed``.

    Attributes:
        item_id: the item.
        audio: its audio, PCM16 at ``rate`` Hz.
        rate: the sample rate.
        live: the item was being transcribed as it was spoken (``Listen``): ``audio``
            starts where that transcription's audio started; finish it with the rest of
            ``audio`` instead of starting over.
    """

    item_id: str
    audio: bytes = attrs.field(repr=lambda audio: f"<{len(audio)} bytes>")
    rate: int
    live: bool = False


@attrs.frozen
class Listen:
    """Job: start transcribing the user's speech as it arrives, for item ``item_id`` (the
    audio follows in ``Hear`` jobs); call ``ServerSession.heard`` with each new
    hypothesis."""

    item_id: str
    rate: int


@attrs.frozen
class Hear:
    """Job: the next audio of a ``Listen`` transcription, in order."""

    item_id: str
    audio: bytes = attrs.field(repr=lambda audio: f"<{len(audio)} bytes>")


@attrs.frozen
class Forget:
    """Job: drop a ``Listen`` transcription without a result (the speech was cleared
    or committed by hand)."""

    item_id: str


@attrs.frozen
class Synthesize:
    """Job: speak a response's reply, then call ``ServerSession.synthesized``."""

    response_id: str
    text: str
    rate: int


@attrs.frozen
class Stream:
    """Job: call ``ServerSession.stream`` until it returns no message, sending each step."""

    response_id: str


@attrs.frozen
class Close:
    """Job: close the connection with ``code`` and ``reason`` after ``delay`` seconds (a
    service that reports errors by closing, or one that said it is going away)."""

    code: int
    reason: str
    delay: float = 0.0


Job: TypeAlias = Transcribe | Listen | Hear | Forget | Synthesize | Stream | Close


@attrs.define
class Step:
    """What the session wants done after an input: messages to send (in order), jobs to run."""

    messages: list[m.ServerMessage] = attrs.Factory(list)
    jobs: list[Job] = attrs.Factory(list)


class ServerSession:
    """One connection's realtime session, as the service runs it.

    Attributes:
        options: the session configuration in force.
        client_frames: the client frames received on the connection so far (the connection
            counts them, before it decodes each).

    Args:
        options: the session it starts with (the dialect's defaults).
        vad_factory: makes the turn detector for server VAD.
        ids: the connection's id source.
        rules: where the dialect's service checks differently (rates, modalities, the
            names of parameters in errors).
        expires_at: when the session expires, in Unix seconds (reported, not enforced).
        store: where the server keeps sessions for resumption on a new connection (used by
            dialects with resumption handles); ``None``: a store of this session's own.
    """

    def __init__(
        self,
        *,
        options: m.SessionOptions,
        vad_factory: VadFactory,
        ids: IdFactory,
        rules: ServiceRules,
        expires_at: int,
        store: SessionStore | None = None,
    ) -> None:
        self.options = options
        self.client_frames = 0
        self._store = SessionStore() if store is None else store
        self._set_up = not rules.setup_first
        self._lineage = ""  # the session id of the connection the session began on
        self._vad_factory = vad_factory
        self._ids = ids
        self._rules = rules
        self._expires_at = expires_at
        self._session_id = ids.new("sess")
        self._conversation_id = ids.new("conv")
        self._conversation = Conversation()
        self._input = InputBuffer(self._input_rate, *self._new_vad())
        self._speech_item_id: str | None = None
        self._speech_start_ms = 0
        self._pending: dict[str, Entry] = {}  # transcriptions in progress, by item id
        self._live: dict[str, LiveTranscript] = {}  # speech transcribed as it arrives
        self._responses: dict[str, ResponseRun] = {}
        self._active: ResponseRun | None = None  # the default conversation's response
        self._audio_present = False
        self._step = Step()
        self._handlers: dict[type[Any], Callable[[Any], None]] = {
            m.SessionUpdate: self._on_session_update,
            m.InputAudioBufferAppend: self._on_append,
            m.InputAudioBufferCommit: self._on_commit,
            m.InputAudioBufferClear: self._on_clear,
            m.ConversationItemCreate: self._on_item_create,
            m.ConversationItemRetrieve: self._on_item_retrieve,
            m.ConversationItemTruncate: self._on_item_truncate,
            m.ConversationItemDelete: self._on_item_delete,
            m.ResponseCreate: self._on_response_create,
            m.ResponseCancel: self._on_response_cancel,
        }

    # --- inputs --------------------------------------------------------------------------------

    def start(self) -> Step:
        """The greeting: ``session.created`` with the session in force (nothing where the
        service waits for the client's setup)."""
        if self._rules.greets:
            self._emit(m.SessionCreated(**self._session_fields()))
        return self._take()

    def go_away(self, time_left_ms: int) -> Step:
        """The server will close the connection in ``time_left_ms``: a fresh resumption
        handle (if the setup asked for them), then tell the client (a ``GoAway``, which
        dialects without such a message leave out) and close then with 1001 (going away)."""
        self._report_resumption()
        self._emit(m.GoAway(time_left_ms=time_left_ms))
        self._step.jobs.append(Close(1001, "going away", time_left_ms / 1000))
        return self._take()

    def close(self, code: int, reason: str) -> Step:
        """The server closes the connection now, with ``code`` and ``reason`` (a failure on
        purpose: ``LocalServer.close_connections``)."""
        self._step.jobs.append(Close(code, reason))
        return self._take()

    def handle(self, message: m.ClientMessage) -> Step:
        """React to one client message; a refused one gets an ``error`` whose ``event_id``
        echoes the message's, and changes nothing."""
        handler = self._handlers.get(type(message))
        try:
            if not self._set_up and not isinstance(message, m.SessionUpdate):
                raise RequestError("invalid_value", "The first message must be a setup.")
            if handler is None:
                raise RequestError(
                    "invalid_value",
                    f"{type(message).__name__} is not supported on a WebSocket connection.",
                    "type",
                )
            handler(message)
        except RequestError as exc:
            self._error(exc.code, exc.message, exc.param, message.message_id)
        return self._take()

    def reject(self, error: DecodeError) -> Step:
        """Answer a frame that did not decode (bad JSON, unknown type, missing or mistyped
        field) with the service's ``error`` event."""
        self._error(error.code, str(error), error.param, error.event_id)
        return self._take()

    def heard(self, item_id: str, hypothesis: str) -> Step:
        """A ``Listen`` transcription has a new hypothesis: send the words that will not
        change any more as a transcription delta (input transcription on)."""
        live = self._live.get(item_id)
        if live is not None and self._reporting:
            delta = live.heard(hypothesis)
            if delta:
                self._emit(
                    m.ConversationItemInputAudioTranscriptionDelta(
                        item_id=item_id, content_index=0, delta=delta
                    )
                )
        return self._take()

    def transcribed(self, item_id: str, transcript: str) -> Step:
        """A ``Transcribe`` job finished: report it (input transcription on), in
        sentence case with end punctuation, and let the responses waiting for it go on."""
        live = self._live.pop(item_id, None)
        if live is None:
            delta, text = None, sentence(transcript.split())
        else:
            delta, text = live.finish(transcript)
        entry = self._pending.pop(item_id, None)
        if entry is not None:
            entry.transcript, entry.pending = text, False
            if entry.report_transcript and self._conversation.get(item_id) is entry:
                self._report_transcript(entry, text, delta)
            self._advance_all()
        return self._take()

    def transcription_failed(self, item_id: str, reason: str) -> Step:
        """A ``Transcribe`` job failed: ``…input_audio_transcription.failed`` (input
        transcription on); the item counts as silent for the reply rules."""
        entry = self._pending.pop(item_id, None)
        if entry is not None:
            entry.transcript, entry.pending = "", False
            if entry.report_transcript and self._conversation.get(item_id) is entry:
                self._emit(
                    m.ConversationItemInputAudioTranscriptionFailed(
                        item_id=item_id,
                        content_index=0,
                        error=m.ErrorDetails(
                            type="server_error", code="transcription_failed", message=reason
                        ),
                    )
                )
            self._advance_all()
        return self._take()

    def synthesized(self, response_id: str, pcm16: bytes) -> Step:
        """A ``Synthesize`` job finished: the response can stream (if still running)."""
        run = self._responses.get(response_id)
        if run is not None and run.phase is Phase.WAITING_AUDIO:
            run.set_audio(pcm16)
            self._step.jobs.append(Stream(run.id))
        return self._take()

    def synthesis_failed(self, response_id: str) -> Step:
        """A ``Synthesize`` job failed: the response ends with status ``failed``."""
        run = self._responses.get(response_id)
        if run is not None:
            self._emit(*run.fail("speech_engine_failed"))
            self._finish(run)
        return self._take()

    def stream(self, response_id: str) -> Step:
        """The next group of a response's events; no message once it is over (done or
        cancelled)."""
        run = self._responses.get(response_id)
        if run is not None:
            self._emit(*run.next_batch())
            if run.phase is Phase.DONE:
                self._finish(run)
        return self._take()

    # --- resumption ----------------------------------------------------------------------------

    def _resumable(self) -> bool:
        """Whether the session is at a point it can be resumed from: no response running,
        no transcription pending, no speech in progress, no function call without output."""
        if self._responses or self._pending or self._speech_item_id is not None:
            return False
        return self._calls_answered()

    def _calls_answered(self) -> bool:
        """Whether every function call in the conversation has its output."""
        calls = outputs = 0
        for entry in self._conversation.entries():
            calls += isinstance(entry.item, m.FunctionCallItem)
            outputs += isinstance(entry.item, m.FunctionCallOutputItem)
        return outputs >= calls

    def _save(self, lineage: str) -> str | None:
        """Keep the session's state (conversation and options, not the input audio buffer)
        for resumption; its handle, or ``None`` when it is not resumable now."""
        if not self._resumable():
            return None
        snapshot = Snapshot.take(lineage, self.options, self._conversation, self._audio_present)
        return self._store.save(snapshot)

    def _restore(self, handle: str) -> str:
        """Take on the state ``handle`` names; returns its lineage.

        Raises:
            RequestError: the handle is unknown (or forgotten).
        """
        snapshot = self._store.get(handle)
        if snapshot is None:
            raise RequestError("invalid_value", f"Unknown session resumption handle {handle!r}.")
        self.options = snapshot.options
        self._conversation = snapshot.conversation()
        self._audio_present = snapshot.audio_present
        self._input = InputBuffer(self._input_rate, *self._new_vad())
        return snapshot.lineage

    # --- plumbing ------------------------------------------------------------------------------

    def _emit(self, *messages: m.ServerMessage) -> None:
        new_id = self._ids.new
        self._step.messages += [attrs.evolve(msg, message_id=new_id("event")) for msg in messages]

    def _take(self) -> Step:
        """The step so far: after a response ends, a resumption update (if asked for); a
        refused request becomes closing the connection where the service does that."""
        if any(isinstance(msg, m.ResponseDone) for msg in self._step.messages):
            self._report_resumption()
        step, self._step = self._step, Step()
        code = self._rules.close_on_error
        errors = [msg for msg in step.messages if isinstance(msg, m.Error)]
        if code is not None and errors:
            step.messages = [msg for msg in step.messages if not isinstance(msg, m.Error)]
            step.jobs.append(Close(code, _close_reason(errors[0].message)))
        return step

    def _error(
        self, code: str | None, message: str, param: str | None, event_id: str | None
    ) -> None:
        self._emit(
            m.Error(
                type="invalid_request_error",
                code=code,
                message=message,
                param=None if param is None else self._rules.param(param),
                client_message_id=event_id,
            )
        )

    def _session_fields(self) -> dict[str, Any]:
        return {
            "session": self.options,
            "session_id": self._session_id,
            "expires_at": self._expires_at,
        }

    @property
    def _input_rate(self) -> int:
        return format_rate(self.options.input_audio_format)

    def _new_vad(self) -> tuple[VoiceActivityDetector | None, int]:
        settings = vad_settings(self.options.turn_detection)
        if settings is None:
            return None, 0
        return self._vad_factory(settings, self._input_rate), settings.prefix_padding_ms

    def _turn_option(self, name: str) -> bool:
        """``create_response`` / ``interrupt_response`` of the turn detection (off without,
        and in a transcription session, which has no responses)."""
        td = self.options.turn_detection
        return (
            self.options.kind == "conversation"
            and isinstance(td, m.ServerVad | m.SemanticVad)
            and bool(getattr(td, name))
        )

    # --- session -------------------------------------------------------------------------------

    def _on_session_update(self, message: m.SessionUpdate) -> None:
        if not self._set_up:
            self._set_up_session(message.session)
            return
        self._update_options(message.session)
        self._emit(m.SessionUpdated(**self._session_fields()))

    def _set_up_session(self, options: m.SessionOptions) -> None:
        """The client's setup (``setup_first``): it may resume a session by handle (the
        setup's own options apply on top); answered with ``SessionCreated``."""
        gemini = options.gemini
        resumption = None if gemini is None else gemini.session_resumption
        self._lineage = self._session_id
        if gemini is not None and resumption is not None and resumption.handle:
            self._lineage = self._restore(resumption.handle)
            resumption = attrs.evolve(resumption, handle=None)
            options = attrs.evolve(
                options, gemini=attrs.evolve(gemini, session_resumption=resumption)
            )
        self._update_options(options)
        self._set_up = True
        self._emit(m.SessionCreated(**self._session_fields()))
        self._report_resumption()

    def _report_resumption(self) -> None:
        """``SessionResumptionUpdate``, if the setup asked for resumption: a handle when the
        session can be resumed (``resumable: false`` otherwise) and, with ``transparent``,
        the index of the last client frame consumed (counted from 0, the setup)."""
        gemini = self.options.gemini
        asked = gemini.session_resumption if gemini is not None else None
        if asked is None or not self._set_up:
            return
        handle = self._save(self._lineage)
        self._emit(
            m.SessionResumptionUpdate(
                handle=handle,
                resumable=handle is not None,
                last_consumed_client_message_index=self.client_frames - 1
                if asked.transparent
                else None,
            )
        )

    def _update_options(self, update: m.SessionOptions) -> None:
        """Merge ``update`` into the session; a new input format or turn detection forgets
        the speech in progress."""
        old = self.options
        self.options = merge_session(
            old, update, rules=self._rules, audio_present=self._audio_present
        )
        if self.options.input_audio_format != old.input_audio_format:
            self._input = InputBuffer(self._input_rate, *self._new_vad())
            self._forget_speech()
        elif self.options.turn_detection != old.turn_detection:
            self._input.set_vad(*self._new_vad())
            self._forget_speech()

    # --- input audio ---------------------------------------------------------------------------

    @property
    def _reporting(self) -> bool:
        """Input transcription is on (``conversation.item.input_audio_transcription.*``):
        set in the options, or a transcription session, which is nothing else."""
        return self.options.kind == "transcription" or isinstance(
            self.options.input_transcription, m.InputTranscription
        )

    def _on_append(self, message: m.InputAudioBufferAppend) -> None:
        speaking = self._speech_item_id
        for event in self._input.append(message.audio):
            if isinstance(event, SpeechStarted):
                self._on_speech_started(event.audio_start_ms)
            else:
                self._on_speech_stopped(event.audio_end_ms)
        if speaking is not None and speaking == self._speech_item_id:
            self._step.jobs.append(Hear(speaking, message.audio))

    def _on_speech_started(self, audio_start_ms: int) -> None:
        self._speech_item_id = item_id = self._ids.new("item")
        self._speech_start_ms = audio_start_ms
        self._live[item_id] = LiveTranscript()
        self._step.jobs += [
            Listen(item_id, self._input.rate),
            Hear(item_id, self._input.peek(audio_start_ms)),
        ]
        self._emit(m.InputAudioBufferSpeechStarted(item_id=item_id, audio_start_ms=audio_start_ms))
        if self._active is not None and self._turn_option("interrupt_response"):
            self._cancel(self._active, "turn_detected")

    def _on_speech_stopped(self, audio_end_ms: int) -> None:
        item_id = self._speech_item_id or self._ids.new("item")
        self._speech_item_id = None
        self._emit(m.InputAudioBufferSpeechStopped(item_id=item_id, audio_end_ms=audio_end_ms))
        self._commit_audio(
            item_id,
            self._input.take(self._speech_start_ms, audio_end_ms),
            live=item_id in self._live,
        )
        if self._active is None and self._turn_option("create_response"):
            self._start_response(m.ResponseCreate())

    def _on_commit(self, _: m.InputAudioBufferCommit) -> None:
        if self._rules.turn_commit:
            self._end_turn()
            return
        buffered = self._input.buffered_ms
        if buffered < MIN_COMMIT_MS:
            raise RequestError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {buffered:.2f}ms of audio.",
            )
        self._commit_buffer()

    def _commit_buffer(self) -> None:
        """Make everything buffered a user item (the speech in progress, if any, is it)."""
        item_id = self._speech_item_id or self._ids.new("item")
        self._forget_speech()
        self._commit_audio(item_id, self._input.take_all())

    def _end_turn(self) -> None:
        """``turn_commit``: in push-to-talk the user's turn ends and the model answers;
        under turn detection the speech in progress, if any, ends. Nothing to end is not an
        error."""
        if isinstance(self.options.turn_detection, m.Disabled):
            if self._input.buffered_ms >= MIN_COMMIT_MS:
                self._commit_buffer()
                self._start_response(m.ResponseCreate())
        elif self._speech_item_id is not None:
            end_ms = self._input.position_ms
            self._input.set_vad(*self._new_vad())  # the detector starts over after the flush
            self._on_speech_stopped(end_ms)

    def _on_clear(self, _: m.InputAudioBufferClear) -> None:
        self._input.clear()
        self._forget_speech()
        self._emit(m.InputAudioBufferCleared())

    def _forget_speech(self) -> None:
        """The speech in progress is gone (cleared, committed by hand, a new detector): drop
        its live transcription."""
        item_id, self._speech_item_id = self._speech_item_id, None
        if item_id is not None and self._live.pop(item_id, None) is not None:
            self._step.jobs.append(Forget(item_id))

    def _commit_audio(self, item_id: str, audio: bytes, *, live: bool = False) -> None:
        item = m.MessageItem(role="user", content=(m.InputAudio(),), id=item_id, status="completed")
        entry = Entry(
            item,
            audio=audio,
            rate=self._input.rate,
            pending=True,
            report_transcript=self._reporting,
        )
        previous = self._conversation.insert(entry)
        self._emit(
            m.InputAudioBufferCommitted(item_id=item_id, previous_item_id=previous),
            m.ConversationItemAdded(item=item, previous_item_id=previous),
            m.ConversationItemDone(item=item, previous_item_id=previous),
        )
        self._transcribe(entry, live=live)

    def _transcribe(self, entry: Entry, *, live: bool = False) -> None:
        self._pending[entry.id] = entry
        self._step.jobs.append(Transcribe(entry.id, entry.audio, entry.rate, live))

    def _report_transcript(self, entry: Entry, transcript: str, last: str | None) -> None:
        """Report a finished transcription: the deltas not sent while the user spoke (the
        ``last`` one of a live transcription; each word of one transcribed afterwards), then
        ``…transcription.completed``."""
        item = entry.item
        if isinstance(item, m.MessageItem):
            parts = tuple(
                attrs.evolve(p, transcript=transcript) if isinstance(p, m.InputAudio) else p
                for p in item.content
            )
            entry.item = attrs.evolve(item, content=parts)
        for delta in _WORDS.findall(transcript) if last is None else [last] if last else []:
            self._emit(
                m.ConversationItemInputAudioTranscriptionDelta(
                    item_id=entry.id, content_index=0, delta=delta
                )
            )
        audio, text = audio_tokens(entry.audio_ms), text_tokens(transcript)
        self._emit(
            m.ConversationItemInputAudioTranscriptionCompleted(
                item_id=entry.id,
                content_index=0,
                transcript=transcript,
                usage=m.TranscriptionUsage(
                    type="tokens",
                    input_tokens=audio,
                    output_tokens=text,
                    total_tokens=audio + text,
                    input_text_tokens=0,
                    input_audio_tokens=audio,
                ),
            )
        )

    # --- conversation items --------------------------------------------------------------------

    def _check_item(self, item: m.ConversationItem, param: str) -> None:
        if isinstance(item, m.MessageItem):
            allowed = ROLE_PARTS[item.role]
            for i, part in enumerate(item.content):
                if not isinstance(part, allowed):
                    raise RequestError(
                        "invalid_value",
                        f"A {item.role} message cannot hold {type(part).__name__} content.",
                        f"{param}.content[{i}].type",
                    )

    def _new_entry(self, item: m.ConversationItem) -> Entry:
        """Store a client item: give it an id and ``status: completed``, keep its audio aside
        and transcribe user audio that came without a transcript."""
        new_id = item.id or self._ids.new("item")
        entry = Entry(attrs.evolve(item, id=new_id), rate=self._input.rate)
        if isinstance(item, m.FunctionCallItem | m.FunctionCallOutputItem):
            entry.item = attrs.evolve(item, id=new_id, status="completed")
        elif isinstance(item, m.MessageItem):
            entry.item = wire_item(attrs.evolve(item, id=new_id, status="completed"))
            part = next(
                (
                    p
                    for p in item.content
                    if isinstance(p, m.InputAudio | m.OutputAudio) and p.audio
                ),
                None,
            )
            if part is not None and part.audio is not None:
                entry.audio, entry.transcript = part.audio, part.transcript
                entry.pending = isinstance(part, m.InputAudio) and part.transcript is None
                entry.report_transcript = isinstance(
                    self.options.input_transcription, m.InputTranscription
                )
        return entry

    def _on_item_create(self, message: m.ConversationItemCreate) -> None:
        item, previous = message.item, message.previous_item_id
        if item.id is not None and self._conversation.get(item.id) is not None:
            raise RequestError(
                "invalid_value", f"Item with id '{item.id}' already exists.", "item.id"
            )
        if previous not in (None, "root") and self._conversation.get(previous) is None:
            raise RequestError(
                "item_not_found",
                f"Previous item with id '{previous}' not found.",
                "previous_item_id",
            )
        self._check_item(item, "item")
        if (
            isinstance(item, m.FunctionCallOutputItem)
            and self._conversation.find_call(item.call_id) is None
        ):
            raise RequestError(
                "invalid_value",
                f"Tool call ID '{item.call_id}' not found in conversation.",
                "item.call_id",
            )
        entry = self._new_entry(item)
        after = self._conversation.insert(entry, previous)
        self._emit(
            m.ConversationItemAdded(item=entry.item, previous_item_id=after),
            m.ConversationItemDone(item=entry.item, previous_item_id=after),
        )
        if entry.pending:
            self._transcribe(entry)
        if (
            self._rules.answers_tool_outputs
            and isinstance(item, m.FunctionCallOutputItem)
            and self._calls_answered()
        ):
            self._start_response(m.ResponseCreate())

    def _entry(self, item_id: str) -> Entry:
        entry = self._conversation.get(item_id)
        if entry is None:
            raise RequestError("item_not_found", f"Item with id '{item_id}' not found.", "item_id")
        return entry

    def _on_item_retrieve(self, message: m.ConversationItemRetrieve) -> None:
        self._emit(m.ConversationItemRetrieved(item=self._entry(message.item_id).with_audio()))

    def _on_item_delete(self, message: m.ConversationItemDelete) -> None:
        self._conversation.delete(self._entry(message.item_id).id)
        self._emit(m.ConversationItemDeleted(item_id=message.item_id))

    def _on_item_truncate(self, message: m.ConversationItemTruncate) -> None:
        entry = self._entry(message.item_id)
        item, index, end_ms = entry.item, message.content_index, message.audio_end_ms
        if not (
            isinstance(item, m.MessageItem)
            and item.role == "assistant"
            and any(isinstance(p, m.OutputAudio) for p in item.content)
        ):
            raise RequestError(None, "Only model output audio messages can be truncated")
        if not (0 <= index < len(item.content) and isinstance(item.content[index], m.OutputAudio)):
            raise RequestError(
                "invalid_value", f"Content index {index} is not an audio part.", "content_index"
            )
        if item.status == "in_progress":
            raise RequestError(
                "invalid_value",
                f"Item '{item.id}' is still being generated; cancel its response first.",
                "item_id",
            )
        if not 0 <= end_ms <= entry.audio_ms:
            raise RequestError(
                "invalid_value",
                f"Audio content of {entry.audio_ms}ms is already shorter than {end_ms}ms",
                "audio_end_ms",
            )
        entry.audio = entry.audio[: end_ms * entry.rate // 1000 * 2]
        entry.transcript = None
        parts = list(item.content)
        parts[index] = m.OutputAudio()
        entry.item = attrs.evolve(item, content=tuple(parts))
        self._emit(
            m.ConversationItemTruncated(
                item_id=message.item_id, content_index=index, audio_end_ms=end_ms
            )
        )

    # --- responses -----------------------------------------------------------------------------

    def _resolve_input(
        self, items: tuple[m.ConversationItem | m.ItemReference, ...]
    ) -> list[Entry]:
        for i, item in enumerate(items):
            if isinstance(item, m.ItemReference):
                if self._conversation.get(item.id) is None:
                    raise RequestError(
                        "item_not_found",
                        f"Item with id '{item.id}' not found.",
                        f"response.input[{i}].id",
                    )
            else:
                self._check_item(item, f"response.input[{i}]")
        entries: list[Entry] = []
        for item in items:
            if isinstance(item, m.ItemReference):
                entries.append(self._entry(item.id))
                continue
            entry = self._new_entry(item)
            entry.report_transcript = False
            if entry.pending:
                self._transcribe(entry)
            entries.append(entry)
        return entries

    def _on_response_create(self, request: m.ResponseCreate) -> None:
        if self.options.kind == "transcription":
            raise RequestError(
                "invalid_value",
                "Responses are not available in a transcription session.",
                "type",
            )
        self._start_response(request)

    def _start_response(self, request: m.ResponseCreate) -> None:
        in_conversation = request.conversation != "none"
        if in_conversation and self._active is not None and self._rules.one_response:
            return  # the service ignores a request to answer while it answers
        settings = response_settings(self.options, request, rules=self._rules)
        if in_conversation and self._active is not None:
            raise RequestError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self._active.id}. "
                "Wait until the response is finished before creating a new one.",
            )
        if request.input is None:
            context = self._conversation.entries()
        else:
            context = tuple(self._resolve_input(request.input))
        run = ResponseRun(
            self._ids.new("resp"),
            settings,
            context,
            self._conversation if in_conversation else None,
            self._conversation_id if in_conversation else None,
            self._ids.new,
        )
        self._responses[run.id] = run
        if in_conversation:
            self._active = run
        self._emit(run.created())
        self._advance(run)

    def _advance(self, run: ResponseRun) -> None:
        if not run.ready:
            return
        s = run.settings
        reply = decide_reply(
            run.context, instructions=s.instructions, tools=s.tools, tool_choice=s.tool_choice
        )
        text = run.plan(reply)
        self._step.jobs.append(Stream(run.id) if text is None else Synthesize(run.id, text, s.rate))

    def _advance_all(self) -> None:
        for run in list(self._responses.values()):
            self._advance(run)

    def _on_response_cancel(self, message: m.ResponseCancel) -> None:
        if message.response_id is None:
            run = self._active
        else:
            run = self._responses.get(message.response_id)
        if run is None:
            raise RequestError(
                "response_cancel_not_active", "Cancellation failed: no active response found"
            )
        self._cancel(run, "client_cancelled")

    def _cancel(self, run: ResponseRun, reason: str) -> None:
        self._emit(*run.cancel(reason))
        self._finish(run)

    def _finish(self, run: ResponseRun) -> None:
        """After ``response.done``: forget the response and report the rate limits (the
        tokens limit as on the live wire: ``reset_seconds = tokens * 60 / limit``)."""
        del self._responses[run.id]
        if self._active is run:
            self._active = None
        if run.sent_audio and run.in_conversation:
            self._audio_present = True
        total = (run.usage.total_tokens or 0) if run.usage is not None else 0
        self._emit(
            m.RateLimitsUpdated(
                rate_limits=(
                    m.RateLimit(
                        name="requests",
                        limit=REQUESTS_PER_MINUTE,
                        remaining=REQUESTS_PER_MINUTE - 1,
                        reset_seconds=round(60 / REQUESTS_PER_MINUTE, 3),
                    ),
                    m.RateLimit(
                        name="tokens",
                        limit=TOKENS_PER_MINUTE,
                        remaining=TOKENS_PER_MINUTE - total,
                        reset_seconds=round(total * 60 / TOKENS_PER_MINUTE, 3),
                    ),
                )
            )
        )
