"""Gemini Live on the local server: the session as the Gemini service runs it.

The shared state machine (``_session.py``) follows OpenAI's service; the Gemini codec maps
its messages onto Gemini frames (``docs/gemini.md``, "Server direction"). What the Gemini
service does differently is here (reference: gemini-live.md sections 3 to 5):

- It says nothing until the client's ``setup``, which must come first, and answers it with
  ``setupComplete`` (:class:`~rtsession.messages.SessionCreated`).
- It answers by itself at the end of a push-to-talk turn (``activityEnd``) and once every
  function call has its ``toolResponse``; ``audioStreamEnd`` ends the speech in progress
  (the turn detector's turn); a request to answer while it is answering is ignored.
- It reports a refused request by closing the connection (1007 and the message as the
  reason), never with a JSON error, which crashes the official SDK.
- With ``setup.sessionResumption`` it sends ``sessionResumptionUpdate`` after the setup,
  after every response and before ``goAway``: a handle when the session can be resumed
  (nothing running, no call without output), ``resumable: false`` otherwise, and with
  ``transparent`` the index of the last client frame it consumed (frames counted from 0, the
  setup, on each connection). A setup carrying a handle resumes that session's conversation
  and configuration (the setup's options apply on top).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs

from .. import messages as m
from ..wire.gemini import INPUT_RATE, OUTPUT_RATE
from ._config import default_session
from ._session import MIN_COMMIT_MS, Close, ServerSession, Step

__all__ = ["GeminiServerSession", "gemini_session_defaults"]

DEFAULT_VOICE: Final = "Puck"
_REASON_BYTES: Final = 123  # the longest close reason a WebSocket close frame holds


def gemini_session_defaults(_: Mapping[str, str]) -> m.SessionOptions:
    """The session a Gemini connection starts with, before its ``setup``: the local
    defaults with 16 kHz input, 24 kHz output and a Gemini voice (the setup names the
    model)."""
    return attrs.evolve(
        default_session("gemini-live", INPUT_RATE),
        output_audio_format=m.AudioFormat(type="audio/pcm", rate=OUTPUT_RATE),
        voice=DEFAULT_VOICE,
        openai=None,
    )


def _close_reason(message: str) -> str:
    return message.encode()[:_REASON_BYTES].decode(errors="ignore")


class GeminiServerSession(ServerSession):
    """One Gemini Live connection's session; see the module docstring for what differs from
    :class:`ServerSession` (whose arguments it takes)."""

    _set_up = False
    _lineage = ""  # the session id of the connection the session began on (handles name it)

    def start(self) -> Step:
        """Nothing: Gemini waits for the client's ``setup``."""
        return self._take()

    def handle(self, message: m.ClientMessage) -> Step:
        """React to one client message; anything before the ``setup`` closes the
        connection."""
        if self._set_up or isinstance(message, m.SessionUpdate):
            return super().handle(message)
        self._error("invalid_value", "The first message must be a setup.", None, None)
        return self._take()

    def go_away(self, time_left_ms: int) -> Step:
        """A fresh resumption handle (if asked for), then ``goAway``; closes after
        ``time_left_ms``."""
        self._report_resumption()
        return super().go_away(time_left_ms)

    def _on_session_update(self, message: m.SessionUpdate) -> None:
        if self._set_up:  # contextUpdate: nothing is acknowledged (the codec sends nothing)
            super()._on_session_update(message)
            return
        options, gemini = message.session, message.session.gemini
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

    def _on_commit(self, message: m.InputAudioBufferCommit) -> None:
        """``activityEnd`` (push-to-talk) ends the user's turn and the model answers;
        ``audioStreamEnd`` (voice activity detection) ends the speech in progress, if any.
        Neither is refused when there is nothing to end."""
        if isinstance(self.options.turn_detection, m.Disabled):
            if self._input.buffered_ms >= MIN_COMMIT_MS:
                super()._on_commit(message)
                self._start_response(m.ResponseCreate())
        elif self._speech_item_id is not None:
            end_ms = self._input.position_ms
            self._input.set_vad(*self._new_vad())  # the detector starts over after the flush
            self._on_speech_stopped(end_ms)

    def _on_item_create(self, message: m.ConversationItemCreate) -> None:
        super()._on_item_create(message)
        if isinstance(message.item, m.FunctionCallOutputItem) and self._calls_answered():
            self._start_response(m.ResponseCreate())

    def _start_response(self, request: m.ResponseCreate) -> None:
        if self._active is None:
            super()._start_response(request)

    def _report_resumption(self) -> None:
        """``SessionResumptionUpdate``, if the setup asked for resumption."""
        gemini = self.options.gemini
        asked = gemini.session_resumption if gemini is not None else None
        if asked is None:
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

    def _take(self) -> Step:
        """The step, with a resumption update after a response ends, and a refused request
        turned into closing the connection."""
        if self._set_up and any(isinstance(msg, m.ResponseDone) for msg in self._step.messages):
            self._report_resumption()
        step = super()._take()
        errors = [msg for msg in step.messages if isinstance(msg, m.Error)]
        if errors:
            step.messages = [msg for msg in step.messages if not isinstance(msg, m.Error)]
            step.jobs.append(Close(1007, _close_reason(errors[0].message)))
        return step
