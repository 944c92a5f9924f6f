"""The root classes of the vocabulary, raw passthrough, and shared small types."""

from __future__ import annotations

from typing import Any, Final, Literal, TypeAlias

import attrs

__all__ = [
    "DISABLED",
    "ClientMessage",
    "Disabled",
    "InvalidServerMessage",
    "JSON",
    "Message",
    "Modality",
    "RawClientMessage",
    "RawServerMessage",
    "ServerMessage",
]

JSON: TypeAlias = Any
"""A value that JSON can carry: dict, list, str, int, float, bool or None."""

Modality: TypeAlias = Literal["text", "audio"]
"""An output modality (GA ``output_modalities`` entry)."""


def frozen_bytes(value: bytes | bytearray | memoryview) -> bytes:
    """``value`` as immutable ``bytes``: a ``bytearray`` or ``memoryview`` is copied, so an app
    that refills its buffer after building (or sending) a message cannot change the message."""
    return value if type(value) is bytes else bytes(value)


def frozen_optional_bytes(value: bytes | bytearray | memoryview | None) -> bytes | None:
    """``frozen_bytes``, keeping ``None``."""
    return None if value is None else frozen_bytes(value)


@attrs.frozen
class Disabled:
    """An explicitly switched-off setting, where ``None`` means "not specified".

    The wire writes it as ``null`` (e.g. ``audio.input.turn_detection: null`` selects
    push-to-talk). Use the ``DISABLED`` singleton.
    """

    def __repr__(self) -> str:
        return "DISABLED"


DISABLED: Final = Disabled()


@attrs.frozen(kw_only=True)
class Message:
    """Base of every client and server message.

    Attributes:
        message_id: the wire's event id (OpenAI ``event_id``), or ``None``.
        raw: the decoded wire object this message came from (a dict for JSON formats); set by
            the codec on decode, ``None`` on messages the app builds. Excluded from equality and
            repr.
    """

    message_id: str | None = None
    raw: JSON = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class ClientMessage(Message):
    """A message from the app to the provider."""


@attrs.frozen(kw_only=True)
class ServerMessage(Message):
    """A message from the provider to the app."""


@attrs.frozen(kw_only=True)
class RawClientMessage(ClientMessage):
    """Any frame, sent as is: the escape hatch for events rtsession does not model.

    Attributes:
        payload: the JSON object to send, including its ``type`` key.

    Raises:
        ValueError: ``payload`` is not a dict (a JSON object). The OpenAI codecs also refuse
            one without a string ``type`` (``EncodeError`` at ``send``);
            Gemini Live's frames have none (``{"realtimeInput": ...}``).
    """

    payload: dict[str, JSON] = attrs.field()

    @payload.validator
    def _check_payload(self, _: attrs.Attribute[dict[str, JSON]], payload: object) -> None:
        if not isinstance(payload, dict):
            raise ValueError(
                f"RawClientMessage.payload must be a JSON object (a dict), not {payload!r:.80}"
            )


@attrs.frozen(kw_only=True)
class RawServerMessage(ServerMessage):
    """A server event with a ``type`` rtsession does not model, kept whole.

    Attributes:
        type: the wire's ``type`` string (``""`` when the object has none).
        payload: the whole decoded JSON object.
    """

    type: str
    payload: dict[str, JSON]


@attrs.frozen(kw_only=True)
class InvalidServerMessage(ServerMessage):
    """A frame from the server that could not be decoded into a typed message.

    The session delivers it on the receive channel and goes on; nothing is raised.

    Attributes:
        frame: the frame exactly as received (text or binary).
        reason: why it could not be decoded, e.g. ``"frame is not valid JSON: ..."`` or
            ``"response.output_audio.delta: missing field 'delta'"``.
    """

    frame: str | bytes
    reason: str
