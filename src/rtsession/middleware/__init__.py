"""Middleware: stages between the app and the provider, and the toolkit to write them.

- ``FunctionInvocation`` runs the model's function calls as Python functions (with
  ``ToolFunction``, ``ToolInvocationStarted``, ``ToolInvocationCompleted``).
- ``ResponseGate`` keeps one response in progress at a time.
- ``BargeIn`` silences a reply the user talks over and truncates it at what was heard
  (``docs/voice-agent.md``).
- ``Logging`` and ``OpenTelemetry`` observe every message (``docs/observability.md``).
  Recording a connection is a transport's job (``rtsession.transport.RecordingTransport``),
  replaying it a test's (``rtsession.testing.ReplayTransport``).
- ``observe`` turns plain callbacks into an observing stage. ``FusedRelay`` is the base for
  stages whose per-message work is synchronous (``FusedStage``: run inside the session's
  tasks, no task hop); ``Relay`` and ``run_relay`` for stages that need a task of their own
  (``Stage``). Both forward what they do not consume.

See ``docs/middleware.md``.
"""

from .._public import publish
from ..session._fused import (
    FusedLink as FusedLink,
    FusedRelay as FusedRelay,
    FusedStage as FusedStage,
    Middleware as Middleware,
    RelayMaker as RelayMaker,
)
from ..session._stage import (
    Stage as Stage,
    StageChannels as StageChannels,
    StageContext as StageContext,
)
from ._barge_in import BargeIn as BargeIn
from ._function_invocation import FunctionInvocation as FunctionInvocation
from ._gate import ResponseGate as ResponseGate
from ._logging import Logging as Logging
from ._otel import OpenTelemetry as OpenTelemetry
from ._stage_kit import (
    Link as Link,
    Relay as Relay,
    observe as observe,
    run_relay as run_relay,
)
from ._tools import (
    Invoker as Invoker,
    ToolApproval as ToolApproval,
    ToolApprovalRequested as ToolApprovalRequested,
    ToolCall as ToolCall,
    ToolFunction as ToolFunction,
    ToolInvocationCompleted as ToolInvocationCompleted,
    ToolInvocationStarted as ToolInvocationStarted,
    ToolOutcome as ToolOutcome,
)

__all__ = [
    "BargeIn",
    "FunctionInvocation",
    "FusedLink",
    "FusedRelay",
    "FusedStage",
    "Invoker",
    "Link",
    "Logging",
    "Middleware",
    "OpenTelemetry",
    "Relay",
    "RelayMaker",
    "ResponseGate",
    "Stage",
    "StageChannels",
    "StageContext",
    "ToolApproval",
    "ToolApprovalRequested",
    "ToolCall",
    "ToolFunction",
    "ToolInvocationCompleted",
    "ToolInvocationStarted",
    "ToolOutcome",
    "observe",
    "run_relay",
]

publish(__name__, globals())
del publish
