"""The interface every wire codec implements."""

from __future__ import annotations

from typing import ClassVar, Protocol

from ..messages import ClientMessage, ServerMessage

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

    def check_client(self, message: ClientMessage) -> None:
        """Raise ``rtsession.EncodeError`` if ``encode_client`` would; no side effects.

        The session calls it at the app's edge, so a message that cannot be carried is
        rejected before it enters the middleware chain; ``encode_client`` follows later, in
        the writer. Stateful codecs must not advance their encoding state here (e.g. a
        resampler of input audio); they may note what was accepted, so that a later check is
        judged against it (Gemini: a partial update after a checked, not yet sent ``setup``).
        """
        ...

    def encode_client(self, message: ClientMessage) -> list[Frame]: ...

    def decode_client(self, frame: Frame) -> list[ClientMessage]: ...

    def encode_server(self, message: ServerMessage) -> list[Frame]: ...

    def decode_server(self, frame: Frame) -> list[ServerMessage]: ...
