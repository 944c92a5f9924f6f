"""The one place credentials are hidden: in error texts and their cause chains, close reasons,
log records (rtsession's and the WebSocket libraries'), recordings and logged JSON.

A ``Redactor`` knows the credentials of one connection (its header values and credential
query parameters) and replaces them in every form a server may echo them in: as sent,
JSON-escaped (``\\/``, ``\\u002b``), URL-encoded (``%2F``, ``+``) and base64 (at any of the
three byte alignments, standard or URL-safe alphabet). While a connection is open its
redactor is registered, and a filter on the third-party loggers (``websockets``,
``trio-websocket``, ``wsproto``, ``h11``) scrubs their records with every registered one.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.parse
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Final, final

__all__ = [
    "REDACTED",
    "SECRET_KEYS",
    "SECRET_QUERY_KEYS",
    "Redactor",
    "display_url",
    "registered",
]

REDACTED: Final = "<redacted>"

SECRET_QUERY_KEYS: Final = frozenset({"key", "api_key", "api-key", "access_token", "token"})
"""Query parameters that carry credentials in some services' URLs (Gemini's ``key``, its
ephemeral tokens' ``access_token``)."""

SECRET_KEYS: Final = frozenset(
    {
        "api_key",
        "api-key",
        "apikey",
        "authorization",
        "access_token",
        "client_secret",
        "token",
        "key",
        "password",
        "secret",
        "x-goog-api-key",
    }
)
"""JSON object keys whose values are credentials wherever they appear (an MCP tool's
``authorization``, a raw payload's ``api_key``)."""

_HEADER_MAPS: Final = frozenset({"headers", "extra_headers"})
"""JSON object keys whose values map header names to values: every value is hidden."""

_MIN_SECRET_LEN: Final = 8
"""Shorter values (``"1"``, ``"realtime=v1"``) are not credentials, and replacing them
everywhere would mangle the text."""

THIRD_PARTY_LOGGERS: Final = (
    "websockets",
    "websockets.client",
    "websockets.server",
    "websockets.protocol",
    "trio-websocket",
    "wsproto",
    "h11",
)
"""The loggers of the WebSocket and HTTP libraries rtsession drives (a filter on a logger
applies to its own records only, so each is named)."""


def display_url(url: str) -> str:
    """The URL without user info and with credential query values hidden."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    pairs = (pair.partition("=") for pair in parts.query.split("&") if pair)
    query = "&".join(
        f"{name}={REDACTED}" if name.lower() in SECRET_QUERY_KEYS else name + sep + value
        for name, sep, value in pairs
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _base64_forms(secret: bytes) -> Iterator[str]:
    """The base64 characters that ``secret`` alone determines, at each of the three
    alignments it can have inside a longer encoded text, in both alphabets."""
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + secret).decode()
        start = -(-8 * offset // 6)
        end = 8 * (offset + len(secret)) // 6
        yield from (encoded[start:end], encoded[start:end].translate(_URL_SAFE))


_URL_SAFE: Final = str.maketrans("+/", "-_")


def _forms(secret: str) -> set[str]:
    """Every form of ``secret`` a server may echo."""
    escaped = json.dumps(secret)[1:-1]
    forms = {
        secret,
        escaped,
        escaped.replace("/", "\\/"),
        json.dumps(secret, ensure_ascii=True)[1:-1],
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret),
        *_base64_forms(secret.encode()),
    }
    return {form for form in forms if len(form) >= _MIN_SECRET_LEN}


@final
class Redactor:
    """Hides credentials in text, JSON and exceptions.

    Args:
        secrets: the credentials, e.g. ``Redactor.of(url, headers)``'s; values shorter than 8
            characters are ignored. A header value ``"Bearer <token>"`` also hides the
            token alone.
    """

    __slots__ = ("_forms",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            for part in {secret, secret.rpartition(" ")[2]}:
                if len(part) >= _MIN_SECRET_LEN:
                    forms |= _forms(part)
        self._forms = tuple(sorted(forms, key=len, reverse=True))

    @classmethod
    def of(cls, url: str, headers: Iterable[tuple[str, str]]) -> Redactor:
        """The redactor of a connection: its header values and credential query values."""
        query = urllib.parse.urlsplit(url).query
        secrets = [
            value
            for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True)
            if name.lower() in SECRET_QUERY_KEYS
        ]
        return cls([*secrets, *(value for _, value in headers)])

    def __bool__(self) -> bool:
        return bool(self._forms)

    def text(self, text: str) -> str:
        """``text`` with every form of every credential replaced by ``<redacted>``."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def json(self, value: Any) -> Any:
        """A copy of a JSON value with credential-keyed values, header-map values and every
        form of every credential hidden; ``null`` stays ``null``."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if not isinstance(value, dict):
            return value
        result: dict[str, Any] = {}
        for key, item in value.items():
            lowered = key.lower()
            if item is not None and lowered in SECRET_KEYS:
                result[key] = REDACTED
            elif isinstance(item, dict) and lowered in _HEADER_MAPS:
                result[key] = dict.fromkeys(item, REDACTED)
            else:
                result[key] = self.json(item)
        return result

    def leaks(self, exc: BaseException) -> bool:
        """Whether the text or ``repr`` of ``exc`` itself holds a credential."""
        text = f"{exc!s} {exc!r}"
        return self.text(text) != text

    def chain(self, exc: BaseException) -> None:
        """Cut the cause/context chain of ``exc`` before the first exception whose text holds
        a credential (a library's error quoting the server's answer), so that a traceback of
        ``exc`` shows none. ``exc`` itself is the caller's to build clean."""
        seen: set[int] = set()
        node: BaseException | None = exc
        while node is not None and id(node) not in seen:
            seen.add(id(node))
            for link in ("__cause__", "__context__"):
                nxt = getattr(node, link)
                if nxt is not None and self.leaks(nxt):
                    setattr(node, link, None)
                    node.__suppress_context__ = True
            node = node.__cause__ or node.__context__

    def record(self, record: logging.LogRecord) -> None:
        """Scrub a log record in place: its message (with arguments merged) and any
        exception text."""
        message = record.getMessage()
        cleaned = self.text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info is not None and record.exc_info[1] is not None:
            record.exc_text = self.text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None


_active: list[Redactor] = []
"""The redactors of the connections open now."""


class _ThirdPartyFilter(logging.Filter):
    """Scrubs the records of the WebSocket libraries with every open connection's
    redactor."""

    def filter(self, record: logging.LogRecord) -> bool:
        for redactor in tuple(_active):
            redactor.record(record)
        return True


_FILTER: Final = _ThirdPartyFilter()


@contextmanager
def registered(redactor: Redactor) -> Iterator[None]:
    """While the block runs, the third-party loggers' records are scrubbed with
    ``redactor`` too (the block holds a connection with its credentials)."""
    if not _active:
        for name in THIRD_PARTY_LOGGERS:
            logging.getLogger(name).addFilter(_FILTER)
    _active.append(redactor)
    try:
        yield
    finally:
        _active.remove(redactor)
