"""The middleware stage protocol: tasks that sit between the app and the provider."""

from __future__ import annotations

from typing import Protocol, final

import attrs
import trio

from .._public import NoPublicConstructor
from .._redact import Redactor
from ..messages import ClientMessage, ServerMessage, SessionOptions
from ._state import CloseReason, SessionMetadata, SessionState

__all__ = ["Stage", "StageChannels", "StageContext"]


@attrs.frozen
class StageChannels:
    """The four channels one stage sees. "App side" is toward the app, "provider side" toward
    the WebSocket; with ``middleware=[a, b]``, ``a.to_provider`` feeds ``b.from_app`` and
    ``b.to_app`` feeds ``a.from_provider``.

    All are bounded (buffer 0): a send waits until the next hop takes the message.

    Attributes:
        from_app: client messages coming from the app (or the stage before).
        to_provider: client messages going on toward the provider.
        from_provider: server messages coming from the provider (or the stage after).
        to_app: server messages going on toward the app.
    """

    from_app: trio.abc.ReceiveChannel[ClientMessage]
    to_provider: trio.abc.SendChannel[ClientMessage]
    from_provider: trio.abc.ReceiveChannel[ServerMessage]
    to_app: trio.abc.SendChannel[ServerMessage]


@final
class StageContext(metaclass=NoPublicConstructor):
    """Read-only facts about the session, for stages (e.g. OpenTelemetry attributes). The
    session makes one and gives it to each task stage's ``run`` and each fused relay's
    ``link.context``."""

    __slots__ = ("_client_types", "_state")

    def __init__(self, state: SessionState, client_types: frozenset[type[ClientMessage]]) -> None:
        self._state = state
        self._client_types = client_types

    @property
    def options(self) -> SessionOptions:
        """The configuration in force now (see ``Session.options``)."""
        return self._state.options

    @property
    def provider_name(self) -> str:
        """The provider's OpenTelemetry ``gen_ai.provider.name``, e.g. ``"openai"``."""
        return self._state.provider.name

    @property
    def model(self) -> str:
        """The model the session connected to, e.g. ``"gpt-realtime"``."""
        return self._state.provider.model

    @property
    def metadata(self) -> SessionMetadata:
        """What the session dialled: provider name, model, server address and port (the
        OpenTelemetry ``server.address`` / ``server.port``)."""
        return self._state.metadata

    @property
    def redactor(self) -> Redactor:
        """Hides the session's credentials in every form a server may echo them in: use it
        on anything from the server a stage logs or stores (``Logging`` does)."""
        return self._state.redactor

    @property
    def close_reason(self) -> CloseReason | None:
        """How the session ended (see ``Session.close_reason``); ``None`` while it runs."""
        return self._state.close_reason()

    def carries(self, message_type: type[ClientMessage]) -> bool:
        """Whether the provider's wire format carries client messages of this type, e.g.
        ``ConversationItemTruncate`` (OpenAI and Azure do; Gemini Live does not)."""
        return message_type in self._client_types

    def count_released_responses(self, count: int) -> None:
        """Count responses a stage stopped waiting for without their ``ResponseDone``
        (``Session.statistics().released_responses``)."""
        self._state.released_responses += count


class Stage(Protocol):
    """A task stage: one task of the session between the app and the provider. (A stage whose
    per-message work is synchronous is better written as a ``FusedStage``: no task hop.)

    ``run`` forwards what it does not consume, in both directions, and may inject messages
    either way; slow work belongs in child tasks of a nursery it opens, so the stream never
    stalls. ``middleware=[a, b, c]`` places ``a`` nearest the app.

    Shutdown contract: when ``from_app`` ends, close ``to_provider``; when ``from_provider``
    ends, close ``to_app`` (the session closes both when ``run`` returns, too). The session
    ends ``from_app`` when it closes, so it can flush what the app sent; ``from_provider``
    ends when the server closes the connection. A stage that consumes a kind of client
    message itself may list its classes in a ``serves`` attribute (a collection of types):
    the app's ``send`` then accepts them even where the provider's format cannot carry them
    (``BargeIn`` serves ``OutputAudioBufferClear``). An exception from ``run`` ends the session
    and propagates from ``open_session``.
    """

    async def run(self, context: StageContext, channels: StageChannels) -> None:
        """Process messages until both inputs have ended."""
        ...
