"""Server messages: what the provider sends (GA server events, reference section 1b)."""

from __future__ import annotations

from typing import Literal, TypeAlias

import attrs

from ._base import JSON, Modality, ServerMessage
from ._items import ConversationItem, OutputAudio, OutputText
from ._options import AudioFormat, SessionOptions

__all__ = [
    "ConversationCreated",
    "ConversationItemAdded",
    "ConversationItemCreated",
    "ConversationItemDeleted",
    "ConversationItemDone",
    "ConversationItemInputAudioTranscriptionCompleted",
    "ConversationItemInputAudioTranscriptionDelta",
    "ConversationItemInputAudioTranscriptionFailed",
    "ConversationItemInputAudioTranscriptionSegment",
    "ConversationItemRetrieved",
    "ConversationItemTruncated",
    "Error",
    "ErrorDetails",
    "GoAway",
    "InputAudioBufferCleared",
    "InputAudioBufferCommitted",
    "InputAudioBufferDtmfEventReceived",
    "InputAudioBufferSpeechStarted",
    "InputAudioBufferSpeechStopped",
    "InputAudioBufferTimeoutTriggered",
    "McpListToolsCompleted",
    "McpListToolsFailed",
    "McpListToolsInProgress",
    "OutputAudioBufferCleared",
    "OutputAudioBufferStarted",
    "OutputAudioBufferStopped",
    "RateLimit",
    "RateLimitsUpdated",
    "ReconnectReason",
    "InterruptReason",
    "PlaybackInterrupted",
    "Reconnected",
    "Response",
    "ResponseContentPartAdded",
    "ResponseContentPartDone",
    "ResponseCreated",
    "ResponseDone",
    "ResponseFunctionCallArgumentsDelta",
    "ResponseFunctionCallArgumentsDone",
    "ResponseMcpCallArgumentsDelta",
    "ResponseMcpCallArgumentsDone",
    "ResponseMcpCallCompleted",
    "ResponseMcpCallFailed",
    "ResponseMcpCallInProgress",
    "ResponseOutputAudioDelta",
    "ResponseOutputAudioDone",
    "ResponseOutputAudioTranscriptDelta",
    "ResponseOutputAudioTranscriptDone",
    "ResponseOutputItemAdded",
    "ResponseOutputItemDone",
    "ResponseOutputTextDelta",
    "ResponseOutputTextDone",
    "ResponseStatus",
    "ResponseStatusDetails",
    "SessionCreated",
    "SessionResumptionUpdate",
    "SessionUpdated",
    "ToolCallCancellation",
    "TranscriptionUsage",
    "Usage",
    "UsageMetadata",
]


# --- shared payloads -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Usage:
    """Token counts of one response (GA ``response.usage``).

    ``cached_*`` tokens are a subset of the input tokens. Fields the provider does not report
    are ``None``.
    """

    total_tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    input_text_tokens: int | None = None
    input_audio_tokens: int | None = None
    input_image_tokens: int | None = None
    cached_tokens: int | None = None
    cached_text_tokens: int | None = None
    cached_audio_tokens: int | None = None
    cached_image_tokens: int | None = None
    output_text_tokens: int | None = None
    output_audio_tokens: int | None = None


@attrs.frozen(kw_only=True)
class TranscriptionUsage:
    """What an input transcription cost: tokens (``type: "tokens"``) or audio seconds
    (``type: "duration"``)."""

    type: Literal["tokens", "duration"]
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    input_text_tokens: int | None = None
    input_audio_tokens: int | None = None
    seconds: float | None = None


@attrs.frozen(kw_only=True)
class ErrorDetails:
    """An error description nested in another event (e.g. a failed transcription)."""

    type: str | None = None
    code: str | None = None
    message: str | None = None
    param: str | None = None


ResponseStatus: TypeAlias = Literal["in_progress", "completed", "cancelled", "failed", "incomplete"]


@attrs.frozen(kw_only=True)
class ResponseStatusDetails:
    """Why a response ended as it did (GA ``response.status_details``).

    Attributes:
        type: ``"completed"``, ``"cancelled"``, ``"incomplete"`` or ``"failed"``.
        reason: ``"turn_detected"`` (the user spoke), ``"client_cancelled"``,
            ``"max_output_tokens"`` or ``"content_filter"``.
        error_type, error_code: set when ``type == "failed"``.
    """

    type: Literal["completed", "cancelled", "incomplete", "failed"]
    reason: str | None = None
    error_type: str | None = None
    error_code: str | None = None


@attrs.frozen(kw_only=True)
class Response:
    """A model response (GA ``RealtimeResponse``, in ``response.created`` / ``response.done``).

    Attributes:
        id: the response id.
        status: ``"in_progress"`` on creation; the final status on ``ResponseDone``.
        status_details: why it ended.
        output: the items it produced.
        conversation_id: the conversation it belongs to (``None`` for out-of-band responses).
        output_modalities: ``("audio",)`` or ``("text",)``.
        max_output_tokens: the limit in force.
        voice, output_audio_format: the audio settings in force.
        usage: token counts, on ``ResponseDone``.
        metadata: what ``ResponseCreate.metadata`` set.
    """

    id: str | None = None
    status: ResponseStatus | None = None
    status_details: ResponseStatusDetails | None = None
    output: tuple[ConversationItem, ...] = ()
    conversation_id: str | None = None
    output_modalities: tuple[Modality, ...] | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    voice: str | None = None
    output_audio_format: AudioFormat | None = None
    usage: Usage | None = None
    metadata: dict[str, str] | None = None


@attrs.frozen(kw_only=True)
class RateLimit:
    """One rate limit (an entry of ``rate_limits.updated``).

    Attributes:
        name: ``"requests"`` or ``"tokens"``.
        reset_seconds: seconds until the limit resets.
    """

    name: str | None = None
    limit: int | None = None
    remaining: int | None = None
    reset_seconds: float | None = None


# --- errors and session ----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Error(ServerMessage):
    """The provider reports an error (``error``); the session usually stays open.

    Attributes:
        type: e.g. ``"invalid_request_error"``, ``"server_error"``.
        message: a human-readable description.
        code: e.g. ``"invalid_event"``, ``"conversation_already_has_active_response"``.
        param: the offending parameter, e.g. ``"session.audio.output.voice"``.
        client_message_id: the ``message_id`` of the client message that caused it (the wire's
            ``error.event_id``); set ``message_id`` on what you send to correlate.
    """

    type: str
    message: str
    code: str | None = None
    param: str | None = None
    client_message_id: str | None = None


@attrs.frozen(kw_only=True)
class SessionCreated(ServerMessage):
    """The session is open; ``session`` holds the defaults in force (``session.created``).

    Attributes:
        session: the configuration in force.
        session_id: the provider's session id (``sess_...``).
        expires_at: when the session ends, in Unix seconds.
    """

    session: SessionOptions
    session_id: str | None = None
    expires_at: int | None = None


@attrs.frozen(kw_only=True)
class SessionUpdated(ServerMessage):
    """A ``session.update`` took effect; ``session`` is the whole configuration now in force
    (``session.updated``)."""

    session: SessionOptions
    session_id: str | None = None
    expires_at: int | None = None


@attrs.frozen(kw_only=True)
class ConversationCreated(ServerMessage):
    """The conversation was created (``conversation.created``)."""

    conversation_id: str | None = None


# --- conversation items ----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ConversationItemCreated(ServerMessage):
    """An item was added (``conversation.item.created``; GA sends ``.added`` / ``.done``)."""

    item: ConversationItem
    previous_item_id: str | None = None


@attrs.frozen(kw_only=True)
class ConversationItemAdded(ServerMessage):
    """An item was added to the conversation (``conversation.item.added``); its content may
    still be filling in."""

    item: ConversationItem
    previous_item_id: str | None = None


@attrs.frozen(kw_only=True)
class ConversationItemDone(ServerMessage):
    """An item is complete (``conversation.item.done``)."""

    item: ConversationItem
    previous_item_id: str | None = None


@attrs.frozen(kw_only=True)
class ConversationItemRetrieved(ServerMessage):
    """The answer to ``ConversationItemRetrieve`` (``conversation.item.retrieved``)."""

    item: ConversationItem


@attrs.frozen(kw_only=True)
class ConversationItemTruncated(ServerMessage):
    """An assistant audio item was truncated (``conversation.item.truncated``).

    Attributes:
        audio_end_ms: where the audio now ends, in ms.
    """

    item_id: str
    content_index: int
    audio_end_ms: int


@attrs.frozen(kw_only=True)
class ConversationItemDeleted(ServerMessage):
    """An item was deleted (``conversation.item.deleted``)."""

    item_id: str


@attrs.frozen(kw_only=True)
class ConversationItemInputAudioTranscriptionDelta(ServerMessage):
    """Part of the user's input transcript
    (``conversation.item.input_audio_transcription.delta``)."""

    item_id: str
    content_index: int | None = None
    delta: str | None = None
    logprobs: tuple[JSON, ...] | None = None


@attrs.frozen(kw_only=True)
class ConversationItemInputAudioTranscriptionCompleted(ServerMessage):
    """The user's whole input transcript
    (``conversation.item.input_audio_transcription.completed``)."""

    item_id: str
    content_index: int
    transcript: str
    usage: TranscriptionUsage | None = None
    logprobs: tuple[JSON, ...] | None = None


@attrs.frozen(kw_only=True)
class ConversationItemInputAudioTranscriptionSegment(ServerMessage):
    """A diarized segment of the input transcript
    (``conversation.item.input_audio_transcription.segment``).

    Attributes:
        id: the segment id.
        speaker: the speaker label.
        start, end: the segment's bounds in seconds.
    """

    item_id: str
    content_index: int
    id: str
    text: str
    speaker: str
    start: float
    end: float


@attrs.frozen(kw_only=True)
class ConversationItemInputAudioTranscriptionFailed(ServerMessage):
    """The input audio could not be transcribed
    (``conversation.item.input_audio_transcription.failed``)."""

    item_id: str
    content_index: int
    error: ErrorDetails


# --- input audio buffer ----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class InputAudioBufferCommitted(ServerMessage):
    """The input buffer became a user item (``input_audio_buffer.committed``)."""

    item_id: str
    previous_item_id: str | None = None


@attrs.frozen(kw_only=True)
class InputAudioBufferCleared(ServerMessage):
    """The input buffer was cleared (``input_audio_buffer.cleared``)."""


@attrs.frozen(kw_only=True)
class InputAudioBufferSpeechStarted(ServerMessage):
    """Voice activity detected the start of speech (``input_audio_buffer.speech_started``).

    Attributes:
        item_id: the user item the speech will become.
        audio_start_ms: ms from the start of all audio sent in the session.
    """

    item_id: str
    audio_start_ms: int


@attrs.frozen(kw_only=True)
class InputAudioBufferSpeechStopped(ServerMessage):
    """Voice activity detected the end of speech (``input_audio_buffer.speech_stopped``).

    Attributes:
        audio_end_ms: ms from the start of all audio sent in the session.
    """

    item_id: str
    audio_end_ms: int


@attrs.frozen(kw_only=True)
class InputAudioBufferTimeoutTriggered(ServerMessage):
    """The server VAD's idle timeout committed the buffer
    (``input_audio_buffer.timeout_triggered``), in ms."""

    item_id: str
    audio_start_ms: int
    audio_end_ms: int


@attrs.frozen(kw_only=True)
class InputAudioBufferDtmfEventReceived(ServerMessage):
    """A DTMF key press on a SIP call (``input_audio_buffer.dtmf_event_received``).

    Attributes:
        event: the key, e.g. ``"9"``.
        received_at: Unix seconds.
    """

    event: str
    received_at: int


# --- output audio buffer (WebRTC / SIP) ------------------------------------------------------


@attrs.frozen(kw_only=True)
class OutputAudioBufferStarted(ServerMessage):
    """The server started playing a response's audio (``output_audio_buffer.started``)."""

    response_id: str


@attrs.frozen(kw_only=True)
class OutputAudioBufferStopped(ServerMessage):
    """The server finished playing a response's audio (``output_audio_buffer.stopped``)."""

    response_id: str


@attrs.frozen(kw_only=True)
class OutputAudioBufferCleared(ServerMessage):
    """The output audio buffer was cleared (``output_audio_buffer.cleared``)."""

    response_id: str


# --- responses -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ResponseCreated(ServerMessage):
    """A response started (``response.created``)."""

    response: Response


@attrs.frozen(kw_only=True)
class ResponseDone(ServerMessage):
    """A response ended, completed or not; carries the final status and usage
    (``response.done``)."""

    response: Response


@attrs.frozen(kw_only=True)
class ResponseOutputItemAdded(ServerMessage):
    """A response began an output item (``response.output_item.added``)."""

    response_id: str
    output_index: int
    item: ConversationItem


@attrs.frozen(kw_only=True)
class ResponseOutputItemDone(ServerMessage):
    """An output item is complete (``response.output_item.done``); for a function call this is
    the point to run it."""

    response_id: str
    output_index: int
    item: ConversationItem


@attrs.frozen(kw_only=True)
class ResponseContentPartAdded(ServerMessage):
    """A content part began (``response.content_part.added``)."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int
    part: OutputText | OutputAudio


@attrs.frozen(kw_only=True)
class ResponseContentPartDone(ServerMessage):
    """A content part is complete (``response.content_part.done``)."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int
    part: OutputText | OutputAudio


@attrs.frozen(kw_only=True)
class ResponseOutputTextDelta(ServerMessage):
    """More output text (``response.output_text.delta``)."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


@attrs.frozen(kw_only=True)
class ResponseOutputTextDone(ServerMessage):
    """The whole output text (``response.output_text.done``)."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int
    text: str


@attrs.frozen(kw_only=True)
class ResponseOutputAudioDelta(ServerMessage):
    """More output audio (``response.output_audio.delta``).

    Attributes:
        delta: PCM16 little-endian mono bytes at the session's output rate.
    """

    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: bytes = attrs.field(repr=lambda delta: f"<{len(delta)} bytes>")


@attrs.frozen(kw_only=True)
class ResponseOutputAudioDone(ServerMessage):
    """The output audio is complete (``response.output_audio.done``)."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int


@attrs.frozen(kw_only=True)
class ResponseOutputAudioTranscriptDelta(ServerMessage):
    """More of the output audio's transcript (``response.output_audio_transcript.delta``)."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


@attrs.frozen(kw_only=True)
class ResponseOutputAudioTranscriptDone(ServerMessage):
    """The output audio's whole transcript (``response.output_audio_transcript.done``)."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int
    transcript: str


@attrs.frozen(kw_only=True)
class ResponseFunctionCallArgumentsDelta(ServerMessage):
    """More of a function call's JSON arguments (``response.function_call_arguments.delta``)."""

    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


@attrs.frozen(kw_only=True)
class ResponseFunctionCallArgumentsDone(ServerMessage):
    """A function call's complete arguments (``response.function_call_arguments.done``).

    Attributes:
        name: the function name (``None`` on the beta dialect, which omits it).
        arguments: the JSON string of the arguments.
    """

    response_id: str
    item_id: str
    output_index: int
    call_id: str
    arguments: str
    name: str | None = None


@attrs.frozen(kw_only=True)
class ResponseMcpCallArgumentsDelta(ServerMessage):
    """More of an MCP call's arguments (``response.mcp_call_arguments.delta``)."""

    response_id: str
    item_id: str
    output_index: int
    delta: str


@attrs.frozen(kw_only=True)
class ResponseMcpCallArgumentsDone(ServerMessage):
    """An MCP call's complete arguments (``response.mcp_call_arguments.done``)."""

    response_id: str
    item_id: str
    output_index: int
    arguments: str


@attrs.frozen(kw_only=True)
class ResponseMcpCallInProgress(ServerMessage):
    """An MCP call started (``response.mcp_call.in_progress``)."""

    item_id: str
    output_index: int


@attrs.frozen(kw_only=True)
class ResponseMcpCallCompleted(ServerMessage):
    """An MCP call succeeded (``response.mcp_call.completed``)."""

    item_id: str
    output_index: int


@attrs.frozen(kw_only=True)
class ResponseMcpCallFailed(ServerMessage):
    """An MCP call failed (``response.mcp_call.failed``)."""

    item_id: str
    output_index: int


@attrs.frozen(kw_only=True)
class McpListToolsInProgress(ServerMessage):
    """Listing an MCP server's tools started (``mcp_list_tools.in_progress``)."""

    item_id: str


@attrs.frozen(kw_only=True)
class McpListToolsCompleted(ServerMessage):
    """Listing an MCP server's tools succeeded (``mcp_list_tools.completed``)."""

    item_id: str


@attrs.frozen(kw_only=True)
class McpListToolsFailed(ServerMessage):
    """Listing an MCP server's tools failed (``mcp_list_tools.failed``)."""

    item_id: str


@attrs.frozen(kw_only=True)
class RateLimitsUpdated(ServerMessage):
    """The rate limits now in force (``rate_limits.updated``), sent after each response."""

    rate_limits: tuple[RateLimit, ...]


# --- provider-specific concepts (named by the provider's concept) ----------------------------


@attrs.frozen(kw_only=True)
class GoAway(ServerMessage):
    """The server will close the connection soon (Gemini ``goAway``).

    Reconnect before then, resuming with the latest ``SessionResumptionUpdate`` handle
    (``SessionOptions.gemini.session_resumption``).

    Attributes:
        time_left_ms: time until the server aborts the connection, in ms (Gemini
            ``timeLeft``, a proto Duration such as ``"10s"``), or ``None`` when not given.
    """

    time_left_ms: int | None = None


@attrs.frozen(kw_only=True)
class SessionResumptionUpdate(ServerMessage):
    """A new handle for resuming the session on another connection
    (Gemini ``sessionResumptionUpdate``).

    Sent only when the session asked for resumption
    (``SessionOptions.gemini.session_resumption``).

    Attributes:
        handle: the handle to resume with (``newHandle``); empty or ``None`` while the session
            cannot be resumed, e.g. during a response or a tool call.
        resumable: whether the session can be resumed at this point.
        last_consumed_client_message_index: the index of the last client message the server
            has taken into account, counted from 0 on this connection
            (``lastConsumedClientMessageIndex``; only with ``transparent`` resumption).
    """

    handle: str | None = None
    resumable: bool | None = None
    last_consumed_client_message_index: int | None = None


@attrs.frozen(kw_only=True)
class ToolCallCancellation(ServerMessage):
    """Function calls the app should not run, or should undo (Gemini ``toolCallCancellation``).

    Gemini sends it when the user interrupts while calls are pending; a resumable session
    sends it for the calls an old connection left unanswered when it could not switch
    seamlessly (``Reconnected``).

    Attributes:
        call_ids: the ``call_id`` of each cancelled ``FunctionCallItem``
            (Gemini ``ids``).
    """

    call_ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class UsageMetadata(ServerMessage):
    """Token counts the provider reported outside a response (Gemini ``usageMetadata``).

    Usage that arrives while a response is open goes on its ``ResponseDone`` instead;
    this message carries usage that arrives after the response it belongs to has ended.

    Attributes:
        usage: the token counts.
        response_id: the response that ended most recently on this connection, which the
            usage most likely belongs to, or ``None`` before the first one.
    """

    usage: Usage
    response_id: str | None = None


# --- the session's own events (no wire message) ----------------------------------------------

ReconnectReason: TypeAlias = Literal["go_away", "max_connection_age", "connection_lost"]
"""Why a session moved to a new connection: the server's ``GoAway``, the policy's
``max_connection_age``, or a connection that failed in a way worth retrying."""


@attrs.frozen(kw_only=True)
class Reconnected(ServerMessage):
    """The session moved to a new connection (rtsession's own event; no wire message).

    Only a session opened with ``open_session(..., reconnect=Reconnect(...))`` sends it,
    exactly once per reconnection, in place of the new connection's
    ``SessionCreated``: what the app reads before it came from the old connection,
    what follows from the new one. ``docs/reconnect.md`` describes the policy, and what
    each provider keeps.

    Attributes:
        restored: the new connection continues the conversation: resumed with the latest
            ``SessionResumptionUpdate`` handle (Gemini Live; ``replayed`` is 0), or
            replayed from ``Session.conversation`` with ``conversation.item.create`` /
            ``clientContent`` (``replayed`` items). ``False``: a fresh session with the
            same options and nothing to replay.
        seamless: the old connection was left at a point with nothing in progress: no
            response or function call open and, when resuming, nothing delivered after the
            handle. So no server event was lost or repeated. ``False``: the old connection
            ended first (or the wait for such a point ran out); the session ended what it
            left open (``ResponseDone`` with status ``incomplete``, reason
            ``"reconnected"``; ``ToolCallCancellation`` for calls the new connection
            does not know).
        reason: what started it: the server's ``GoAway``, the policy's
            ``max_connection_age``, or a failed connection (``"connection_lost"``).
        connection: the new connection's number in the session: 2 for the first switch.
        session: the new connection's configuration (its ``SessionCreated.session``).
        session_id: the new connection's session id, when the service gives one.
        previous_session_id: the old connection's session id, when the service gave one.
        resent: client messages sent again on the new connection: by handle, the frames
            the old connection had not consumed (those after the handle's
            ``last_consumed_client_message_index`` or, when the service does not report
            it, those written after the handle arrived); by replay, the input audio
            appended since the last commit and the messages the old connection could not
            take.
        replayed: conversation items sent to the new connection to restore the
            conversation (0 when resumed by handle).
        outage_ms: how long the session had no usable connection, in milliseconds: from
            the old connection's loss (or, for a planned switch, the cut-over) to the new
            connection's answer.
        close_code: how the old connection closed when that caused the reconnection
            (``reason="connection_lost"``): its close code, 1006 without a close frame;
            else ``None``.
    """

    restored: bool
    seamless: bool
    reason: ReconnectReason
    connection: int
    session: SessionOptions
    session_id: str | None = None
    previous_session_id: str | None = None
    resent: int = 0
    replayed: int = 0
    outage_ms: float = 0.0
    close_code: int | None = None


InterruptReason: TypeAlias = Literal["speech_started", "client"]
"""What interrupted playback: the server detected the user's speech, or the app asked
(``OutputAudioBufferClear``)."""


@attrs.frozen(kw_only=True)
class PlaybackInterrupted(ServerMessage):
    """The user interrupted the reply being played (rtsession's own event; no wire message).

    ``BargeIn`` sends it once per interruption, right after what caused it: it has
    silenced local playback, cancelled the response if it was still being generated, and
    (where the provider keeps addressable items: OpenAI, Azure) truncates the item at
    what was played, so the model's history holds only what the user heard.

    Attributes:
        item_id: the assistant message item that was cut.
        content_index: its audio part.
        response_id: the response the item belongs to.
        audio_end_ms: milliseconds of the part played before the cut (the truncation
            point, ``conversation.item.truncate`` ``audio_end_ms``).
        audio_ms: milliseconds of the part's audio received by then.
        reason: ``"speech_started"`` (the server's VAD) or ``"client"`` (the app sent
            ``OutputAudioBufferClear``).
        truncated: a ``ConversationItemTruncate`` is (or, once the response has ended,
            will be) sent; ``False`` where the provider cuts the item by itself (Gemini
            Live keeps only what it had sent).
        estimated: ``audio_end_ms`` is an estimate from the wall clock (real-time playback
            from the first delta), because ``BargeIn`` was given no playback to ask.
    """

    item_id: str
    content_index: int
    response_id: str
    audio_end_ms: int
    audio_ms: int
    reason: InterruptReason
    truncated: bool
    estimated: bool = False
