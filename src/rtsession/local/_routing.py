"""Which dialect a WebSocket request speaks: routing by request path and headers, as the
services do.

A ``Dialect`` is a wire format (its codec, used in the server directions) plus the
session a connection of that format starts with. A ``Route`` binds a path, and optionally
header values, to a dialect. Adding a dialect is adding a route to ``DEFAULT_ROUTES``; the
session state machine is shared, because the codecs normalize every format to the same
messages (a dialect's ``adapt`` reports them as its service does, and its ``rules`` say where
the service behaves differently, as Gemini Live's do).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Final

import attrs

from .. import messages as m
from ..audio import Resampler
from ..wire import Codec
from ..wire.gemini import GeminiCodec
from ..wire.openai import PCM_RATE, OpenAICodec
from ..wire.openai_beta import OpenAIBetaCodec, beta_param
from ._beta import BETA_MODALITIES, beta_message, beta_session_defaults
from ._config import ServiceRules, opening_session
from ._gemini import GEMINI_RULES, gemini_session_defaults

__all__ = [
    "DEFAULT_ROUTES",
    "GEMINI",
    "GEMINI_PATHS",
    "OPENAI_BETA",
    "OPENAI_GA",
    "Dialect",
    "Match",
    "Rejection",
    "Route",
    "resolve",
]


def _as_is(message: m.ServerMessage) -> m.ServerMessage:
    return message


@attrs.frozen
class Dialect:
    """A wire format the local server speaks.

    Attributes:
        name: a short name for logs, e.g. ``"openai"``.
        make_codec: creates the codec of one connection.
        session_defaults: the session a connection starts with, from the request's query
            parameters (e.g. ``model``).
        rules: where its service checks differently from the GA rules (audio rates,
            modalities, parameter names in errors).
        adapt: what the dialect's service sends in place of a server message of the shared
            state machine (by default the message itself). Messages the codec does not carry
            afterwards are left out.
    """

    name: str
    make_codec: Callable[[], Codec]
    session_defaults: Callable[[Mapping[str, str]], m.SessionOptions]
    rules: ServiceRules
    adapt: Callable[[m.ServerMessage], m.ServerMessage] = _as_is


def _openai_codec() -> Codec:
    return OpenAICodec()


def _openai_defaults(query: Mapping[str, str]) -> m.SessionOptions:
    return opening_session(query, query.get("model") or "gpt-realtime", PCM_RATE)


OPENAI_GA: Final = Dialect(
    "openai", _openai_codec, _openai_defaults, ServiceRules(frozenset({PCM_RATE}))
)
"""OpenAI Realtime GA (``docs/local-server.md``, "Routing"): 24 kHz PCM both ways, the model
from ``?model=``, a transcription session with ``?intent=transcription``."""

OPENAI_BETA: Final = Dialect(
    "openai-beta",
    OpenAIBetaCodec,
    beta_session_defaults,
    ServiceRules(frozenset({PCM_RATE}), BETA_MODALITIES, beta_param),
    beta_message,
)
"""OpenAI Realtime beta, also Azure OpenAI preview (``docs/openai-dialects.md``): the GA
state machine's messages as the beta service reports them (``_beta.py``), with its modalities
(``["audio", "text"]`` too) and its parameter names in errors, 24 kHz PCM both
ways, the model from ``?model=`` or ``?deployment=``."""


def _gemini_codec() -> Codec:
    return GeminiCodec(resampler=Resampler)  # clients may send audio at any rate, as to Gemini


GEMINI: Final = Dialect("gemini", _gemini_codec, gemini_session_defaults, GEMINI_RULES)
"""Gemini Live (``docs/gemini.md``; ``_gemini.py``): 16 kHz PCM in, 24 kHz out, the model from the
``setup``."""


@attrs.frozen
class Route:
    """A path (and header values) served by a dialect.

    Attributes:
        path: the request path without query, e.g. ``"/v1/realtime"``.
        dialect: the dialect spoken there.
        headers: conditions on request headers: ``(lower-case name, value)`` requires that
            value (compared case-insensitively), ``(name, None)`` requires the header to be
            absent.
    """

    path: str
    dialect: Dialect
    headers: tuple[tuple[str, str | None], ...] = ()

    def accepts(self, headers: Mapping[str, str]) -> bool:
        """Whether a request with these (lower-case named) headers matches."""
        for name, value in self.headers:
            present = headers.get(name)
            if value is None and present is not None:
                return False
            if value is not None and (present is None or present.lower() != value.lower()):
                return False
        return True


_NO_BETA: Final = (("openai-beta", None),)
_BETA: Final = (("openai-beta", "realtime=v1"),)

GEMINI_PATHS: Final = (
    *(
        f"/ws/google.ai.generativelanguage.{version}.GenerativeService.{method}"
        for version in ("v1", "v1alpha", "v1beta")
        for method in ("BidiGenerateContent", "BidiGenerateContentConstrained")
    ),
    *(
        f"/ws/google.cloud.aiplatform.{version}.LlmBidiService/BidiGenerateContent"
        for version in ("v1", "v1beta1")
    ),
)
"""The Gemini Live paths (``docs/local-server.md``, "Routing"): the Gemini API's, with an API
key or an ephemeral token (``...Constrained``), and Vertex AI's."""

DEFAULT_ROUTES: Final = (
    Route("/v1/realtime", OPENAI_GA, _NO_BETA),
    Route("/v1/realtime", OPENAI_BETA, _BETA),
    Route("/openai/v1/realtime", OPENAI_GA, _NO_BETA),
    Route("/openai/realtime", OPENAI_BETA),
    *(Route(path, GEMINI) for path in GEMINI_PATHS),
)
"""The routes ``serve_local`` serves: the OpenAI endpoint as the SDK dials
it (``/v1/realtime?model=...``), GA without an ``OpenAI-Beta`` header and beta with
``OpenAI-Beta: realtime=v1``; the Azure GA path (``/openai/v1/realtime``, GA only); and the Azure
preview path (``/openai/realtime?api-version=...&deployment=...``), beta with or without the
header, as Azure's preview endpoint speaks only beta. Another ``OpenAI-Beta`` value gets HTTP
400. Gemini Live is served at every path of ``GEMINI_PATHS``."""


@attrs.frozen
class Match:
    """A request the server accepts: its dialect and query parameters."""

    dialect: Dialect
    query: dict[str, str]


@attrs.frozen
class Rejection:
    """A request the server refuses, with the HTTP status and a plain-text reason."""

    status: int
    reason: str


def resolve(
    routes: Sequence[Route], target: str, headers: Sequence[tuple[bytes, bytes]]
) -> Match | Rejection:
    """Route a WebSocket handshake.

    Args:
        routes: the routes, tried in order.
        target: the request target, path and query (``/v1/realtime?model=gpt-realtime``).
        headers: the request headers as trio-websocket gives them.

    Returns:
        A ``Match``, or a ``Rejection``: 404 for an unknown path, 400 when the path
        exists but no dialect there accepts the headers.
    """
    raw_path, mark, raw_query = target.partition("?")
    # Clients dial ``//ws/...`` (a widely used Gemini library does, in production too) and
    # the services accept it: runs of slashes count as one, a trailing one as none.
    parts = urllib.parse.urlsplit(re.sub("/{2,}", "/", raw_path) + mark + raw_query)
    path = parts.path.rstrip("/") or "/"
    on_path = [r for r in routes if r.path == path]
    if not on_path:
        known = ", ".join(sorted({r.path for r in routes}))
        return Rejection(404, f"No realtime endpoint at {path}. Endpoints: {known}.\n")
    named = {k.decode("latin-1").lower(): v.decode("latin-1").strip() for k, v in headers}
    for route in on_path:
        if route.accepts(named):
            query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
            return Match(route.dialect, query)
    asked = ", ".join(
        f"{name}: {named[name]}" for route in on_path for name, _ in route.headers if name in named
    )
    return Rejection(
        400, f"{path} serves no dialect for the request headers ({asked or 'none'}).\n"
    )
