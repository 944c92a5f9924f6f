"""OpenAI Realtime over WebSocket, GA or beta dialect."""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Final, final, get_args

from ..messages import SessionKind
from ..transport import DEFAULT_MAX_MESSAGE_SIZE, ConnectRequest
from ..wire import Codec
from ._common import (
    BETA_HEADER,
    CODECS,
    TRANSCRIPTION_INTENT,
    OpenAIDialect,
    check_max_message_size,
    dial_target,
    resolve_api_key,
)

__all__ = ["OpenAIRealtime"]


@final
class OpenAIRealtime:
    """The OpenAI Realtime API (https://platform.openai.com/docs/api-reference/realtime;
    ``docs/openai-dialects.md``).

    Dials ``{base_url}/realtime?model={model}`` (``?intent=transcription`` for a session
    of ``kind="transcription"``) with ``http`` turned into ``ws`` and ``https``
    into ``wss`` (the default gives ``wss://api.openai.com/v1/realtime?model=gpt-realtime``),
    sending ``Authorization: Bearer <api_key>``, as the official SDK does. The GA dialect
    (the default) sends no ``OpenAI-Beta`` header and speaks
    ``OpenAICodec``; ``dialect="beta"`` adds
    ``OpenAI-Beta: realtime=v1``, as the SDK's ``client.beta.realtime.connect`` does, and speaks
    ``OpenAIBetaCodec``. The app sees the same messages either
    way (``docs/openai-dialects.md``).

    The API key appears in no ``repr`` and no error message.

    Args:
        model: the model, e.g. ``"gpt-realtime"`` or ``"gpt-realtime-mini"``; URL-encoded into
            the query.
        api_key: the API key; ``None`` reads ``OPENAI_API_KEY``.
        base_url: the REST base URL of the service or of a compatible server, e.g.
            ``"http://127.0.0.1:8765/v1"`` for ``rtsession.local``. Unencrypted ``http://`` /
            ``ws://`` is accepted only for loopback hosts (127.0.0.0/8, ``::1``,
            ``localhost``).
        dialect: ``"ga"`` (default) or ``"beta"``, the wire dialect.
        ssl_context: TLS settings, e.g. to trust a private CA; ``None`` means
            ``ssl.create_default_context()`` (certificates and host name verified).
        max_message_size: the largest server message accepted, in characters of a text frame
            (16 MiB by default); a larger one closes the connection with code 1009.
        extra_headers: more handshake headers, as ``(name, value)`` pairs, sent after
            ``Authorization`` (and ``OpenAI-Beta``).

    Raises:
        ValueError: no API key (argument or ``OPENAI_API_KEY``), a key with whitespace or
            control characters, a ``base_url`` that is not ``http(s)://`` / ``ws(s)://``, an
            unencrypted ``base_url`` for a host other than loopback, ``ssl_context`` with
            an unencrypted ``base_url``, or an unknown ``dialect``.
    """

    name: Final = "openai"
    """The OpenTelemetry ``gen_ai.provider.name`` value."""

    def __init__(
        self,
        model: str = "gpt-realtime",
        api_key: str | None = None,
        base_url: str = "https://api.openai.com/v1",
        *,
        dialect: OpenAIDialect = "ga",
        ssl_context: ssl.SSLContext | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        extra_headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        if not model:
            raise ValueError("model must not be empty")
        if dialect not in get_args(OpenAIDialect):
            raise ValueError(f"dialect must be 'ga' or 'beta', not {dialect!r}")
        check_max_message_size(max_message_size)
        urls = {
            kind: dial_target(
                base_url, what="base_url", path="/realtime", query=query, ssl_context=ssl_context
            )
            for kind, query in (
                ("conversation", [("model", model)]),
                ("transcription", [TRANSCRIPTION_INTENT]),
            )
        }
        key = resolve_api_key(
            api_key, service="OpenAI", variable="OPENAI_API_KEY", how="pass api_key=..."
        )
        self._model = model
        self._base_url = base_url
        self._dialect = dialect
        headers = (
            ("Authorization", f"Bearer {key}"),
            *((BETA_HEADER,) if dialect == "beta" else ()),
            *extra_headers,
        )
        self._requests = {
            kind: ConnectRequest(
                url=url,
                headers=headers,
                ssl_context=context,
                max_message_size=max_message_size,
                service="OpenAI",
            )
            for kind, (url, context) in urls.items()
        }

    def __repr__(self) -> str:
        dialect = f", dialect={self._dialect!r}" if self._dialect != "ga" else ""
        return (
            f"OpenAIRealtime(model={self._model!r}, api_key=<redacted>, "
            f"base_url={self._base_url!r}{dialect})"
        )

    @property
    def model(self) -> str:
        """The model in the connection URL."""
        return self._model

    def connect_request(self, kind: SessionKind = "conversation") -> ConnectRequest:
        """The request to dial: URL, ``Authorization`` (and ``OpenAI-Beta``) header, TLS
        context, size limit. A transcription session dials ``?intent=transcription`` in place
        of ``?model=`` (its model is ``InputTranscription.model``)."""
        return self._requests[kind]

    def make_codec(self) -> Codec:
        """A new ``OpenAICodec``, or
        ``OpenAIBetaCodec`` for ``dialect="beta"``."""
        return CODECS[self._dialect]()
