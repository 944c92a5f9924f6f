"""The OpenAI beta dialect on the local server: its session defaults, and what the beta service
sends where the shared state machine produces a GA-shaped message.

The state machine (``_session.py``) follows the GA service; the beta service differs in what it
reports (``docs/openai-dialects.md``): items are acknowledged
with one ``conversation.item.created`` instead of ``conversation.item.added`` and ``.done``,
``response.function_call_arguments.done`` has no ``name``, usage has no image or cached-token
details, and the session has no ``truncation``. Event names and the flat session object are the
codec's business (``OpenAIBetaCodec``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs

from .. import messages as m
from ..wire.openai import PCM_RATE
from ._config import opening_session

__all__ = ["BETA_MODALITIES", "beta_message", "beta_session_defaults"]

BETA_MODALITIES: Final[tuple[tuple[m.Modality, ...], ...]] = (
    ("text",),
    ("audio",),
    ("audio", "text"),
)
"""The output modalities the beta service accepts, in any order: ``["audio", "text"]`` (its
norm: audio with its transcript), ``["text"]``, and ``["audio"]`` (what it reports for the
``gpt-realtime`` models, in the API reference's ``session.created`` example)."""


def beta_session_defaults(query: Mapping[str, str]) -> m.SessionOptions:
    """The GA defaults without ``truncation``; the model from ``?model=`` (OpenAI) or
    ``?deployment=`` (Azure preview); a transcription session with
    ``?intent=transcription``."""
    model = query.get("model") or query.get("deployment") or "gpt-realtime"
    return attrs.evolve(opening_session(query, model, PCM_RATE), openai=None)


def beta_message(message: m.ServerMessage) -> m.ServerMessage:
    """What the beta service sends in place of ``message``.

    ``ConversationItemAdded`` becomes ``ConversationItemCreated`` (``ConversationItemDone``
    stays, and the beta codec does not carry it); ``ResponseFunctionCallArgumentsDone`` loses
    its ``name``; ``ResponseDone`` loses the image and cached-token details of its usage. Other
    messages are sent as they are.
    """
    if isinstance(message, m.ConversationItemAdded):
        return m.ConversationItemCreated(
            message_id=message.message_id,
            item=message.item,
            previous_item_id=message.previous_item_id,
        )
    if isinstance(message, m.ResponseFunctionCallArgumentsDone):
        return attrs.evolve(message, name=None)
    if isinstance(message, m.ResponseDone) and message.response.usage is not None:
        usage = attrs.evolve(
            message.response.usage,
            input_image_tokens=None,
            cached_text_tokens=None,
            cached_audio_tokens=None,
            cached_image_tokens=None,
        )
        return attrs.evolve(message, response=attrs.evolve(message.response, usage=usage))
    return message
