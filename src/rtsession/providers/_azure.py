"""Azure OpenAI realtime over WebSocket: the GA endpoint, or the preview endpoint (beta dialect)."""

from __future__ import annotations

import ssl
import urllib.parse
from collections.abc import Callable, Iterable
from functools import partial
from typing import Final, final

import attrs

from .._errors import ConnectError
from ..messages import SessionKind
from ..transport import DEFAULT_MAX_MESSAGE_SIZE, ConnectRequest
from ..wire import Codec
from ._common import (
    CODECS,
    TRANSCRIPTION_INTENT,
    check_max_message_size,
    credential_problem,
    dial_target,
    resolve_api_key,
)

__all__ = ["AzureOpenAIRealtime"]

_SERVICE: Final = "Azure OpenAI"


@final
class AzureOpenAIRealtime:
    """An Azure OpenAI realtime deployment
    (https://learn.microsoft.com/azure/ai-foundry/openai/realtime-audio-reference;
    ``docs/azure.md``).

    Without ``api_version`` it dials the GA endpoint and speaks the GA dialect
    (``OpenAICodec``)::

        wss://NAME.openai.azure.com/openai/v1/realtime?model=DEPLOYMENT

    With ``api_version`` (e.g. ``"2025-04-01-preview"``) it dials the preview endpoint, which
    speaks the beta dialect (``OpenAIBetaCodec``; deprecated
    by Azure from April 30, 2026)::

        wss://NAME.openai.azure.com/openai/realtime?api-version=VERSION&deployment=DEPLOYMENT

    The GA URL carries no ``api-version`` (the service answers 401 to one) and neither sends
    an ``OpenAI-Beta`` header: the path selects the dialect. The preview request is the one the
    official SDK's ``AzureOpenAI(...).realtime.connect`` sends (section 2a).

    Authentication is the ``api-key`` header, or a Microsoft Entra ID token sent as
    ``Authorization: Bearer <token>``. ``token_provider`` is called for every connection
    (tokens expire, about every hour), on the event loop's thread, so it should return a cached
    token quickly; ``azure.identity.get_bearer_token_provider(credential,
    "https://cognitiveservices.azure.com/.default")`` is such a callable (it blocks only while
    it refreshes the token). Its exceptions propagate from ``open_session`` unchanged.

    The key and tokens appear in no ``repr`` and no error message.

    Args:
        endpoint: the resource's URL, ``https://NAME.openai.azure.com`` or
            ``https://NAME.cognitiveservices.azure.com`` (any path is kept as a prefix, e.g.
            for a gateway); ``https`` is dialed as ``wss``. Unencrypted ``http://`` /
            ``ws://`` is accepted only for loopback hosts (127.0.0.0/8, ``::1``,
            ``localhost``), e.g. ``rtsession.local``.
        deployment: the deployment name, sent as ``model`` (GA) or ``deployment`` (preview);
            also the provider's ``model``.
        api_key: the resource's key, sent as ``api-key``.
        token_provider: a callable returning a Microsoft Entra ID access token, instead of a
            key. With neither, the key comes from ``AZURE_OPENAI_API_KEY``.
        api_version: the preview API version; ``None`` (default) means GA.
        ssl_context: TLS settings; ``None`` means ``ssl.create_default_context()``.
        max_message_size: the largest server message accepted, in characters of a text frame
            (16 MiB by default); a larger one closes the connection with code 1009.
        extra_headers: more handshake headers, as ``(name, value)`` pairs, sent after the
            credential.

    Raises:
        ValueError: an empty ``deployment`` or ``api_version``; both ``api_key`` and
            ``token_provider``; no credential at all (no ``AZURE_OPENAI_API_KEY`` either); a key
            with whitespace or control characters; an ``endpoint`` that is not
            ``http(s)://`` / ``ws(s)://``, has a query, fragment or user info, or is
            unencrypted for a host other than loopback; ``ssl_context`` with an unencrypted
            ``endpoint``.
    """

    name: Final = "azure.ai.openai"
    """The OpenTelemetry ``gen_ai.provider.name`` value for Azure OpenAI (semantic conventions
    for generative AI, well-known provider names)."""

    def __init__(
        self,
        endpoint: str,
        deployment: str,
        *,
        api_key: str | None = None,
        token_provider: Callable[[], str] | None = None,
        api_version: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        extra_headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        if not deployment:
            raise ValueError("deployment must not be empty")
        if api_version == "":
            raise ValueError("api_version must not be empty; None means the GA endpoint")
        if api_key is not None and token_provider is not None:
            raise ValueError("pass api_key or token_provider, not both")
        check_max_message_size(max_message_size)
        if api_version is None:
            path, version = "/openai/v1/realtime", []
            session = ("model", deployment)
        else:
            path, version = "/openai/realtime", [("api-version", api_version)]
            session = ("deployment", deployment)
        urls = {
            kind: dial_target(
                endpoint,
                what="endpoint",
                path=path,
                query=[*version, choice],
                ssl_context=ssl_context,
            )
            for kind, choice in (("conversation", session), ("transcription", TRANSCRIPTION_INTENT))
        }
        parts = urllib.parse.urlsplit(endpoint)
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError(
                "invalid endpoint: it must be the resource URL without query, fragment or user "
                "info, e.g. https://NAME.openai.azure.com; pass the key as api_key=..."
            )
        self._endpoint = endpoint
        self._deployment = deployment
        self._api_version = api_version
        self._extra_headers = tuple(extra_headers)
        self._uses_token = token_provider is not None
        self._templates = {
            kind: ConnectRequest(
                url=url, ssl_context=context, max_message_size=max_message_size, service=_SERVICE
            )
            for kind, (url, context) in urls.items()
        }
        self._credential: Callable[[], tuple[str, str]]
        if token_provider is None:
            key = resolve_api_key(
                api_key,
                service=_SERVICE,
                variable="AZURE_OPENAI_API_KEY",
                how="pass api_key=... or token_provider=...",
            )
            self._credential = lambda: ("api-key", key)
        else:
            self._credential = partial(_bearer_token, token_provider)

    def __repr__(self) -> str:
        credential = "token_provider" if self._uses_token else "api_key"
        version = f", api_version={self._api_version!r}" if self._api_version is not None else ""
        return (
            f"AzureOpenAIRealtime(endpoint={self._endpoint!r}, "
            f"deployment={self._deployment!r}, {credential}=<redacted>{version})"
        )

    @property
    def model(self) -> str:
        """The deployment name in the connection URL."""
        return self._deployment

    def connect_request(self, kind: SessionKind = "conversation") -> ConnectRequest:
        """The request to dial: URL, ``api-key`` or ``Authorization`` header, TLS context,
        size limit. With a ``token_provider``, a fresh token each call. A transcription
        session dials ``intent=transcription`` in place of the deployment (name the
        transcription deployment in ``InputTranscription.model``).

        Raises:
            ConnectError: ``token_provider`` returned something other than a non-empty
                string without whitespace (e.g. ``"Bearer ..."``).
            Exception: whatever ``token_provider`` raised, unchanged.
        """
        return attrs.evolve(
            self._templates[kind], headers=(self._credential(), *self._extra_headers)
        )

    def make_codec(self) -> Codec:
        """A new ``OpenAICodec`` (GA), or
        ``OpenAIBetaCodec`` with ``api_version`` (preview)."""
        return CODECS["ga" if self._api_version is None else "beta"]()


def _bearer_token(token_provider: Callable[[], str]) -> tuple[str, str]:
    token = token_provider()
    problem = credential_problem(token, "the token from token_provider")
    if problem is not None:
        raise ConnectError(problem)
    return ("Authorization", f"Bearer {token}")
