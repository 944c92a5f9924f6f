"""The interface every wire codec implements."""

from __future__ import annotations

from typing import ClassVar, Protocol

from ..messages import ClientMessage, ServerMessage, SessionOptions

__all__ = ["Codec", "Frame"]

Frame = str | bytes
"""One WebSocket message: ``str`` for a text frame, ``bytes`` for a binary frame."""


class Codec(Protocol):
    """A sans-I/O translator between agnostic messages and one provider's wire frames.

    A codec is created per connection (it may keep the small state a format needs, e.g. to
    synthesize lifecycle events a provider lacks). It works in all four directions: the client
    uses ``encode_client`` / ``decode_server``, ``rtsession.local`` uses the other two.

    ``decode_client`` raises ``rtsession.DecodeError`` for an invalid frame.
    ``decode_server`` never raises on any frame: what it cannot type becomes a
    ``RawServerMessage`` (unknown event type) or an ``InvalidServerMessage`` (not JSON, not an
    object, or a known event with missing or mistyped fields). ``encode_client`` raises
    ``rtsession.EncodeError`` for a message the format cannot carry.
    """

    client_types: ClassVar[frozenset[type[ClientMessage]]]
    """The client message classes this format carries (besides ``RawClientMessage``)."""
    server_types: ClassVar[frozenset[type[ServerMessage]]]
    """The server message classes this format carries (besides raw and invalid messages)."""

    def check_client(self, message: ClientMessage, in_force: SessionOptions | None = None) -> None:
        """Raise ``rtsession.EncodeError`` if ``encode_client`` would, on a connection whose
        options are ``in_force`` (``None``: no ``SessionUpdate`` has gone out yet, so the next
        is the first; Gemini Live takes it as its ``setup``). Pure: no state of the codec is
        read or changed, so the session checks at the app's edge while the writer, later,
        encodes.
        """
        ...

    def encode_client(self, message: ClientMessage) -> list[Frame]: ...

    def decode_client(self, frame: Frame) -> list[ClientMessage]: ...

    def encode_server(self, message: ServerMessage) -> list[Frame]: ...

    def decode_server(self, frame: Frame) -> list[ServerMessage]: ...
