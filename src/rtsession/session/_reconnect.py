"""The reconnection policy: how often, how soon, and after which failures (sans I/O)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Final, final

import attrs

from .._errors import ConnectError, RTSessionError, SessionClosedError

__all__ = ["RETRIED_CLOSE_CODES", "Reconnect"]

RETRIED_CLOSE_CODES: Final = frozenset({1001, 1006, 1011, 1012, 1013})
"""Close codes from the server after which a new connection is worth trying (RFC 6455
section 7.4.1 and the IANA registry): going away, abnormal closure (no close frame),
internal error, service restart, try again later."""


def _positive(_: object, attribute: attrs.Attribute[float], value: float | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"Reconnect.{attribute.name} must be positive, not {value!r}")


def _not_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 0:
        raise ValueError(f"Reconnect.{attribute.name} must not be negative, not {value!r}")


def _fraction(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0 <= value <= 1:
        raise ValueError(f"Reconnect.{attribute.name} must be between 0 and 1, not {value!r}")


@final
@attrs.frozen(kw_only=True)
class Reconnect:
    """How a session survives the loss of its connection: ``open_session(..., reconnect=...)``.

    With a policy, the session moves to a new connection when the server says it is going
    away (``GoAway``), when a connection reaches ``max_connection_age``, and when a
    connection fails in a way worth retrying (``retries``). The conversation goes on:
    resumed by handle where the provider offers it (Gemini Live), else replayed from
    ``Session.conversation``; ``docs/reconnect.md`` says what each provider keeps.

    Attributes:
        attempts: connections tried per outage before the session ends with the last
            error (at least 1).
        initial_delay: seconds before the second attempt; each later one waits twice as
            long, up to ``max_delay``. The first attempt is immediate.
        max_delay: the longest wait between two attempts, in seconds.
        jitter: the fraction of each wait that is random (0: none, 1: anywhere from 0 to
            the full wait), so many clients dropped at once do not come back together.
        max_connection_age: seconds after which a connection is replaced ahead of the
            provider's own limit (make before break), e.g. 3300 for OpenAI's 60 minutes or
            540 for Gemini Live's 10; ``None``: only when told or when it fails.
        held_audio_bytes: the most input audio, in bytes, kept since the last commit to
            send again on a new connection when the conversation is replayed (the oldest
            goes first); 2,880,000 bytes is 60 s of 24 kHz PCM16.
        replay_audio_bytes: opt in to replaying the user's spoken turns as audio
            (``input_audio``) rather than as their transcripts: the most audio, in bytes,
            kept for that over the whole session (the audio appended up to each commit the
            server confirms with ``InputAudioBufferCommitted``); the oldest turns fall back
            to their transcripts. 0 (the default): transcripts only.

    Raises:
        ValueError: a setting is out of range.
    """

    attempts: int = attrs.field(default=5)
    initial_delay: float = attrs.field(default=0.25, validator=_not_negative)
    max_delay: float = attrs.field(default=8.0, validator=_not_negative)
    jitter: float = attrs.field(default=0.5, validator=_fraction)
    max_connection_age: float | None = attrs.field(default=None, validator=_positive)
    held_audio_bytes: int = attrs.field(default=2_880_000)
    replay_audio_bytes: int = attrs.field(default=0)

    @attempts.validator
    def _check_attempts(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value < 1:
            raise ValueError(f"Reconnect.attempts must be at least 1, not {value!r}")

    @held_audio_bytes.validator
    @replay_audio_bytes.validator
    def _check_bytes(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value < 0:
            raise ValueError(f"Reconnect.{attribute.name} must not be negative, not {value!r}")

    def delay(self, attempt: int, uniform: Callable[[], float] = random.random) -> float:
        """Seconds to wait before attempt number ``attempt`` (1 is the first, immediate):
        ``initial_delay * 2 ** (attempt - 2)``, at most ``max_delay``, of which the
        fraction ``jitter`` is scaled by ``uniform()`` (a number in [0, 1))."""
        if attempt <= 1:
            return 0.0
        full = min(self.max_delay, self.initial_delay * 2.0 ** (attempt - 2))
        return full * (1 - self.jitter) + full * self.jitter * uniform()

    def retries(self, error: RTSessionError) -> bool:
        """Whether a new connection is worth trying after ``error``.

        Retried: a connection lost without a close frame or to a keepalive timeout
        (``closed_by="network"``); a server close with a code in
        ``RETRIED_CLOSE_CODES``; a handshake that failed before any HTTP answer (refused,
        reset, TLS, timeout) or was answered 429 or 5xx. Not retried: a close this side made
        (the app's, or the transport's own), any other close code, and a handshake answered
        with any other status (401, 403, 404, ...).
        """
        if isinstance(error, SessionClosedError):
            if error.closed_by == "client":
                return False
            return error.closed_by == "network" or error.code in RETRIED_CLOSE_CODES
        if isinstance(error, ConnectError):
            status = error.status_code
            return status is None or status == 429 or status >= 500
        return False
