"""What the providers share: the WebSocket URL built from a REST-style URL, the loopback rule
for unencrypted connections, the TLS default, credential checks and headers, and the two
OpenAI wire dialects.

No message here quotes a URL in full or any part of a credential.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Final, Literal

from .._errors import ConnectError
from ..wire import Codec
from ..wire.openai import OpenAICodec
from ..wire.openai_beta import OpenAIBetaCodec

__all__ = [
    "BETA_HEADER",
    "CODECS",
    "TRANSCRIPTION_INTENT",
    "OpenAIDialect",
    "authorization",
    "check_max_message_size",
    "credential_problem",
    "dial_target",
    "resolve_api_key",
]

OpenAIDialect = Literal["ga", "beta"]
"""The OpenAI Realtime wire dialects (``docs/openai-dialects.md``)."""

CODECS: Final[Mapping[OpenAIDialect, Callable[[], Codec]]] = {
    "ga": OpenAICodec,
    "beta": OpenAIBetaCodec,
}
"""The codec of each dialect."""

BETA_HEADER: Final = ("OpenAI-Beta", "realtime=v1")
"""The handshake header that asks OpenAI for the beta dialect (section 2: the SDK's
``client.beta.realtime.connect`` adds it)."""

TRANSCRIPTION_INTENT: Final = ("intent", "transcription")
"""The query parameter that opens a transcription session on OpenAI and Azure OpenAI
(``transcription_session.*`` in the beta dialect, ``session.type: "transcription"`` in GA)."""

_WS_SCHEMES: Final = {"https": "wss", "wss": "wss", "http": "ws", "ws": "ws"}


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dial_target(
    url: str,
    *,
    what: str,
    path: str,
    query: Iterable[tuple[str, str]],
    ssl_context: ssl.SSLContext | None,
) -> tuple[str, ssl.SSLContext | None]:
    """The WebSocket URL and TLS context to dial for a REST-style ``url``.

    ``http`` becomes ``ws`` and ``https`` becomes ``wss`` (``ws`` / ``wss`` are kept), ``path``
    is appended to the URL's path (without its trailing ``/``) and ``query`` to its query,
    URL-encoded. A ``wss`` URL without ``ssl_context`` gets ``ssl.create_default_context()``.

    Args:
        url: e.g. ``"https://api.openai.com/v1"``.
        what: the argument's name for error messages, e.g. ``"base_url"``.
        path: e.g. ``"/realtime"``.
        query: ``(name, value)`` pairs, e.g. ``[("model", "gpt-realtime")]``.
        ssl_context: the caller's TLS settings, or ``None``.

    Raises:
        ValueError: ``url`` is not ``http(s)://`` / ``ws(s)://``, has no host or a bad port, is
            unencrypted for a host other than loopback (127.0.0.0/8, ``::1``, ``localhost``),
            or is unencrypted while ``ssl_context`` is given. The message does not quote
            ``url`` in full, in case it carries credentials.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # parses the port, raising ValueError when it is not a number
    except ValueError as exc:
        raise ValueError(f"invalid {what}: {exc}") from None
    scheme = _WS_SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise ValueError(
            f"invalid {what}: the scheme must be https, wss, http or ws, not {parts.scheme!r}"
        )
    if not parts.hostname:
        raise ValueError(f"invalid {what}: it has no host")
    if scheme == "ws":
        if not _is_loopback(parts.hostname):
            raise ValueError(
                f"invalid {what}: unencrypted {parts.scheme}:// is allowed only for loopback "
                f"hosts (127.0.0.0/8, ::1, localhost), not {parts.hostname!r}; use https://"
            )
        if ssl_context is not None:
            raise ValueError(f"ssl_context was given but {what} is unencrypted {parts.scheme}://")
    elif ssl_context is None:
        ssl_context = ssl.create_default_context()
    pairs = [*urllib.parse.parse_qsl(parts.query, keep_blank_values=True), *query]
    encoded = urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)
    full_path = parts.path.rstrip("/") + path
    return urllib.parse.urlunsplit((scheme, parts.netloc, full_path, encoded, "")), ssl_context


def credential_problem(value: object, what: str) -> str | None:
    """What makes ``value`` unusable as a header credential, or ``None`` if nothing does.

    The answer never quotes the value.

    Args:
        value: the credential.
        what: its name in the answer, e.g. ``"the OpenAI API key"``.
    """
    if not isinstance(value, str):
        return f"{what} must be a str, not {type(value).__name__}"
    if not value:
        return f"{what} is empty"
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        return f"{what} contains whitespace or control characters (a trailing newline?)"
    return None


def resolve_api_key(value: str | None, *, service: str, variable: str, how: str) -> str:
    """The API key given, else the one in the environment variable ``variable``.

    Args:
        value: the key passed by the caller, or ``None``.
        service: the service's name in messages, e.g. ``"OpenAI"``.
        variable: the environment variable, e.g. ``"OPENAI_API_KEY"``.
        how: how to pass one instead, e.g. ``"pass api_key=..."``.

    Raises:
        ValueError: no key (or an empty one), or one with whitespace or control characters.
    """
    key = value if value is not None else os.environ.get(variable, "")
    if not key:
        raise ValueError(f"no {service} API key: {how} or set the {variable} environment variable")
    problem = credential_problem(key, f"the {service} API key")
    if problem is not None:
        raise ValueError(problem)
    return key


def check_max_message_size(max_message_size: int) -> None:
    """Raises ValueError unless ``max_message_size`` is positive."""
    if max_message_size <= 0:
        raise ValueError(f"max_message_size must be positive, not {max_message_size}")


def authorization(scheme: str, token_provider: Callable[[], str], what: str) -> tuple[str, str]:
    """The ``Authorization: <scheme> <token>`` header with a token from ``token_provider``.

    Args:
        scheme: e.g. ``"Bearer"``.
        token_provider: called once per call, so each connection gets a current token.
        what: the token's name in error messages, e.g. ``"the token from token_provider"``.

    Raises:
        ConnectError: the token is not a non-empty string without whitespace (e.g. it already
            starts with ``"Bearer "``); the message does not quote it.
        Exception: whatever ``token_provider`` raised, unchanged.
    """
    token = token_provider()
    problem = credential_problem(token, what)
    if problem is not None:
        raise ConnectError(problem)
    return ("Authorization", f"{scheme} {token}")
