"""The provider interface: how to dial one service and speak its wire format."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..messages import SessionKind, SessionOptions
from ..transport import ConnectRequest
from ..wire import Codec

__all__ = ["Provider", "ResumableProvider"]


class Provider(Protocol):
    """A realtime service: where to connect, how to authenticate, which wire format.

    ``open_session`` asks it for a ``ConnectRequest`` and a fresh
    codec for every connection. Implementations keep credentials out of ``repr`` and of every
    error message.
    """

    @property
    def name(self) -> str:
        """The OpenTelemetry ``gen_ai.provider.name`` value, e.g. ``"openai"``."""
        ...

    @property
    def model(self) -> str:
        """The model the connection asks for, e.g. ``"gpt-realtime"``."""
        ...

    def connect_request(self, kind: SessionKind = "conversation") -> ConnectRequest:
        """The URL, headers (credentials included), TLS settings and size limit to dial for a
        session of ``kind`` (``SessionOptions.kind``; the OpenAI services open a transcription
        session on ``?intent=transcription``)."""
        ...

    def make_codec(self) -> Codec:
        """A new codec for one connection (codecs may keep per-connection state)."""
        ...


@runtime_checkable
class ResumableProvider(Provider, Protocol):
    """A provider whose service resumes a session on a new connection with a handle from
    ``SessionResumptionUpdate`` (Gemini Live).

    ``open_session(..., reconnect=Reconnect())`` uses these two hooks and nothing else of
    the service's resumption scheme; with a provider that lacks them, a new connection
    starts a fresh session with the same options and the conversation replayed
    (``docs/reconnect.md``).
    """

    def resumable_options(self, options: SessionOptions, handle: str | None) -> SessionOptions:
        """``options`` for one connection of a resumable session: they ask the service for
        resumption handles and, with ``handle``, resume the session it names (``None``
        keeps a handle ``options`` already carry, e.g. the app's own)."""
        ...

    def next_codec(self, previous: Codec) -> Codec:
        """The codec of the session's next connection, continuing ``previous`` (a codec this
        provider made): new per-connection state, but ids and held-back input audio carry
        on, so the app sees one stream."""
        ...
