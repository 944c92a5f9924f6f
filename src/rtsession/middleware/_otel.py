"""The ``OpenTelemetry`` stage: GenAI semantic-convention spans and metrics for a session.

``opentelemetry-api`` is an optional dependency (the ``otel`` extra); it is imported when the
stage is constructed, never when this module is, so ``import rtsession.middleware`` works
without it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Final, final

import attrs
import orjson
import trio

from ..messages import (
    JSON,
    ClientMessage,
    ConversationItem,
    ConversationItemCreate,
    ConversationItemInputAudioTranscriptionCompleted,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    InputAudio,
    InputAudioBufferSpeechStopped,
    InputText,
    MessageItem,
    OutputAudio,
    OutputText,
    Response,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseOutputAudioDelta,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputItemDone,
    ResponseOutputTextDelta,
    ServerMessage,
    Tool,
    ToolCallCancellation,
    Usage,
    UsageMetadata,
)
from ..session import OpenResponses
from ..session._fused import FusedLink, FusedRelay, RelayMaker

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter, MeterProvider
    from opentelemetry.trace import Span, Tracer, TracerProvider
    from opentelemetry.util.types import AttributeValue

__all__ = ["CAPTURE_CONTENT_ENV", "OpenTelemetry", "SPEECH_END_TO_FIRST_AUDIO"]

CAPTURE_CONTENT_ENV: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The environment variable that turns content capture on (``true``) when the stage is not
told either way, as in other GenAI instrumentations."""

SPEECH_END_TO_FIRST_AUDIO: Final = "rtsession.speech_end_to_first_audio"
"""The histogram of seconds from the end of the user's speech to the first audio of the
answer. Semantic conventions have no such metric, hence the ``rtsession.`` namespace."""

_OPERATION: Final = "chat"
"""``gen_ai.operation.name`` of a response. The GenAI conventions have no realtime operation
and say to use the applicable predefined value; MEAI makes the same choice."""

_DURATION_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
"""Seconds; the boundaries the GenAI conventions advise for durations."""

_TOKEN_BUCKETS: Final = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
"""Tokens; the boundaries the GenAI conventions advise for ``gen_ai.client.token.usage``."""

_SESSION_CLOSED: Final = "session_closed"
"""``error.type`` of a response or tool call still open when the session ends."""
_CLOSED_ERROR: Final = "rtsession.SessionClosedError"
"""``error.type`` of what is open when the connection ends abnormally: the error the app's
``async for`` raises (a refused reconnection raises ``rtsession.ConnectError``)."""
_SUPERSEDED: Final = "response_done_lost"
"""``error.type`` of a response whose ``ResponseDone`` never came: the next conversation
response started (``rtsession.session.OpenResponses``)."""

_INSTALL_HINT: Final = "pip install '.[otel]' in a checkout"


def _content_from_env() -> bool:
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() == "true"


def _json(value: JSON) -> str:
    return orjson.dumps(value).decode()


@attrs.frozen
class _Stamp:
    """A moment on both clocks: wall time for span timestamps, trio's monotonic clock for
    durations (so metrics follow a ``MockClock`` in tests and never jump with NTP)."""

    wall_ns: int
    monotonic: float

    @classmethod
    def now(cls) -> _Stamp:
        return cls(time.time_ns(), trio.current_time())


@final
class _Instruments:
    """The stage's histograms, made once per stage from its meter."""

    __slots__ = ("first_chunk", "operation_duration", "speech_to_audio", "token_usage", "tool")

    def __init__(self, meter: Meter) -> None:
        self.operation_duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self.first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time from the request to the first chunk of the response.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.tool = meter.create_histogram(
            "gen_ai.execute_tool.duration",
            unit="s",
            description="The duration of a single tool execution.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.speech_to_audio = meter.create_histogram(
            SPEECH_END_TO_FIRST_AUDIO,
            unit="s",
            description=(
                "Time from the provider's end-of-speech event (input_audio_buffer.speech_stopped)"
                " to the first audio of the answer, measured at the client."
            ),
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )


@final
class OpenTelemetry:
    """A middleware stage that traces responses and tool calls and records GenAI metrics,
    following the OpenTelemetry GenAI semantic conventions.

    Spans:

    - one ``chat {model}`` span (kind ``CLIENT``) per response: from the app's
      ``ResponseCreate`` when one is pending, else from ``ResponseCreated``, to
      ``ResponseDone``. Attributes ``gen_ai.operation.name`` (``"chat"``: the conventions
      have no realtime operation), ``gen_ai.provider.name``, ``gen_ai.request.model``,
      ``server.address``, ``server.port``, ``gen_ai.request.max_tokens``,
      ``gen_ai.output.type`` (``speech`` / ``text``), Microsoft.Extensions.AI's
      ``gen_ai.realtime.session_kind``, ``.voice``, ``.output_modalities`` and
      ``.received_modalities`` (``audio``, ``text``, ``transcription``, ``item``, in order
      of arrival), ``gen_ai.tool.definitions`` (types and names; with content, descriptions
      and parameters too), ``gen_ai.response.id``, ``gen_ai.conversation.id``,
      ``gen_ai.response.finish_reasons`` (the response status),
      ``gen_ai.response.time_to_first_chunk`` (seconds) and ``gen_ai.usage.*`` token counts
      (input, output, cache read, and MEAI's ``input_text_tokens``, ``input_audio_tokens``,
      ``output_text_tokens``, ``output_audio_tokens``, plus ``input_image_tokens``).
      A ``failed`` response gets status ``ERROR`` and ``error.type`` (the provider's error
      code).
    - one ``execute_tool {name}`` span (kind ``INTERNAL``) per function call, a child of its
      response's span: from the ``ResponseOutputItemDone`` carrying the
      ``FunctionCallItem`` to the ``ConversationItemCreate`` carrying
      its ``FunctionCallOutputItem``, whoever sends it (the app or a
      function-invocation stage). ``gen_ai.tool.name``, ``gen_ai.tool.call.id``,
      ``gen_ai.tool.type`` (``function``). A ``ToolCallCancellation`` ends it with
      ``error.type = "cancelled"``.

    Spans still open when the session ends are ended with ``error.type = "session_closed"``
    after a normal end, or the name of the error the app's ``async for`` raises after an
    abnormal one (``rtsession.SessionClosedError``, ``rtsession.ConnectError``).
    They are children of the span current when ``open_session`` was entered.

    Metrics (histograms, attributes ``gen_ai.operation.name``, ``gen_ai.provider.name``,
    ``gen_ai.request.model``, ``server.address``, ``server.port``, plus ``error.type`` on
    failures):

    - ``gen_ai.client.operation.duration`` (s): each response, as its span;
    - ``gen_ai.client.token.usage`` (``{token}``) with ``gen_ai.token.type`` ``input`` /
      ``output``, and as MEAI ``input_text`` / ``input_audio`` / ``output_text`` /
      ``output_audio`` when reported: each ``ResponseDone`` and ``UsageMetadata`` with usage;
    - ``gen_ai.client.operation.time_to_first_chunk`` (s): span start to the first audio,
      text, transcript or function-argument delta;
    - ``gen_ai.execute_tool.duration`` (s): each tool span;
    - ``rtsession.speech_end_to_first_audio`` (s): from an ``InputAudioBufferSpeechStopped``
      to the next ``ResponseOutputAudioDelta``, as the client sees them (network latency to
      the speech-stopped event is not included).

    Durations use trio's clock (``trio.current_time()``), so they are monotonic and follow a
    ``MockClock``; span timestamps use the wall clock, as OpenTelemetry requires.

    Content (``gen_ai.system_instructions``, ``gen_ai.input.messages`` with the user's text,
    transcripts and tool results since the previous response, ``gen_ai.output.messages``
    with the response's text, transcripts and tool calls, ``gen_ai.tool.call.arguments`` and
    ``gen_ai.tool.call.result``) is recorded only when ``include_content`` is true. Audio is
    never recorded.

    Place it last in ``middleware=[...]`` (nearest the provider) so it also sees what other
    stages inject, e.g. the function outputs a function-invocation stage sends.

    Args:
        tracer_provider: where spans go; default the global tracer provider.
        meter_provider: where metrics go; default the global meter provider.
        include_content: record content attributes. ``None`` (the default) reads
            ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (``true`` turns it on).

    Raises:
        ModuleNotFoundError: ``opentelemetry-api`` is not installed
            (``pip install '.[otel]' in a checkout``).
    """

    __slots__ = ("_include_content", "_instruments", "_tracer")

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        include_content: bool | None = None,
    ) -> None:
        try:
            from opentelemetry import metrics, trace
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(
                f"the OpenTelemetry stage needs opentelemetry-api: {_INSTALL_HINT}",
                name=exc.name,
            ) from exc
        from .. import __version__

        self._tracer = trace.get_tracer("rtsession", __version__, tracer_provider)
        meter = metrics.get_meter("rtsession", __version__, meter_provider)
        self._instruments = _Instruments(meter)
        self._include_content = _content_from_env() if include_content is None else include_content

    def fuse(self) -> Sequence[RelayMaker]:
        """One relay per session that records and forwards every message (``FusedStage``)."""
        return (partial(_SessionTelemetry, self._tracer, self._instruments, self._include_content),)


_MODALITIES: Final[Mapping[type[ServerMessage], str]] = {
    ResponseOutputAudioDelta: "audio",
    ResponseOutputTextDelta: "text",
    ResponseOutputAudioTranscriptDelta: "transcription",
}
"""``gen_ai.realtime.received_modalities``: what a response delivered, as MEAI names it
(and ``item`` for each ``ResponseOutputItemDone``)."""


@attrs.define(eq=False)
class _OpenResponse:
    span: Span
    start: _Stamp
    first_chunk_seen: bool = False
    received: dict[str, None] = attrs.Factory(dict)  # modalities in order of arrival


@attrs.define(eq=False)
class _OpenTool:
    span: Span
    start: float
    name: str


@final
class _SessionTelemetry(FusedRelay):
    """One session's open spans and pending timings, fed every message."""

    def __init__(
        self, tracer: Tracer, instruments: _Instruments, content: bool, link: FusedLink
    ) -> None:
        super().__init__(link)
        context = link.context
        self._tracer = tracer
        self._instruments = instruments
        self._context = context
        self._content = _Content() if content else None
        metadata = context.metadata
        self._server: Mapping[str, AttributeValue] = {
            "server.address": metadata.server_address,
            "server.port": metadata.server_port,
        }
        self._metric_attributes: Mapping[str, AttributeValue] = {
            "gen_ai.operation.name": _OPERATION,
            "gen_ai.provider.name": context.provider_name,
            "gen_ai.request.model": context.model,
            **self._server,
        }
        self._requested: _Stamp | None = None  # a ResponseCreate not yet answered
        self._speech_stopped: float | None = None
        self._responses: dict[str | None, _OpenResponse] = {}
        self._open = OpenResponses()
        self._tools: dict[str, _OpenTool] = {}
        self._server_handlers: dict[type[ServerMessage], Callable[[ServerMessage], None]] = {
            ResponseOutputAudioDelta: self._audio_delta,
            ResponseOutputTextDelta: self._chunk,
            ResponseOutputAudioTranscriptDelta: self._chunk,
            ResponseFunctionCallArgumentsDelta: self._chunk,
            ResponseCreated: self._response_created,
            ResponseDone: self._response_done,
            ResponseOutputItemDone: self._output_item_done,
            InputAudioBufferSpeechStopped: self._speech_stopped_event,
            ToolCallCancellation: self._tool_cancellation,
            UsageMetadata: self._usage_metadata,
            ConversationItemInputAudioTranscriptionCompleted: self._transcription,
        }

    # --- the two directions --------------------------------------------------------------

    def client_message(self, message: ClientMessage) -> ClientMessage:
        if isinstance(message, ResponseCreate):
            if message.conversation == "none":
                self._open.requested_out_of_band()
            if self._requested is None:
                self._requested = _Stamp.now()
            if self._content is not None:
                self._content.instructions_override = message.instructions
        elif isinstance(message, ConversationItemCreate):
            if isinstance(message.item, FunctionCallOutputItem):
                self._end_tool(message.item)
            if self._content is not None:
                self._content.add_input(message.item)
        return message

    def server_message(self, message: ServerMessage) -> ServerMessage:
        handler = self._server_handlers.get(type(message))
        if handler is not None:
            handler(message)
        return message

    def close(self) -> None:
        """End what is still open (the session is over): ``session_closed`` after a normal
        end, else the name of the error the app's ``async for`` raised."""
        reason = self._context.close_reason
        error = _SESSION_CLOSED
        if reason is not None and not reason.normal:
            error = "rtsession.ConnectError" if reason.code is None else _CLOSED_ERROR
        for open_tool in self._tools.values():
            self._finish_tool(open_tool, error=error)
        self._tools.clear()
        self._abandon(tuple(self._responses), error, "the session ended")

    def _abandon(self, ids: tuple[str | None, ...], error: str, why: str) -> None:
        """End the spans of responses whose ``ResponseDone`` will not come, as failed."""
        now = _Stamp.now()
        for id in ids:
            open_response = self._responses.pop(id, None)
            if open_response is None:
                continue
            self._record_duration(open_response, now, error)
            _fail(open_response.span, error, f"{why} during the response")
            open_response.span.end(end_time=now.wall_ns)

    # --- responses -----------------------------------------------------------------------

    def _response_created(self, message: ServerMessage) -> None:
        assert isinstance(message, ResponseCreated)
        superseded = self._open.created(message.response.id)
        self._abandon(superseded, _SUPERSEDED, "the next response started")
        self._responses[message.response.id] = self._open_response()

    def _open_response(self) -> _OpenResponse:
        from opentelemetry.trace import SpanKind

        start, self._requested = self._requested or _Stamp.now(), None
        span = self._tracer.start_span(
            f"{_OPERATION} {self._context.model}",
            kind=SpanKind.CLIENT,
            attributes=self._request_attributes(),
            start_time=start.wall_ns,
        )
        return _OpenResponse(span, start)

    def _request_attributes(self) -> dict[str, AttributeValue]:
        options = self._context.options
        attributes: dict[str, AttributeValue] = dict(self._metric_attributes)
        attributes["gen_ai.realtime.session_kind"] = options.kind
        if isinstance(options.max_output_tokens, int):
            attributes["gen_ai.request.max_tokens"] = options.max_output_tokens
        if options.voice is not None:
            attributes["gen_ai.realtime.voice"] = options.voice
        if options.output_modalities is not None:
            speech = "audio" in options.output_modalities
            attributes["gen_ai.output.type"] = "speech" if speech else "text"
            attributes["gen_ai.realtime.output_modalities"] = options.output_modalities
        if options.tools:
            full = self._content is not None
            attributes["gen_ai.tool.definitions"] = _json(
                [_definition(t, full) for t in options.tools]
            )
        if self._content is not None:
            attributes.update(self._content.request_attributes(options.instructions))
        return attributes

    def _chunk(self, message: ServerMessage) -> None:
        open_response = self._responses.get(getattr(message, "response_id", None))
        if open_response is None:
            return
        modality = _MODALITIES.get(type(message))
        if modality is not None:
            open_response.received[modality] = None
        if open_response.first_chunk_seen:
            return
        open_response.first_chunk_seen = True
        seconds = trio.current_time() - open_response.start.monotonic
        open_response.span.set_attribute("gen_ai.response.time_to_first_chunk", seconds)
        self._instruments.first_chunk.record(seconds, self._metric_attributes)

    def _audio_delta(self, message: ServerMessage) -> None:
        if self._speech_stopped is not None:
            seconds = trio.current_time() - self._speech_stopped
            self._speech_stopped = None
            self._instruments.speech_to_audio.record(seconds, self._metric_attributes)
        self._chunk(message)

    def _speech_stopped_event(self, message: ServerMessage) -> None:
        self._speech_stopped = trio.current_time()

    def _response_done(self, message: ServerMessage) -> None:
        assert isinstance(message, ResponseDone)
        response = message.response
        self._open.done(response.id)
        open_response = self._responses.pop(response.id, None) or self._open_response()
        now = _Stamp.now()
        span = open_response.span
        span.set_attributes(_response_attributes(response))
        if open_response.received:
            received = tuple(open_response.received)
            span.set_attribute("gen_ai.realtime.received_modalities", received)
        error = _response_error(response)
        if error is not None:
            _fail(span, error, f"the response {response.status}")
        if self._content is not None:
            span.set_attribute("gen_ai.output.messages", _output_messages(response))
        span.end(end_time=now.wall_ns)
        self._record_duration(open_response, now, error)
        if response.usage is not None:
            self._record_tokens(response.usage)

    def _record_duration(
        self, open_response: _OpenResponse, now: _Stamp, error: str | None
    ) -> None:
        attributes = dict(self._metric_attributes)
        if error is not None:
            attributes["error.type"] = error
        seconds = now.monotonic - open_response.start.monotonic
        self._instruments.operation_duration.record(seconds, attributes)

    def _record_tokens(self, usage: Usage) -> None:
        for token_type, count in (
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("input_text", usage.input_text_tokens),
            ("input_audio", usage.input_audio_tokens),
            ("output_text", usage.output_text_tokens),
            ("output_audio", usage.output_audio_tokens),
        ):
            if count is not None:
                attributes = {**self._metric_attributes, "gen_ai.token.type": token_type}
                self._instruments.token_usage.record(count, attributes)

    def _usage_metadata(self, message: ServerMessage) -> None:
        assert isinstance(message, UsageMetadata)
        self._record_tokens(message.usage)

    def _transcription(self, message: ServerMessage) -> None:
        assert isinstance(message, ConversationItemInputAudioTranscriptionCompleted)
        if self._content is not None:
            self._content.add_transcript(message.transcript)

    # --- tool calls ----------------------------------------------------------------------

    def _output_item_done(self, message: ServerMessage) -> None:
        assert isinstance(message, ResponseOutputItemDone)
        open_response = self._responses.get(message.response_id)
        if open_response is not None:
            open_response.received["item"] = None
        item = message.item
        if not isinstance(item, FunctionCallItem) or item.call_id is None:
            return
        from opentelemetry import trace

        parent = self._responses.get(message.response_id)
        span = self._tracer.start_span(
            f"execute_tool {item.name}",
            context=trace.set_span_in_context(parent.span) if parent is not None else None,
            kind=trace.SpanKind.INTERNAL,
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.provider.name": self._context.provider_name,
                **self._server,
                "gen_ai.tool.name": item.name,
                "gen_ai.tool.call.id": item.call_id,
                "gen_ai.tool.type": "function",
            },
        )
        if self._content is not None:
            span.set_attribute("gen_ai.tool.call.arguments", item.arguments)
        self._tools[item.call_id] = _OpenTool(span, trio.current_time(), item.name)

    def _end_tool(self, output: FunctionCallOutputItem) -> None:
        open_tool = self._tools.pop(output.call_id, None)
        if open_tool is None:
            return
        if self._content is not None:
            open_tool.span.set_attribute("gen_ai.tool.call.result", output.output)
        self._finish_tool(open_tool, error=None)

    def _tool_cancellation(self, message: ServerMessage) -> None:
        assert isinstance(message, ToolCallCancellation)
        for call_id in message.call_ids:
            open_tool = self._tools.pop(call_id, None)
            if open_tool is not None:
                self._finish_tool(open_tool, error="cancelled")

    def _finish_tool(self, open_tool: _OpenTool, error: str | None) -> None:
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": open_tool.name,
        }
        if error is not None:
            attributes["error.type"] = error
            _fail(open_tool.span, error, f"the tool call ended: {error}")
        open_tool.span.end()
        seconds = trio.current_time() - open_tool.start
        self._instruments.tool.record(seconds, attributes)


def _definition(tool: Tool, full: bool) -> JSON:
    """A ``gen_ai.tool.definitions`` entry: type and name, and with ``full`` (content
    capture on) the description and parameters too, as MEAI records them."""
    if not isinstance(tool, FunctionTool):
        return {"type": "mcp", "name": tool.server_label}
    definition: dict[str, JSON] = {"type": "function", "name": tool.name}
    if full:
        if tool.description is not None:
            definition["description"] = tool.description
        if tool.parameters is not None:
            definition["parameters"] = tool.parameters
    return definition


def _fail(span: Span, error_type: str, description: str) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, description))


def _response_error(response: Response) -> str | None:
    """``error.type`` of a failed response, else ``None`` (``cancelled`` and ``incomplete``
    are outcomes the finish reason reports, not errors)."""
    if response.status != "failed":
        return None
    details = response.status_details
    if details is not None:
        return details.error_code or details.error_type or "failed"
    return "failed"


def _response_attributes(response: Response) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {}
    if response.id is not None:
        attributes["gen_ai.response.id"] = response.id
    if response.conversation_id is not None:
        attributes["gen_ai.conversation.id"] = response.conversation_id
    if response.status is not None:
        attributes["gen_ai.response.finish_reasons"] = (response.status,)
    usage = response.usage
    if usage is not None:
        counts = {
            "gen_ai.usage.input_tokens": usage.input_tokens,
            "gen_ai.usage.output_tokens": usage.output_tokens,
            "gen_ai.usage.cache_read.input_tokens": usage.cached_tokens,
            "gen_ai.usage.input_text_tokens": usage.input_text_tokens,
            "gen_ai.usage.input_audio_tokens": usage.input_audio_tokens,
            "gen_ai.usage.input_image_tokens": usage.input_image_tokens,
            "gen_ai.usage.output_text_tokens": usage.output_text_tokens,
            "gen_ai.usage.output_audio_tokens": usage.output_audio_tokens,
        }
        attributes.update({key: count for key, count in counts.items() if count is not None})
    return attributes


# --- content (opt-in) ------------------------------------------------------------------------


@final
class _Content:
    """What content capture keeps between responses: the input since the last response and
    a per-response instructions override."""

    __slots__ = ("_inputs", "instructions_override")

    def __init__(self) -> None:
        self._inputs: list[JSON] = []
        self.instructions_override: str | None = None

    def add_input(self, item: ConversationItem) -> None:
        if isinstance(item, FunctionCallOutputItem):
            part = {"type": "tool_call_response", "id": item.call_id, "response": item.output}
            self._inputs.append({"role": "tool", "parts": [part]})
        elif isinstance(item, MessageItem):
            parts = list(_text_parts(item.content))
            if parts:
                self._inputs.append({"role": item.role, "parts": parts})

    def add_transcript(self, transcript: str) -> None:
        self._inputs.append({"role": "user", "parts": [{"type": "text", "content": transcript}]})

    def request_attributes(self, instructions: str | None) -> dict[str, AttributeValue]:
        """The content attributes of a starting response; takes the pending input."""
        attributes: dict[str, AttributeValue] = {}
        instructions = self.instructions_override or instructions
        self.instructions_override = None
        if instructions:
            attributes["gen_ai.system_instructions"] = _json(
                [{"type": "text", "content": instructions}]
            )
        if self._inputs:
            attributes["gen_ai.input.messages"] = _json(self._inputs)
            self._inputs = []
        return attributes


def _text_parts(parts: Iterable[object]) -> Iterable[JSON]:
    for part in parts:
        if isinstance(part, InputText | OutputText):
            yield {"type": "text", "content": part.text}
        elif isinstance(part, InputAudio | OutputAudio) and part.transcript:
            yield {"type": "text", "content": part.transcript}


def _output_messages(response: Response) -> str:
    """``gen_ai.output.messages``: the response's text, transcripts and tool calls as one
    assistant message."""
    parts: list[JSON] = []
    for item in response.output:
        if isinstance(item, MessageItem):
            parts.extend(_text_parts(item.content))
        elif isinstance(item, FunctionCallItem):
            parts.append(
                {"type": "tool_call", "id": item.call_id, "name": item.name,
                 "arguments": item.arguments}
            )  # fmt: skip
    message = {"role": "assistant", "parts": parts, "finish_reason": response.status or ""}
    return _json([message])
