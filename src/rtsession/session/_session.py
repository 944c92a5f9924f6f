"""``open_session`` and the ``Session`` it yields."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Final, TypeVar, cast, final

import trio

from .._errors import SessionClosedError
from .._groups import collapse, reraise
from .._public import NoPublicConstructor
from .._runtime import require_trio
from ..messages import ClientMessage, ServerMessage, SessionOptions, SessionUpdate
from ..providers import Provider
from ..transport import Transport, TrioWebsocketTransport
from ..wire import Codec
from ._conversation import Conversation
from ._end import ProviderEnd
from ._fused import (
    ChannelSink,
    ClientOut,
    FusedStage,
    Fusion,
    Middleware,
    RelayMaker,
    ServerIn,
    Upstream,
)
from ._receive_channel import SessionReceiveChannel
from ._reconnect import Reconnect
from ._send_channel import SendHub, SessionSendChannel
from ._stage import Stage, StageChannels, StageContext
from ._state import CloseReason, SessionMetadata, SessionState, SessionStatistics

_T = TypeVar("_T")

__all__ = ["FLUSH_TIMEOUT", "Session", "open_session"]

FLUSH_TIMEOUT: Final = 1.0
"""Seconds a closing session waits for messages already accepted by ``send`` to pass the
middleware and reach the socket, before it sends the close frame."""


@final
class Session(metaclass=NoPublicConstructor):
    """A live realtime session; made by ``open_session``, valid inside its block.

    Channels (all bounded, buffer 0, so backpressure reaches the producer at once; what a
    hop costs is measured in ``docs/benchmarks``):

    - ``send_channel`` (and ``send``): client messages toward the provider. A send
      returns once the next task (first middleware stage, or the writer) has taken the message.
    - ``receive_channel`` (and ``async for``): server messages for the app. If the app
      stops reading, the reader stops too, and so does the socket (TCP backpressure): keep
      consuming while the session is open.
    """

    __slots__ = ("_receive_channel", "_send_channel", "_sender", "_services", "_state")

    def __init__(
        self,
        state: SessionState,
        hub: SendHub,
        receive_channel: trio.MemoryReceiveChannel[ServerMessage],
        services: tuple[object, ...] = (),
    ) -> None:
        self._state = state
        self._services = services
        self._send_channel = SessionSendChannel(hub)
        # A handle of its own, so send() keeps working if the app closes send_channel.
        self._sender = SessionSendChannel(hub)
        self._receive_channel = SessionReceiveChannel(state, receive_channel)

    @property
    def provider(self) -> Provider:
        """The provider this session is connected to."""
        return self._state.provider

    @property
    def options(self) -> SessionOptions:
        """The configuration in force: the ``session`` of the last ``SessionCreated`` or
        ``SessionUpdated`` (OpenAI ``session.created`` / ``session.updated``); until the first
        arrives, the options given to ``open_session`` (or an empty ``SessionOptions``). On a
        wire without ``SessionUpdated`` (Gemini Live's ``contextUpdate``), an update is merged
        in once it is written. An update the server refuses changes nothing."""
        return self._state.options

    @property
    def send_channel(self) -> SessionSendChannel:
        """Where client messages go; ``send_channel.clone()`` gives each producer task its own
        handle. Validates like ``send``. Closing a handle closes only that handle."""
        return self._send_channel

    @property
    def receive_channel(self) -> SessionReceiveChannel:
        """Server messages, in wire order after the middleware. After the last message
        received before the end, ends (``EndOfChannel``) when the session ended normally
        (the app's close, or the server's code 1000) and raises ``SessionClosedError``
        otherwise."""
        return self._receive_channel

    @property
    def conversation(self) -> Conversation:
        """The conversation's items, in order, as the server confirmed them: messages with
        their text and transcripts, function calls and their outputs (a read-only sequence,
        kept current; see ``Conversation`` for what updates it on
        each provider). It stays readable after the block."""
        return self._state.conversation

    @property
    def close_reason(self) -> CloseReason | None:
        """How the session ended (code, reason, who closed), or ``None`` while it is open:
        for code that only sends and never iterates."""
        return self._state.close_reason()

    async def send(self, message: ClientMessage) -> None:
        """Send one client message toward the provider.

        The message is checked against the provider's wire format first, so nothing reaches
        the socket when it cannot be carried.

        Cancellation: a send cancelled while it waits for room in the chain queues nothing;
        once it has returned, the message is on its way and cancelling later does not stop it.

        Raises:
            EncodeError: the provider's wire format cannot carry ``message``.
            SessionClosedError: the connection is closed; ``code`` and ``reason`` are those of
                the server's close frame (1006 when it ended without one), or 1000 once the
                session's block has been left.
            ConnectError: the session ended because every reconnection attempt failed and
                the last one's handshake was refused (``status_code``).
        """
        await self._sender.send(message)

    async def update(self, options: SessionOptions) -> None:
        """Send ``SessionUpdate(session=options)`` (OpenAI ``session.update``).

        Only the fields set change. ``options`` follows when the server confirms with
        ``SessionUpdated`` (on Gemini Live, which sends none, once the update is written).

        Cancellation: as ``send``: an update cancelled while it waits is not sent.

        Raises:
            EncodeError: the provider does not support a setting in ``options``.
            SessionClosedError: the connection is closed.
        """
        await self.send(SessionUpdate(session=options))

    def get_service(self, service_type: type[_T], key: object | None = None) -> _T | None:
        """What the session holds of ``service_type`` (Microsoft.Extensions.AI's
        ``GetService``): the first middleware stage of that type (nearest the app first),
        else the transport, else the provider, else the ``SessionMetadata``; ``None``
        when there is none, or for any ``key`` (the session holds no keyed services).

        Typical uses: an app reading its ``FunctionInvocation``'s statistics, a stage
        finding the ``OpenTelemetry`` stage's tracer, code logging the server address::

            metadata = session.get_required_service(SessionMetadata)
        """
        if key is not None:
            return None
        for service in self._services:
            if isinstance(service, service_type):
                return service
        return None

    def get_required_service(self, service_type: type[_T], key: object | None = None) -> _T:
        """As ``get_service``, for a service that must be there.

        Raises:
            LookupError: the session holds nothing of ``service_type`` (under ``key``).
        """
        service = self.get_service(service_type, key)
        if service is None:
            raise LookupError(
                f"the session holds no {service_type.__name__}"
                + ("" if key is None else f" under the key {key!r}")
            )
        return service

    def statistics(self) -> SessionStatistics:
        """Counters of the session: connections used, client frames re-sent and server
        messages dropped when it moved to a new one (with a ``reconnect`` policy), outputs of
        cancelled calls not sent, and responses ``ResponseGate`` released without their
        ``ResponseDone``."""
        return self._state.statistics()

    def __aiter__(self) -> AsyncIterator[ServerMessage]:
        """Iterate over server messages: as ``receive_channel``, which ends cleanly after
        a normal end and raises ``SessionClosedError`` after an abnormal one."""
        return self._receive_channel


_StageWiring = tuple[
    Stage,
    "trio.MemoryReceiveChannel[ClientMessage] | ClientOut",
    trio.MemorySendChannel[Upstream],
    trio.MemoryReceiveChannel[ServerMessage],
    "trio.MemorySendChannel[ServerMessage] | ServerIn",
]


@final
class _Pipeline:
    """The channels and tasks between the app and the connection, and their shutdown.

    With ``middleware=[a, b]``, task stages::

        app -> hub -> a -> b -> writer -> socket
        app <------- a <- b <- reader <- socket

    Consecutive fused stages have no task and no channel of their own: their client hooks
    run in the task that receives from them (the writer, or the task stage after them),
    their server hooks in the task that sends into them (the reader, or that task stage).
    The writer and the readers are the pipeline's end, a ``ProviderEnd``.
    """

    __slots__ = (
        "_context",
        "_fusions",
        "_stages",
        "_state",
        "end",
        "end_channels",
        "hub",
        "receive",
    )

    end: ProviderEnd

    def __init__(
        self,
        codec: Codec,
        state: SessionState,
        stages: tuple[Middleware, ...],
        nursery: trio.Nursery,
    ) -> None:
        self._state = state
        self._context = StageContext._create(state, type(codec).client_types)
        client_send, client_in = trio.open_memory_channel[Upstream](0)
        toward_app, self.receive = trio.open_memory_channel[ServerMessage](0)
        served = frozenset(cls for stage in stages for cls in getattr(stage, "serves", ()))
        self.hub = SendHub(state, codec, client_send, served)
        self._stages: list[_StageWiring] = []
        self._fusions: list[Fusion] = []
        app_side: trio.MemoryReceiveChannel[ClientMessage] | ClientOut = _clients(client_in)
        sink: trio.MemorySendChannel[ServerMessage] | ServerIn = toward_app
        for unit in _units(stages):  # from the app side toward the provider
            if isinstance(unit, list):
                assert isinstance(sink, trio.MemorySendChannel)  # fused runs are maximal
                fusion = Fusion(unit, self._context, nursery, (client_send, client_in), sink)
                self._fusions.append(fusion)
                app_side, sink = fusion.client_out, fusion.server_in
                continue
            to_provider, client_in = trio.open_memory_channel[Upstream](0)
            next_sink, from_provider = trio.open_memory_channel[ServerMessage](0)
            self._stages.append((unit, app_side, to_provider, from_provider, sink))
            client_send, app_side, sink = to_provider, _clients(client_in), next_sink
        self.end_channels = (app_side, sink if isinstance(sink, ServerIn) else ChannelSink(sink))

    def start(self, nursery: trio.Nursery, end: ProviderEnd) -> None:
        """Start the stage tasks and the provider end."""
        self.end = end
        for index, wiring in enumerate(self._stages):
            nursery.start_soon(_run_stage, self._context, *wiring, name=f"rtsession stage {index}")
        self.end.start(nursery)

    async def aclose(self) -> None:
        """Flush, then close the WebSocket: at most FLUSH_TIMEOUT + CLOSE_TIMEOUT seconds.

        Call shielded. Ends the stream toward the provider so the stages and the writer pass
        on what was accepted; stops the writer (after FLUSH_TIMEOUT if the chain does not
        end), then sends the close frame and waits for the server's (transport-bounded);
        then the fused stages' ``close`` runs, if it has not.
        """
        self._state.mark_closed(
            SessionClosedError("the session is closed", code=1000, closed_by="client")
        )
        self.hub.close()
        with trio.move_on_after(FLUSH_TIMEOUT):
            await self.end.finished.wait()
        self.end.stop()
        await self.end.aclose()
        for fusion in self._fusions:
            fusion.segment.close()


def _units(stages: tuple[Middleware, ...]) -> list[Stage | list[RelayMaker]]:
    """The stages as the pipeline runs them: task stages alone, consecutive fused stages'
    relays together."""
    units: list[Stage | list[RelayMaker]] = []
    for stage in stages:
        if not isinstance(stage, FusedStage):
            units.append(stage)
        elif units and isinstance(units[-1], list):
            units[-1].extend(stage.fuse())
        else:
            units.append(list(stage.fuse()))
    return units


def _clients(
    channel: trio.MemoryReceiveChannel[Upstream],
) -> trio.MemoryReceiveChannel[ClientMessage]:
    """A channel a task (stage or writer) receives client messages from: only a segment
    gets injected messages, and it takes them off before the next task."""
    return cast("trio.MemoryReceiveChannel[ClientMessage]", channel)


async def _run_stage(
    context: StageContext,
    stage: Stage,
    from_app: trio.MemoryReceiveChannel[ClientMessage] | ClientOut,
    to_provider: trio.MemorySendChannel[Upstream],
    from_provider: trio.MemoryReceiveChannel[ServerMessage],
    to_app: trio.MemorySendChannel[ServerMessage] | ServerIn,
) -> None:
    try:
        await stage.run(context, StageChannels(from_app, to_provider, from_provider, to_app))
    finally:  # closed however run ends, so shutdown propagates
        to_app.close()
        to_provider.close()


@asynccontextmanager
async def open_session(
    provider: Provider,
    options: SessionOptions | None = None,
    *,
    middleware: Iterable[Middleware] = (),
    transport: Transport | None = None,
    reconnect: Reconnect | None = None,
) -> AsyncIterator[Session]:
    """Connect to ``provider`` and hold a realtime session for the duration of the block.

    ::

        async with open_session(OpenAIRealtime(), SessionOptions(instructions="Be brief.")) as s:
            await s.send(messages.ResponseCreate())
            async for event in s:
                ...

    Inside, a nursery runs a reader task (frames to server messages), a writer task (client
    messages to frames; while the session runs, the only task that writes to the socket) and
    one task per middleware stage that is not fused (fused stages run inside those tasks,
    ``FusedStage``). Connection errors are raised before the block runs.

    Leaving the block, by its end, an exception or cancellation, closes the session: sends
    already accepted are flushed through the middleware (up to 1 s), the close frame (code
    1000) is sent and the server's awaited (up to 1 s more), then every task is cancelled;
    nothing outlives the block. Use ``trio.fail_after`` / ``move_on_after`` around it for
    deadlines.

    Args:
        provider: the service to connect to, e.g. ``OpenAIRealtime()``.
        options: if given, sent as ``SessionUpdate(session=options)`` right after connecting.
        middleware: stages between the app and the provider, task stages (``Stage``) and
            fused ones (``FusedStage``) mixed freely; the first is nearest the app.
        transport: how to open the WebSocket; default ``TrioWebsocketTransport``.
        reconnect: keep the session across connections (``Reconnect``): on the
            server's ``GoAway``, at the policy's ``max_connection_age``, and after a failure
            the policy retries, open a new connection (with backoff), continue the
            conversation on it (resumed by handle with a
            ``ResumableProvider``, else replayed from
            ``Session.conversation``, then the uncommitted input audio), and deliver
            one ``Reconnected``. ``None``: the first connection's close ends the session.
            See ``docs/reconnect.md``.

    Yields:
        The ``Session``.

    Raises:
        ConnectError: the connection could not be opened (``status_code`` for a rejected
            handshake, e.g. 401 for a bad API key).
        EncodeError: the provider cannot carry a setting in ``options``.
        SessionClosedError: the connection failed abnormally inside the transport.
        NotInTrioError: called outside a trio run (e.g. from asyncio).
        Exception: whatever the block or a middleware stage raised, unchanged. A single
            failure is raised alone, never wrapped in an ``ExceptionGroup``;
            ``KeyboardInterrupt`` passes through.
    """
    require_trio("open_session")
    stages = tuple(middleware)
    initial = options if options is not None else SessionOptions()
    request = provider.connect_request(initial.kind)
    state = SessionState(
        provider, initial, SessionMetadata.of(provider, request), request.redactor()
    )
    codec = provider.make_codec()
    transport = transport or TrioWebsocketTransport()
    body_error: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            connection = await transport.connect(nursery, request)
            pipeline = _Pipeline(codec, state, stages, nursery)
            inbox, outbox = pipeline.end_channels
            end = ProviderEnd(
                provider=provider,
                transport=transport,
                state=state,
                hub=pipeline.hub,
                connection=connection,
                codec=codec,
                inbox=inbox,
                outbox=outbox,
                reconnect=reconnect,
            )
            try:
                pipeline.start(nursery, end)
                services = (*stages, transport, provider, state.metadata)
                session = Session._create(state, pipeline.hub, pipeline.receive, services)
                if options is not None:
                    await session.update(options)
                yield session
            except BaseException as exc:
                body_error = exc
                raise
            finally:
                with trio.CancelScope(shield=True):
                    await pipeline.aclose()
                nursery.cancel_scope.cancel(reason="session closed")
    except BaseExceptionGroup as group:
        reraise(collapse(group, body_error))
