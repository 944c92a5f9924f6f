"""Gemini Live over WebSocket: the Gemini API (API key or ephemeral token) and Vertex AI."""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Callable, Iterable
from functools import partial
from typing import Final, final

import attrs

from ..messages import GeminiSessionOptions, SessionKind, SessionOptions, SessionResumption
from ..transport import DEFAULT_MAX_MESSAGE_SIZE, ConnectRequest
from ..wire import Codec
from ..wire.gemini import GeminiCodec
from ._common import (
    authorization,
    check_max_message_size,
    credential_problem,
    dial_target,
    resolve_api_key,
)

__all__ = ["GeminiLive", "VertexGeminiLive"]

GEMINI_MODEL: Final = "gemini-2.5-flash-native-audio-preview-09-2025"
"""The default model of ``GeminiLive`` (a native-audio Live model)."""
VERTEX_MODEL: Final = "gemini-live-2.5-flash"
"""The default model of ``VertexGeminiLive``."""

_GEMINI_URL: Final = "wss://generativelanguage.googleapis.com"
_GEMINI_PATH: Final = "/ws/google.ai.generativelanguage.{version}.GenerativeService.{method}"
_VERTEX_PATH: Final = "/ws/google.cloud.aiplatform.{version}.LlmBidiService/BidiGenerateContent"
_VERSION: Final = re.compile(r"v[0-9]+[a-z0-9]*")
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:_-]*")


def _check_version(api_version: str) -> None:
    if not _VERSION.fullmatch(api_version):
        raise ValueError(f"api_version must look like 'v1beta', not {api_version!r}")


def _environment_key() -> str:
    """``GOOGLE_API_KEY``, else ``GEMINI_API_KEY`` (the official SDK's order), else ``""``."""
    return os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY") or ""


class _GeminiService:
    """What both Gemini Live providers do alike once their URL and credential are known."""

    _model: str
    _setup_model: str
    _transparent: bool | None
    _template: ConnectRequest
    _credential: Callable[[], tuple[str, str]]
    _extra_headers: tuple[tuple[str, str], ...]

    @property
    def model(self) -> str:
        """The model, as given (the ``setup`` message names it; see ``make_codec``)."""
        return self._model

    def connect_request(self, kind: SessionKind = "conversation") -> ConnectRequest:
        """The request to dial: URL, credential header (a fresh token each call when they
        come from a callable), TLS context, size limit. ``kind`` changes nothing: Gemini
        Live has no transcription-only session, and its codec refuses one
        (``EncodeError``) before anything is dialled.

        Raises:
            ConnectError: a token callable returned something other than a non-empty string
                without whitespace.
            Exception: whatever a token callable raised, unchanged.
        """
        return attrs.evolve(self._template, headers=(self._credential(), *self._extra_headers))

    def make_codec(self) -> Codec:
        """A new ``GeminiCodec`` that puts this provider's model in a ``setup`` whose
        ``SessionOptions.model`` is ``None``, and resamples input audio at another rate to
        16 kHz with ``rtsession.audio.Resampler``."""
        from ..audio import Resampler  # numpy and soxr, loaded when a Gemini session opens

        return GeminiCodec(model=self._setup_model, resampler=Resampler)

    def resumable_options(self, options: SessionOptions, handle: str | None) -> SessionOptions:
        """``options`` with ``gemini.session_resumption`` set, so the service sends
        ``sessionResumptionUpdate`` messages, and ``handle`` in it (Gemini API docs, "Session
        management": https://ai.google.dev/gemini-api/docs/live-session). The app's own
        settings there are
        kept (``handle`` when ``handle`` is ``None``; ``transparent``, which is otherwise
        the provider's default, see the class)."""
        gemini = options.gemini or GeminiSessionOptions()
        resumption = gemini.session_resumption or SessionResumption(transparent=self._transparent)
        if handle is not None:
            resumption = attrs.evolve(resumption, handle=handle)
        return attrs.evolve(options, gemini=attrs.evolve(gemini, session_resumption=resumption))

    def next_codec(self, previous: Codec) -> Codec:
        """``previous.successor()`` (``GeminiCodec.successor``): ids and held-back input
        audio carry on to the next connection."""
        if isinstance(previous, GeminiCodec):
            return previous.successor()
        return self.make_codec()


@final
class GeminiLive(_GeminiService):
    """Gemini Live on the Gemini API (https://ai.google.dev/api/live; ``docs/gemini.md``).

    Dials, as the official ``google-genai`` SDK does::

        wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent

    with the API key in the ``x-goog-api-key`` header. With an ephemeral token (made with the
    REST ``auth_tokens.create``, ``auth_tokens/...``) it dials ``...BidiGenerateContentConstrained``
    instead and sends ``Authorization: Token <token>``, the SDK's form (the documentation's raw
    WebSocket form, ``?access_token=``, would put the token in the URL). Resuming a session
    does not use up a token's ``uses``; a fresh session does, so pass a callable when the
    session may need more than one.

    Speaks ``GeminiCodec`` (``docs/gemini.md``). The ``setup``
    names ``model`` (``models/`` is prepended) unless ``SessionOptions.model`` is set. With
    ``open_session(..., reconnect=Reconnect())`` the setup asks for resumption handles; the Gemini
    API does not offer ``transparent`` resumption (the SDK refuses it), so without it a switch
    re-sends the client frames written after the last handle arrived.

    The key and tokens appear in no ``repr`` and no error message.

    Args:
        model: the Live model, e.g. ``"gemini-live-2.5-flash-preview"``.
        api_key: the Gemini API key; ``None`` reads ``GOOGLE_API_KEY``, then
            ``GEMINI_API_KEY`` (the SDK's order), unless ``ephemeral_token`` is given.
        api_version: the API version in the path, e.g. ``"v1beta"`` (the documentation's),
            ``"v1alpha"`` or ``"v1"`` (the SDK's default).
        base_url: the service's URL or a compatible server's, e.g. ``server.url`` of
            ``rtsession.local``; ``https`` is dialed as ``wss``. Unencrypted ``http://`` /
            ``ws://`` is accepted only for loopback hosts.
        ephemeral_token: an ephemeral token, or a callable returning one, called for every
            connection (on the event loop's thread, so it should return quickly).
        ssl_context: TLS settings, e.g. to trust a private CA; ``None`` means
            ``ssl.create_default_context()``.
        max_message_size: the largest server message accepted, in characters of a text frame
            or bytes of a binary one (16 MiB by default); a larger one closes the connection
            with code 1009.
        extra_headers: more handshake headers, as ``(name, value)`` pairs, sent after the
            credential.

    Raises:
        ValueError: an empty ``model``; an ``api_version`` that is not like ``v1beta``; both
            ``api_key`` and ``ephemeral_token``; no credential at all; a key or token with
            whitespace or control characters; a ``base_url`` that is not ``http(s)://`` /
            ``ws(s)://``, or unencrypted for a host other than loopback; ``ssl_context`` with an
            unencrypted ``base_url``.
    """

    name: Final = "gcp.gemini"
    """The OpenTelemetry ``gen_ai.provider.name`` value for the Gemini API (semantic
    conventions for generative AI, well-known provider names)."""

    def __init__(
        self,
        model: str = GEMINI_MODEL,
        api_key: str | None = None,
        api_version: str = "v1beta",
        base_url: str = _GEMINI_URL,
        *,
        ephemeral_token: str | Callable[[], str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        extra_headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        if not model:
            raise ValueError("model must not be empty")
        _check_version(api_version)
        if api_key is not None and ephemeral_token is not None:
            raise ValueError("pass api_key or ephemeral_token, not both")
        check_max_message_size(max_message_size)
        method = (
            "BidiGenerateContent" if ephemeral_token is None else "BidiGenerateContentConstrained"
        )
        url, ssl_context = dial_target(
            base_url,
            what="base_url",
            path=_GEMINI_PATH.format(version=api_version, method=method),
            query=(),
            ssl_context=ssl_context,
        )
        if ephemeral_token is None:
            key = resolve_api_key(
                api_key if api_key is not None else _environment_key(),
                service="Gemini",
                variable="GOOGLE_API_KEY or GEMINI_API_KEY",
                how="pass api_key=... or ephemeral_token=...",
            )
            self._credential = lambda: ("x-goog-api-key", key)
        elif isinstance(ephemeral_token, str):
            problem = credential_problem(ephemeral_token, "the ephemeral token")
            if problem is not None:
                raise ValueError(problem)
            self._credential = lambda: ("Authorization", f"Token {ephemeral_token}")
        else:
            self._credential = partial(
                authorization, "Token", ephemeral_token, "the token from ephemeral_token"
            )
        self._model = model
        self._setup_model = model
        self._transparent = None
        self._base_url = base_url
        self._api_version = api_version
        self._uses_token = ephemeral_token is not None
        self._extra_headers = tuple(extra_headers)
        self._template = ConnectRequest(
            url=url, ssl_context=ssl_context, max_message_size=max_message_size, service="Gemini"
        )

    def __repr__(self) -> str:
        credential = "ephemeral_token" if self._uses_token else "api_key"
        return (
            f"GeminiLive(model={self._model!r}, {credential}=<redacted>, "
            f"api_version={self._api_version!r}, base_url={self._base_url!r})"
        )


@final
class VertexGeminiLive(_GeminiService):
    """Gemini Live on Vertex AI (https://cloud.google.com/vertex-ai/generative-ai/docs/live-api;
    ``docs/gemini.md``).

    Dials the regional endpoint, as the official SDK does in Vertex mode::

        wss://LOCATION-aiplatform.googleapis.com/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent

    (``wss://aiplatform.googleapis.com/...`` for ``location="global"``) with
    ``Authorization: Bearer <OAuth access token>``. ``token_provider`` is called for every
    connection (tokens expire, about every hour), on the event loop's thread, so it should
    return a cached token quickly; with ``google-auth``::

        credentials, project = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )

        def token() -> str:
            if not credentials.valid:
                credentials.refresh(google.auth.transport.requests.Request())  # blocks
            return credentials.token

    Its exceptions propagate from ``open_session`` unchanged. Send ``x-goog-user-project``
    through ``extra_headers`` to bill another project's quota.

    The ``setup`` names ``projects/PROJECT/locations/LOCATION/publishers/google/models/MODEL``
    (a ``model`` holding ``/`` is sent as is). With ``open_session(..., reconnect=Reconnect())`` the
    setup asks for ``transparent`` resumption, so each handle says which client frames the
    service has consumed and a switch re-sends exactly the others.

    Args:
        model: the Live model id, e.g. ``"gemini-live-2.5-flash"``.
        project: the Google Cloud project id.
        location: the region, e.g. ``"us-central1"``, or ``"global"``.
        token_provider: returns an OAuth 2 access token.
        api_version: the API version in the path (``"v1beta1"`` or ``"v1"``).
        base_url: another endpoint (a gateway, or ``rtsession.local``); ``None`` means the
            location's. Unencrypted ``http://`` / ``ws://`` only for loopback hosts.
        ssl_context: TLS settings; ``None`` means ``ssl.create_default_context()``.
        max_message_size: the largest server message accepted (16 MiB by default).
        extra_headers: more handshake headers, sent after ``Authorization``.

    Raises:
        ValueError: an empty ``model``; a ``project`` or ``location`` that is not a plain
            name; an ``api_version`` not like ``v1beta1``; a ``base_url`` as
            ``GeminiLive`` refuses it.
    """

    name: Final = "gcp.vertex_ai"
    """The OpenTelemetry ``gen_ai.provider.name`` value for Vertex AI."""

    def __init__(
        self,
        model: str = VERTEX_MODEL,
        *,
        project: str,
        location: str = "us-central1",
        token_provider: Callable[[], str],
        api_version: str = "v1beta1",
        base_url: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        extra_headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        if not model:
            raise ValueError("model must not be empty")
        for what, value in (("project", project), ("location", location)):
            if not _NAME.fullmatch(value):
                raise ValueError(f"{what} must be a plain name, not {value!r}")
        _check_version(api_version)
        check_max_message_size(max_message_size)
        if base_url is None:
            host = "aiplatform" if location == "global" else f"{location}-aiplatform"
            base_url = f"https://{host}.googleapis.com"
        url, ssl_context = dial_target(
            base_url,
            what="base_url",
            path=_VERTEX_PATH.format(version=api_version),
            query=(),
            ssl_context=ssl_context,
        )
        self._model = model
        self._setup_model = (
            model
            if "/" in model
            else f"projects/{project}/locations/{location}/publishers/google/models/{model}"
        )
        self._transparent = True
        self._project = project
        self._location = location
        self._credential = partial(
            authorization, "Bearer", token_provider, "the token from token_provider"
        )
        self._extra_headers = tuple(extra_headers)
        self._template = ConnectRequest(
            url=url,
            ssl_context=ssl_context,
            max_message_size=max_message_size,
            service="Vertex AI",
        )

    def __repr__(self) -> str:
        return (
            f"VertexGeminiLive(model={self._model!r}, project={self._project!r}, "
            f"location={self._location!r}, token_provider=<redacted>)"
        )
