"""Tools: plain Python functions described, validated and called through pydantic, and the
events that report their invocations to the app."""

from __future__ import annotations

import functools
import inspect
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal, TypeAlias, cast, final

import attrs
import pydantic
import pydantic_core
import trio

from ..messages import ClientMessage, FunctionTool, ServerMessage

__all__ = [
    "Invoker",
    "ToolApproval",
    "ToolApprovalRequested",
    "ToolCall",
    "ToolFunction",
    "ToolInvocationCompleted",
    "ToolInvocationStarted",
    "ToolOutcome",
    "ToolResult",
    "error_output",
]

_logger = logging.getLogger("rtsession.middleware")

_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""The function names OpenAI and Gemini accept."""

ToolOutcome: TypeAlias = Literal[
    "succeeded",
    "failed",
    "invalid_arguments",
    "unknown_tool",
    "timed_out",
    "cancelled",
    "over_limit",
    "rejected",
]
"""How a function call ended: the tool returned; it raised; the model's arguments did not
validate; no tool has that name; the per-call deadline passed; the response was cancelled or
the provider cancelled the call; the turn's round-trip limit was reached (not run); the app
rejected a call that needed its approval (not run)."""


def error_output(text: str) -> str:
    """The ``function_call_output`` the model gets for a call that has no result:
    ``{"error": text}`` as JSON."""
    return pydantic_core.to_json({"error": text}).decode()


@attrs.frozen
class ToolResult:
    """What one invocation produced.

    Attributes:
        outcome: how it ended.
        output: the ``function_call_output`` text for the model.
        exception: what the tool raised (``failed`` only).
    """

    outcome: ToolOutcome
    output: str
    exception: Exception | None = None


@final
class ToolFunction:
    """A plain Python function offered to the model as a function tool.

    The name, description and parameter schema come from the function; pydantic
    (``TypeAdapter``) builds the JSON schema from its signature and type hints, and validates
    and converts the model's arguments before each call. Describe parameters in the
    docstring (it is the description, whole) or with
    ``Annotated[int, pydantic.Field(ge=1, description="...")]``, which lands in the schema.

    Args:
        function: a sync or ``async def`` function (or method, or ``functools.partial``);
            parameters must be passable by keyword (no ``*args`` / ``**kwargs``), with type
            hints pydantic understands; unannotated parameters accept any JSON value.
        name: the name the model calls it by; default ``function.__name__``.
        description: what it does, for the model; default the docstring of a function or
            method (``inspect.getdoc``), else none.
        requires_approval: ``FunctionInvocation`` asks the app before each call
            (``ToolApprovalRequested``) and runs it only once the app approves
            (``ToolApproval``); a rejected call answers the model with the app's reason.

    Raises:
        TypeError: no usable name (a ``functools.partial`` needs ``name=``), a name other than
            1 to 64 letters, digits, ``_`` or ``-``, or a signature pydantic cannot describe.
    """

    __slots__ = (
        "_adapter",
        "_function",
        "_is_async",
        "description",
        "name",
        "parameters",
        "requires_approval",
    )

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        requires_approval: bool = False,
    ) -> None:
        name = name if name is not None else getattr(function, "__name__", None)
        if name is None or not _NAME.fullmatch(name):
            raise TypeError(
                f"tool name {name!r}: give 1 to 64 letters, digits, '_' or '-' (name=...)"
            )
        if description is None and inspect.isroutine(function):
            description = inspect.getdoc(function)
        self.name: str = name
        self.description = description
        self.requires_approval = requires_approval
        self._function = function
        self._is_async = inspect.iscoroutinefunction(function)
        try:
            # A function is a valid TypeAdapter type (a "call" schema); the stubs lack it.
            self._adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(
                cast(Any, _bound_arguments(function))
            )
            self.parameters: dict[str, Any] = self._adapter.json_schema()
        except pydantic.PydanticUserError as exc:
            raise TypeError(f"tool {name!r}: {exc}") from exc

    def __repr__(self) -> str:
        return f"ToolFunction({self._function!r}, name={self.name!r})"

    @property
    def function_tool(self) -> FunctionTool:
        """How the session options advertise it (a GA ``tools[]`` entry)."""
        return FunctionTool(
            name=self.name, description=self.description, parameters=self.parameters
        )

    async def invoke(
        self,
        arguments: str,
        *,
        detailed_errors: bool,
        invoker: Invoker | None = None,
        call: ToolCall | None = None,
    ) -> ToolResult:
        """Validate ``arguments`` (the model's JSON string), call the function (through
        ``invoker``, if given, with ``call``), and turn what happens into a result for the
        model.

        A sync function runs in a worker thread (``trio.to_thread.run_sync``), so it never
        blocks the session; if the call is cancelled, the thread is abandoned and its result
        discarded. A return value that is not a ``str`` is sent as JSON (pydantic's
        ``to_json``: models, dataclasses, dates and so on work).

        Args:
            arguments: the call's ``arguments`` JSON; empty means no arguments.
            detailed_errors: give the model the exception's type and message when the
                function raises; otherwise a generic message. The model always learns what
                was wrong with its arguments (the message describes only its own input).
            invoker: wraps the call (see ``FunctionInvocation``'s ``invoker``).
            call: what the invoker is told about the call.

        Returns:
            ``succeeded``, ``failed`` or ``invalid_arguments``; the exception is logged under
            ``rtsession.middleware``.
        """
        try:
            args, kwargs = self._adapter.validate_json(arguments.strip() or "{}")
        except pydantic.ValidationError as exc:
            await trio.lowlevel.checkpoint()
            problems = _describe(exc)  # without the values: they may be the user's data
            _logger.warning("tool %s: %s", self.name, problems)
            return ToolResult("invalid_arguments", error_output(problems))

        async def proceed(**extra: Any) -> Any:
            bound = functools.partial(self._function, *args, **{**kwargs, **extra})
            if self._is_async:
                return await bound()
            return await trio.to_thread.run_sync(bound, abandon_on_cancel=True)

        try:
            if invoker is None or call is None:
                value = await proceed()
            else:
                value = await invoker(call, proceed)
            output = value if isinstance(value, str) else pydantic_core.to_json(value).decode()
        except Exception as exc:
            _logger.exception("tool %s raised", self.name)
            text = f"{type(exc).__name__}: {exc}" if detailed_errors else "The function failed."
            return ToolResult("failed", error_output(text), exc)
        return ToolResult("succeeded", output)


def _bound_arguments(function: Callable[..., Any]) -> Callable[..., Any]:
    """A stand-in with ``function``'s signature and type hints that returns the validated
    ``(args, kwargs)`` instead of calling it, so pydantic validates without calling, and the
    call itself can run elsewhere (a worker thread, a cancel scope).

    pydantic reads the signature through ``__wrapped__`` (so a ``functools.partial`` shows
    only its remaining parameters) and the type hints from ``__annotations__``, resolving
    string annotations in ``__module__``; for a partial, both come from the function inside.
    """

    def bind(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return args, kwargs

    bind.__annotations__ = {}  # never the stand-in's own
    functools.update_wrapper(bind, function)
    if isinstance(function, functools.partial):
        bind.__annotations__ = dict(function.func.__annotations__)
        bind.__module__ = function.func.__module__
    return bind


def _describe(exc: pydantic.ValidationError) -> str:
    """``"Invalid arguments: days: Input should be ...; city: Field required"``."""
    problems = (
        f"{'.'.join(map(str, error['loc']))}: {error['msg']}" if error["loc"] else error["msg"]
        for error in exc.errors(include_url=False, include_input=False)
    )
    return "Invalid arguments: " + "; ".join(problems)


@attrs.frozen(kw_only=True)
class ToolInvocationStarted(ServerMessage):
    """``FunctionInvocation`` took up a function call (delivered to the app, never sent).

    Attributes:
        name: the function name the model called.
        call_id: the call's ``call_id``.
        response_id: the response the call belongs to.
        arguments: the model's JSON arguments, as received.
    """

    name: str
    call_id: str
    response_id: str
    arguments: str


@attrs.frozen(kw_only=True)
class ToolCall:
    """A call an ``invoker`` of ``FunctionInvocation`` wraps.

    Attributes:
        name: the function name the model called.
        call_id: the call's ``call_id``.
        response_id: the response the call belongs to.
        arguments: the model's JSON arguments, as received (already validated).
    """

    name: str
    call_id: str
    response_id: str
    arguments: str


Invoker: TypeAlias = Callable[[ToolCall, Callable[..., Awaitable[Any]]], Awaitable[Any]]
"""``async def invoker(call, proceed)``: wraps every call ``FunctionInvocation`` runs (MEAI's
``FunctionInvoker``). ``await proceed(**extra)`` runs the tool with the model's validated
arguments, ``extra`` keyword arguments added or replacing them (dependency injection), and
returns its value; the
invoker returns what the model gets (a ``str``, or a value sent as JSON), or raises (a failed
call, as when a tool raises)."""


@attrs.frozen(kw_only=True)
class ToolApprovalRequested(ServerMessage):
    """``FunctionInvocation`` waits for the app to approve a call of a tool that requires it
    (delivered to the app, never sent): answer with ``ToolApproval``.

    Attributes:
        name: the function name the model called.
        call_id: the call's ``call_id``, to name in the ``ToolApproval``.
        response_id: the response the call belongs to.
        arguments: the model's JSON arguments, as received.
    """

    name: str
    call_id: str
    response_id: str
    arguments: str


@attrs.frozen(kw_only=True)
class ToolApproval(ClientMessage):
    """The app's answer to ``ToolApprovalRequested``: ``session.send(ToolApproval(...))``.
    ``FunctionInvocation`` consumes it (it never reaches the provider).

    Attributes:
        call_id: the call approved or rejected.
        approved: run it (``True``), or answer the model that it was rejected.
        reason: why it was rejected, for the model (``{"error": "The call was rejected:
            <reason>"}``).
    """

    call_id: str
    approved: bool
    reason: str | None = None


@attrs.frozen(kw_only=True)
class ToolInvocationCompleted(ServerMessage):
    """``FunctionInvocation`` has the answer to a function call (delivered to the app, never
    sent).

    Attributes:
        name: the function name the model called.
        call_id: the call's ``call_id``.
        response_id: the response the call belongs to.
        outcome: how the call ended.
        duration: seconds from ``ToolInvocationStarted`` to now (``trio.current_time``).
        output: the ``function_call_output`` text the model gets.
        exception: what the tool raised (``failed`` only), whatever the model was told.
    """

    name: str
    call_id: str
    response_id: str
    outcome: ToolOutcome
    duration: float
    output: str
    exception: Exception | None = attrs.field(default=None, eq=False)
