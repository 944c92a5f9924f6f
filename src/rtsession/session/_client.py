"""A provider and its session configuration, set once, for opening many sessions."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from typing import final

from ..messages import SessionOptions, merge_options
from ..providers import Provider
from ..transport import Transport
from ._fused import Middleware
from ._reconnect import Reconnect
from ._session import Session, open_session

__all__ = ["RealtimeClient"]


@final
class RealtimeClient:
    """A provider with its options, middleware, transport and reconnection policy, set once,
    that opens any number of sessions (Microsoft.Extensions.AI's ``IRealtimeClient`` with its
    pipeline built once).

    ::

        client = RealtimeClient(
            OpenAIRealtime(),
            options=SessionOptions(instructions="Be brief."),
            middleware=[Logging(), OpenTelemetry(), FunctionInvocation([get_weather])],
            reconnect=Reconnect(),
        )
        async with client.open_session() as session:
            ...

    The same middleware stage objects serve every session (a stage keeps per-session state
    in its ``run``, as ``Relay`` does), so sessions may be open
    at once, in any tasks.

    Args:
        provider: the service, e.g. ``OpenAIRealtime()``.
        options: the options every session starts with (``None``: the service's defaults).
        middleware: the stages of every session, the first nearest the app.
        transport: how to open the WebSocket; default ``TrioWebsocketTransport``.
        reconnect: the reconnection policy of every session, or ``None``.
    """

    __slots__ = ("middleware", "options", "provider", "reconnect", "transport")

    def __init__(
        self,
        provider: Provider,
        *,
        options: SessionOptions | None = None,
        middleware: Iterable[Middleware] = (),
        transport: Transport | None = None,
        reconnect: Reconnect | None = None,
    ) -> None:
        self.provider = provider
        self.options = options
        self.middleware = tuple(middleware)
        self.transport = transport
        self.reconnect = reconnect

    def open_session(
        self, options: SessionOptions | None = None
    ) -> AbstractAsyncContextManager[Session]:
        """A session with the client's configuration, as ``open_session`` opens it.

        Args:
            options: set on top of the client's options, field by field
                (``messages.merge_options``); ``None``: the client's options alone.

        Raises:
            ConnectError: as ``open_session``, and everything else it raises.
        """
        merged = options
        if self.options is not None:
            merged = self.options if options is None else merge_options(self.options, options)
        return open_session(
            self.provider,
            merged,
            middleware=self.middleware,
            transport=self.transport,
            reconnect=self.reconnect,
        )
