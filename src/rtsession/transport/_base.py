"""The transport interface: what the session needs from a WebSocket, in four calls."""

from __future__ import annotations

import ssl
from typing import Final, Protocol

import attrs
import trio

from .._redact import Redactor, display_url

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "Connection",
    "ConnectRequest",
    "Transport",
]

DEFAULT_MAX_MESSAGE_SIZE: Final = 16 * 2**20
"""16 MiB: room for the largest server events (e.g. ``conversation.item.retrieved`` carrying
a minute of base64 input audio is ~3.8 MB) while bounding what one message can allocate."""


@attrs.frozen(repr=False)
class ConnectRequest:
    """Everything needed to open one WebSocket connection to a provider.

    Providers build it (``Provider.connect_request()``); transports consume it. Header values
    and credential query parameters never appear in its ``repr`` or in any error the
    transport raises.

    Attributes:
        url: a ``ws://`` or ``wss://`` URL with path and query, e.g.
            ``wss://api.openai.com/v1/realtime?model=gpt-realtime``.
        headers: extra HTTP headers for the opening handshake, as ``(name, value)`` pairs,
            e.g. ``("Authorization", "Bearer sk-...")``.
        ssl_context: TLS settings for ``wss://``; ``None`` means
            ``ssl.create_default_context()`` (certificates verified). Must be ``None`` for
            ``ws://``.
        max_message_size: the largest message accepted from the server, as ``len()`` of the
            message (characters of a text frame, bytes of a binary one); a larger message
            closes the connection with code 1009 (message too big).
        service: the name error messages use for the server, e.g. ``"OpenAI"``.
    """

    url: str
    headers: tuple[tuple[str, str], ...] = ()
    ssl_context: ssl.SSLContext | None = None
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    service: str = "the server"

    def __repr__(self) -> str:
        headers = ", ".join(f"{name}: <redacted>" for name, _ in self.headers)
        return (
            f"ConnectRequest(url={display_url(self.url)!r}, headers=[{headers}], "
            f"ssl_context={self.ssl_context!r}, max_message_size={self.max_message_size}, "
            f"service={self.service!r})"
        )

    def redactor(self) -> Redactor:
        """What hides this request's credentials (header values, credential query values) in
        any text: errors, close reasons, log records, recordings."""
        return Redactor.of(self.url, self.headers)


class Connection(Protocol):
    """One open WebSocket connection, as the session uses it.

    A frame is one WebSocket message: ``str`` for a text frame, ``bytes`` for a binary one.
    Only one task may call ``send`` at a time and only one ``receive`` (the session's writer
    and reader tasks).
    """

    async def send(self, frame: str | bytes) -> None:
        """Send one message.

        Raises:
            SessionClosedError: the connection is closed; ``code`` and ``reason`` say why.
        """
        ...

    async def receive(self) -> str | bytes:
        """Wait for the next message from the server.

        Raises:
            SessionClosedError: the connection is closed (the server's close frame, or code
                1006 when it ended without one).
        """
        ...

    async def aclose(self) -> None:
        """Close with code 1000 and wait for the server's close frame, at most 1 s, then close
        the socket regardless. Idempotent; never raises but ``Cancelled`` (after closing)."""
        ...


class Transport(Protocol):
    """Opens WebSocket connections; a pluggable seam for other WebSocket libraries."""

    async def connect(self, nursery: trio.Nursery, request: ConnectRequest) -> Connection:
        """Open a connection whose background tasks (if any) run in ``nursery``.

        Returns once the opening handshake has succeeded. The tasks end when the connection
        is closed with ``aclose()``; the caller must always call it.

        Raises:
            ConnectError: the URL is invalid, the host cannot be resolved or reached, the TLS
                handshake fails, or the server rejects or breaks off the WebSocket handshake
                (``status_code`` holds the HTTP status of a rejection).
        """
        ...
