"""Gemini Live on the local server: the session as the Gemini service runs it.

The shared state machine (``_session.py``) follows OpenAI's service; the Gemini codec maps
its messages onto Gemini frames (``docs/gemini.md``, "Server direction"). What the Gemini
service does differently is a set of ``ServiceRules``, ``GEMINI_RULES``
(https://ai.google.dev/api/live):

- It says nothing until the client's ``setup``, which must come first, and answers it with
  ``setupComplete`` (``SessionCreated``).
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
from ._config import ServiceRules, default_session

__all__ = ["GEMINI_RULES", "gemini_session_defaults"]

DEFAULT_VOICE: Final = "Puck"

GEMINI_RULES: Final = ServiceRules(
    frozenset({INPUT_RATE, OUTPUT_RATE}),
    greets=False,
    setup_first=True,
    turn_commit=True,
    answers_tool_outputs=True,
    one_response=True,
    close_on_error=1007,
)
"""How the Gemini service runs the shared session (the module docstring says what each rule
stands for); resumption reports follow the setup's ``sessionResumption``, as on any dialect."""


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
