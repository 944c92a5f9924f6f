"""``FunctionInvocation``: runs the model's function calls as Python functions, beside the
stream, and answers every call."""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Literal, final

import attrs
import trio

from .._errors import ToolInvocationError
from ..messages import (
    ClientMessage,
    ConversationItemCreate,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    MessageItem,
    Response,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
    ResponseOutputItemDone,
    ServerMessage,
    SessionOptions,
    SessionUpdate,
    ToolCallCancellation,
)
from ..session import OpenResponses
from ..session._fused import FusedLink, FusedRelay, RelayMaker
from ._gate import ResponseGate
from ._tools import (
    Invoker,
    ToolApproval,
    ToolApprovalRequested,
    ToolCall,
    ToolFunction,
    ToolInvocationCompleted,
    ToolInvocationStarted,
    ToolResult,
    error_output,
)

__all__ = ["FunctionInvocation"]

_logger = logging.getLogger("rtsession.middleware")

_CANCELLED: Final = ToolResult("cancelled", error_output("The call was cancelled."))
_UNKNOWN: Final = "Unknown function {!r}."
_FAILURES: Final = frozenset({"failed", "invalid_arguments", "unknown_tool", "timed_out"})
_OVER_LIMIT: Final = ToolResult(
    "over_limit",
    error_output("Too many tool calls in this turn; answer the user without calling tools."),
)


@final
class FunctionInvocation:
    """A stage that runs the model's function calls as Python functions and answers them.

    ::

        async def get_weather(city: str) -> str:
            \"\"\"The weather in a city right now.\"\"\"
            ...

        middleware = [FunctionInvocation([get_weather], call_deadline=10)]

    **Advertising.** The tools are added to the first ``SessionUpdate`` that goes toward the
    provider (e.g. the one ``open_session(provider, options)`` sends), merged with the app's
    tools: an app ``FunctionTool`` with the same name as one of these is replaced. If the app
    sends something else first, the stage sends ``SessionUpdate`` with just the tools before
    it. Later updates that set ``tools`` get these added again; ``tools=None`` (unchanged)
    passes as is. Transcription sessions get no tools. ``ResponseCreate.tools`` (a
    per-response tool list) is left alone.

    **Invocation.** Every server message reaches the app first. Then, for each
    ``ResponseOutputItemDone`` carrying a ``FunctionCallItem``, the stage sends the app a
    ``ToolInvocationStarted`` and runs the tool in a child task (sync tools in a worker
    thread), so audio, transcripts and interruptions keep flowing while it runs; the app
    gets a ``ToolInvocationCompleted`` when its answer is ready. When the response's
    ``ResponseDone`` has arrived and every one of its calls is answered, the stage sends one
    ``ConversationItemCreate(FunctionCallOutputItem)`` per call, in call order, then one
    ``ResponseCreate`` so the model goes on. It sends no ``ResponseCreate`` when the response
    did not complete (cancelled, failed, incomplete), when the provider cancelled one of its
    calls, or when the turn's round trips are used up.

    **Cancellation.** When the response ends ``cancelled`` (barge-in, ``ResponseCancel``) its
    calls still running are cancelled and answered ``{"error": "The call was cancelled."}``, so
    no call is ever left unanswered. A ``ToolCallCancellation`` (Gemini's, or the session's
    when it moved to a connection that does not know the call) cancels the calls it names and
    they get no answer: the provider no longer knows them, and an answer would be refused.
    Either way the app sees ``ToolInvocationCompleted`` with outcome ``"cancelled"``. A tool's
    side effects are not undone: a call cancelled after its tool ran has still run. A sync
    tool's thread cannot be stopped: it is abandoned and its result discarded.

    **Round trips per turn.** A round trip is one ``ResponseCreate`` the stage sends after
    answering calls. A user turn starts with ``InputAudioBufferSpeechStarted`` or
    ``InputAudioBufferCommitted`` from the provider, or a user ``MessageItem`` the app adds with
    ``ConversationItemCreate``; that resets the count. Calls of a response beyond the limit
    are not run: they are answered with an error telling the model to answer without tools,
    and no ``ResponseCreate`` follows.

    **Responses one at a time.** By default a ``ResponseGate`` runs on the stage's
    provider side, so its ``ResponseCreate`` (and the app's) waits while a response, e.g. one
    server VAD started, is in progress.

    Args:
        tools: plain functions (sync or ``async``), or ``ToolFunction`` for a custom
            name or description.
        max_concurrency: at most this many tools run at once in a session; ``None`` means
            no limit. Calls over the limit wait for a slot.
        call_deadline: seconds within which each call must be answered, counted from the
            ``ResponseOutputItemDone`` (time waiting for a slot included); a call still
            running then is cancelled and answered
            ``{"error": "The function did not finish within N seconds."}``. ``None``: no
            deadline.
        max_round_trips: the most ``ResponseCreate`` the stage sends per user turn (>= 1).
        detailed_errors: tell the model the type and message of an exception a tool raises;
            by default it gets ``{"error": "The function failed."}``. Either way the
            exception is logged (``logging`` name ``rtsession.middleware``) and reaches the
            app on ``ToolInvocationCompleted``.
        unknown_tools: a call of a function that is neither in ``tools`` nor declared in the
            session's options (a function declared there but not given here is always the
            app's: it answers it, as with ``"app"``): ``"error"`` answers it with
            ``{"error": "Unknown function 'name'."}``; ``"app"`` leaves it to the app,
            which answers with ``ConversationItemCreate(FunctionCallOutputItem)`` and no
            ``ResponseCreate``: the stage sends that once every call of the response is
            answered (it stops waiting for the app if the response is cancelled);
            ``"end_turn"`` ends the turn there (MEAI's ``TerminateOnUnknownCalls``): the
            stage answers the response's other calls but sends no ``ResponseCreate``, and
            leaves the unknown call to the app.
        max_consecutive_errors: the most model round trips in a row, within one user turn,
            whose calls include a failure (a tool raised, timed out, got invalid arguments,
            or an unknown function was answered with an error). One more ends the session
            with ``ToolInvocationError`` from ``open_session``, caused by the last exception
            a tool raised (MEAI's ``MaximumConsecutiveErrorsPerRequest``, default 3).
            ``None``: no limit.
        invoker: wraps every call the stage runs, e.g. to check authorisation, add
            arguments the model does not give (dependency injection) or trace: ``async def
            invoker(call: ToolCall, proceed) -> object``, where ``await proceed(**extra)``
            runs the tool; what it returns is the model's answer, what it raises a failure.
        gate: run a ``ResponseGate`` on the provider side of this stage.

    Raises:
        TypeError: a tool has no usable name or an undescribable signature (see
            ``ToolFunction``).
        ValueError: two tools with the same name, or an option out of range.
    """

    __slots__ = ("_gate", "_settings")

    serves = (ToolApproval,)
    """The client message this stage consumes: the app's answers to approval requests."""

    def __init__(
        self,
        tools: Iterable[Callable[..., Any] | ToolFunction],
        *,
        max_concurrency: int | None = None,
        call_deadline: float | None = None,
        max_round_trips: int = 10,
        detailed_errors: bool = False,
        unknown_tools: Literal["error", "app", "end_turn"] = "error",
        max_consecutive_errors: int | None = 3,
        invoker: Invoker | None = None,
        gate: bool = True,
    ) -> None:
        self._settings = _Settings(
            tools=_by_name(tools),
            max_concurrency=max_concurrency,
            call_deadline=call_deadline,
            max_round_trips=max_round_trips,
            detailed_errors=detailed_errors,
            unknown_tools=unknown_tools,
            max_consecutive_errors=max_consecutive_errors,
            invoker=invoker,
        )
        self._gate = gate

    @property
    def function_tools(self) -> tuple[FunctionTool, ...]:
        """What the stage advertises, one ``FunctionTool`` per tool."""
        return self._settings.function_tools

    def fuse(self) -> Sequence[RelayMaker]:
        """Per session, the calls' relay and, with ``gate``, a ``ResponseGate``'s on its
        provider side (``FusedStage``); tools run in child tasks."""
        invocations = functools.partial(_Invocations, self._settings)
        return (invocations, *ResponseGate().fuse()) if self._gate else (invocations,)


def _by_name(tools: Iterable[Callable[..., Any] | ToolFunction]) -> dict[str, ToolFunction]:
    by_name: dict[str, ToolFunction] = {}
    for tool in tools:
        function = tool if isinstance(tool, ToolFunction) else ToolFunction(tool)
        if function.name in by_name:
            raise ValueError(f"two tools are named {function.name!r}")
        by_name[function.name] = function
    return by_name


def _at_least(minimum: float, *, optional: bool) -> Callable[[Any, Any, Any], None]:
    def check(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
        if value is None and optional:
            return
        if value is None or not value >= minimum:
            raise ValueError(f"{attribute.name} must be at least {minimum}, not {value!r}")

    return check


@attrs.frozen(kw_only=True)
class _Settings:
    """A ``FunctionInvocation``'s configuration, shared by its sessions."""

    tools: dict[str, ToolFunction]
    max_concurrency: int | None = attrs.field(validator=_at_least(1, optional=True))
    call_deadline: float | None = attrs.field(validator=_at_least(0, optional=True))
    max_round_trips: int = attrs.field(validator=_at_least(1, optional=False))
    detailed_errors: bool
    unknown_tools: Literal["error", "app", "end_turn"] = attrs.field(
        validator=attrs.validators.in_(("error", "app", "end_turn"))
    )
    max_consecutive_errors: int | None = attrs.field(validator=_at_least(0, optional=True))
    invoker: Invoker | None = None
    function_tools: tuple[FunctionTool, ...] = attrs.field(init=False)

    @function_tools.default
    def _function_tools(self) -> tuple[FunctionTool, ...]:
        return tuple(tool.function_tool for tool in self.tools.values())


@attrs.define(eq=False)
class _Call:
    """One function call the stage answers (or waits for the app to answer)."""

    name: str
    call_id: str
    response_id: str
    started: float
    by_app: bool = False
    scope: trio.CancelScope = attrs.Factory(trio.CancelScope)
    output: str | None = None
    answered: bool = False
    void: bool = False  # the provider cancelled it: it must get no answer


@attrs.define(eq=False)
class _Response:
    """The calls of one response and whether the model should go on after them."""

    calls: list[_Call] = attrs.Factory(list)
    done: bool = False
    go_on: bool = True
    over_limit: bool = False
    failed: bool = False  # a call of it failed (for max_consecutive_errors)
    error: Exception | None = None  # the last exception a tool of it raised


_CLIENT_KINDS: Final = frozenset(
    {ToolApproval, SessionUpdate, ResponseCreate, ConversationItemCreate}
)
"""The client messages the stage looks at (once the tools are advertised)."""


class _Invocations(FusedRelay):
    """One session's calls."""

    def __init__(self, settings: _Settings, link: FusedLink) -> None:
        super().__init__(link)
        self._settings = settings
        self._limiter = trio.CapacityLimiter(settings.max_concurrency or math.inf)
        self._responses: dict[str, _Response] = {}
        self._open = OpenResponses()
        self._pending: dict[str, _Call] = {}  # by call_id, until answered
        self._round_trips = 0
        self._failing = 0  # round trips in a row, this turn, with a failed call
        self._approvals: dict[str, tuple[ToolFunction, _Call, str]] = {}  # by call_id
        self._advertised = False
        self._handlers: dict[type[ServerMessage], Callable[[ServerMessage], None]] = {
            ResponseOutputItemDone: self._item_done,
            ResponseCreated: self._response_created,
            ResponseDone: self._done,
            ToolCallCancellation: self._cancellation,
            InputAudioBufferSpeechStarted: self._new_turn,
            InputAudioBufferCommitted: self._new_turn,
        }

    # --- app side ------------------------------------------------------------------------------

    def client_message(self, message: ClientMessage) -> ClientMessage | None:
        if self._advertised and type(message) not in _CLIENT_KINDS:
            return message  # an append, most of the time: nothing to do
        if isinstance(message, ToolApproval):
            self._approval(message)
            return None
        if isinstance(message, SessionUpdate):
            message = self._advertise(message)
        elif not self._advertised:
            self._advertised = True
            if self.link.context.options.kind == "conversation":
                tools = self._settings.function_tools
                self.link.to_provider(SessionUpdate(session=SessionOptions(tools=tools)))
        if isinstance(message, ResponseCreate) and message.conversation == "none":
            self._open.requested_out_of_band()
        elif isinstance(message, ConversationItemCreate):
            item = message.item
            if isinstance(item, MessageItem) and item.role == "user":
                self._new_turn()
            elif isinstance(item, FunctionCallOutputItem):
                call = self._pending.get(item.call_id)
                if call is not None and call.by_app:
                    self.link.to_provider(message)  # before the outputs it may complete
                    self._answered(call, None)
                    return None
        return message

    def _advertise(self, update: SessionUpdate) -> SessionUpdate:
        first, self._advertised = not self._advertised, True
        options = update.session
        if options.kind != "conversation" or (options.tools is None and not first):
            return update
        ours = self._settings.tools
        kept = tuple(
            tool
            for tool in options.tools or ()
            if not (isinstance(tool, FunctionTool) and tool.name in ours)
        )
        tools = kept + self._settings.function_tools
        return attrs.evolve(update, session=attrs.evolve(options, tools=tools))

    # --- provider side -------------------------------------------------------------------------

    def server_message(self, message: ServerMessage) -> ServerMessage | None:
        handle = self._handlers.get(type(message))
        if handle is None:
            return message
        self.link.to_app(message)  # before the events it leads to
        handle(message)
        return None

    def _item_done(self, message: ServerMessage) -> None:
        assert isinstance(message, ResponseOutputItemDone)
        if isinstance(message.item, FunctionCallItem):
            self._take(message.response_id, message.item)

    def _response_created(self, message: ServerMessage) -> None:
        assert isinstance(message, ResponseCreated)
        for superseded in self._open.created(message.response.id):
            # Its ResponseDone was lost: answer its calls, do not go on after them.
            self._response_done(Response(id=superseded, status="incomplete"))

    def _done(self, message: ServerMessage) -> None:
        assert isinstance(message, ResponseDone)
        self._open.done(message.response.id)
        self._response_done(message.response)

    def _cancellation(self, message: ServerMessage) -> None:
        assert isinstance(message, ToolCallCancellation)
        self._cancel_calls(message.call_ids)

    def _new_turn(self, _: object = None) -> None:
        self._round_trips = 0
        self._failing = 0

    def _take(self, response_id: str, item: FunctionCallItem) -> None:
        if item.call_id is None or item.call_id in self._pending:
            _logger.warning("function call %s has no call_id, or a repeated one", item.id)
            return
        response = self._responses.get(response_id)
        if response is None:
            response = self._responses[response_id] = _Response(
                over_limit=self._round_trips >= self._settings.max_round_trips
            )
        tool = self._settings.tools.get(item.name)
        declared = tool is None and item.name in self._declared()
        unknown = self._settings.unknown_tools if tool is None and not declared else None
        call = _Call(
            name=item.name,
            call_id=item.call_id,
            response_id=response_id,
            started=trio.current_time(),
            by_app=declared or unknown == "app",
        )
        response.calls.append(call)
        self._pending[call.call_id] = call
        if call.by_app:
            return
        if unknown == "end_turn":
            _logger.info("the model called an unknown function %r: the turn ends", call.name)
            response.go_on = False
            self._answered(call, None)  # the app's to answer, or not
            return
        self.link.to_app(
            ToolInvocationStarted(
                name=call.name,
                call_id=call.call_id,
                response_id=response_id,
                arguments=item.arguments,
            )
        )
        if response.over_limit:
            response.go_on = False
            self._answered(call, _OVER_LIMIT)
        elif tool is None:
            _logger.warning("the model called an unknown function %r", call.name)
            self._answered(
                call, ToolResult("unknown_tool", error_output(_UNKNOWN.format(call.name)))
            )
        elif tool.requires_approval:
            self._approvals[call.call_id] = (tool, call, item.arguments)
            self.link.to_app(
                ToolApprovalRequested(
                    name=call.name,
                    call_id=call.call_id,
                    response_id=response_id,
                    arguments=item.arguments,
                )
            )
        else:
            self.link.nursery.start_soon(self._invoke, tool, call, item.arguments)

    def _approval(self, answer: ToolApproval) -> None:
        waiting = self._approvals.pop(answer.call_id, None)
        if waiting is None:
            _logger.warning("ToolApproval for %s: no call waits for approval", answer.call_id)
            return
        tool, call, arguments = waiting
        if answer.approved:
            self.link.nursery.start_soon(self._invoke, tool, call, arguments)
            return
        why = f": {answer.reason}" if answer.reason else ""
        self._answered(call, ToolResult("rejected", error_output(f"The call was rejected{why}.")))

    def _declared(self) -> set[str]:
        """The functions the session's options declare (the app's and this stage's)."""
        tools = self.link.context.options.tools or ()
        return {tool.name for tool in tools if isinstance(tool, FunctionTool)}

    async def _invoke(self, tool: ToolFunction, call: _Call, arguments: str) -> None:
        deadline = self._settings.call_deadline
        result: ToolResult | None = None
        with (
            call.scope,
            trio.move_on_at(call.started + (math.inf if deadline is None else deadline)),
        ):
            async with self._limiter:
                result = await tool.invoke(
                    arguments,
                    detailed_errors=self._settings.detailed_errors,
                    invoker=self._settings.invoker,
                    call=ToolCall(
                        name=call.name,
                        call_id=call.call_id,
                        response_id=call.response_id,
                        arguments=arguments,
                    ),
                )
        if result is None and call.scope.cancel_called:
            result = _CANCELLED
        elif result is None:
            _logger.warning("tool %s did not finish within %s s", call.name, deadline)
            text = f"The function did not finish within {deadline:g} seconds."
            result = ToolResult("timed_out", error_output(text))
        await self.link.run_sync(self._answered, call, result)

    def _response_done(self, done: Response) -> None:
        response = None if done.id is None else self._responses.get(done.id)
        if response is None or done.id is None:
            return
        response.done = True
        if done.status not in (None, "completed"):
            response.go_on = False
        if done.status == "cancelled":
            for call in response.calls:
                self._cancel(call, "the response was cancelled")
                if self._approvals.pop(call.call_id, None) is not None:
                    self._answered(call, _CANCELLED)  # no approval needed any more
        self._flush_if_answered(done.id)

    def _cancel_calls(self, call_ids: Iterable[str]) -> None:
        for call_id in call_ids:
            call = self._pending.get(call_id)
            if call is not None:
                self._responses[call.response_id].go_on = False
                call.void = True
                self._cancel(call, "the provider cancelled the call")
                self._flush_if_answered(call.response_id)

    def _cancel(self, call: _Call, reason: str) -> None:
        """Stop a call: a running tool is cancelled (its task answers it); one left to the
        app is no longer waited for."""
        if call.by_app and not call.answered:
            call.answered = True
            del self._pending[call.call_id]
        call.scope.cancel(reason=reason)

    def _answered(self, call: _Call, result: ToolResult | None) -> None:
        """Record the answer (``None``: the app's own), tell the app, flush if it was the
        response's last."""
        call.answered = True
        del self._pending[call.call_id]
        if result is not None:
            call.output = result.output
            if result.outcome in _FAILURES:
                response = self._responses[call.response_id]
                response.failed = True
                response.error = result.exception or response.error
            self.link.to_app(
                ToolInvocationCompleted(
                    name=call.name,
                    call_id=call.call_id,
                    response_id=call.response_id,
                    outcome=result.outcome,
                    duration=trio.current_time() - call.started,
                    output=result.output,
                    exception=result.exception,
                )
            )
        self._flush_if_answered(call.response_id)

    def _count_failures(self, response: _Response) -> None:
        """Count the round trips in a row whose calls failed; past the limit, end the
        session with the last error (MEAI's MaximumConsecutiveErrorsPerRequest)."""
        if not response.calls:
            return
        self._failing = self._failing + 1 if response.failed else 0
        limit = self._settings.max_consecutive_errors
        if limit is not None and self._failing > limit:
            raise ToolInvocationError(
                f"the tools failed in {self._failing} model round trips in a row "
                f"(max_consecutive_errors={limit})",
                failures=self._failing,
            ) from response.error

    def _flush_if_answered(self, response_id: str) -> None:
        """Once the response is done and all its calls answered, send the outputs and maybe a
        ``ResponseCreate``. The check and the removal have no await between them, so a
        response is flushed once even when its last call and its ``ResponseDone`` race."""
        response = self._responses.get(response_id)
        if response is None or not response.done or not all(c.answered for c in response.calls):
            return
        del self._responses[response_id]
        self._count_failures(response)
        for call in response.calls:
            if call.output is not None and not call.void:
                output = FunctionCallOutputItem(call_id=call.call_id, output=call.output)
                self.link.to_provider(ConversationItemCreate(item=output))
        if response.go_on:
            self._round_trips += 1
            self.link.to_provider(ResponseCreate())
