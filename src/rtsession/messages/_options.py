"""Session configuration: ``SessionOptions`` and the settings it is built from.

Models the GA session object (OpenAI ``session.update`` / ``session.created``, the SDK's
``RealtimeSessionCreateRequest``) in provider-agnostic terms. Every field is
optional: ``None`` means "not specified" (not sent, or not reported), ``DISABLED`` means
"explicitly off" (the wire's ``null``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal, TypeAlias

import attrs

from ._base import JSON, Disabled, Modality

__all__ = [
    "AudioFormat",
    "ContextWindowCompression",
    "FunctionTool",
    "GeminiSessionOptions",
    "InputTranscription",
    "McpTool",
    "NoiseReduction",
    "OpenAISessionOptions",
    "SemanticVad",
    "ServerVad",
    "SessionKind",
    "SessionOptions",
    "SessionResumption",
    "Tool",
    "ToolChoice",
    "ToolChoiceFunction",
    "ToolChoiceMcp",
    "TurnDetection",
    "merge_options",
]

SessionKind: TypeAlias = Literal["conversation", "transcription"]


def _optional(*kinds: type[Any]) -> Callable[[object, attrs.Attribute[Any], object], None]:
    """A validator: the field is ``None`` or of one of ``kinds`` (``bool`` is no number)."""

    def check(options: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None or (isinstance(value, kinds) and not isinstance(value, bool)):
            return
        names = " or ".join(kind.__name__ for kind in kinds)
        raise TypeError(
            f"{type(options).__name__}.{attribute.name} must be {names} or None, "
            f"not {value!r} ({type(value).__name__})"
        )

    return check


_OPTIONAL_TEXT: Final = _optional(str)
_OPTIONAL_NUMBER: Final = _optional(int, float)


@attrs.frozen(kw_only=True)
class AudioFormat:
    """An audio encoding (GA ``audio.input.format`` / ``audio.output.format``).

    Attributes:
        type: ``"audio/pcm"`` (16-bit little-endian PCM, mono), ``"audio/pcmu"`` (G.711 mu-law,
            8 kHz) or ``"audio/pcma"`` (G.711 A-law, 8 kHz).
        rate: samples per second (Hz) for ``audio/pcm``; OpenAI supports 24000 only, Gemini
            takes 16000 in and gives 24000 out. ``None`` for the G.711 formats.

    Raises:
        ValueError: a rate given for a G.711 format.
    """

    type: Literal["audio/pcm", "audio/pcmu", "audio/pcma"] = "audio/pcm"
    rate: int | None = attrs.field(default=None)

    @rate.validator
    def _check_rate(self, _: attrs.Attribute[int | None], rate: int | None) -> None:
        if rate is not None and self.type != "audio/pcm":
            raise ValueError(f"{self.type} has a fixed rate of 8000 Hz; leave rate unset")

    @property
    def sample_bytes(self) -> int:
        """Bytes per sample: 2 for ``audio/pcm`` (16-bit), 1 for G.711."""
        return 2 if self.type == "audio/pcm" else 1


_OPTIONAL_FORMAT: Final = _optional(AudioFormat)


@attrs.frozen(kw_only=True)
class InputTranscription:
    """Transcription of the user's input audio (GA ``audio.input.transcription``).

    Attributes:
        model: e.g. ``"whisper-1"``, ``"gpt-4o-transcribe"``.
        language: ISO-639-1 code such as ``"en"``.
        prompt: text guiding the transcription model.
    """

    model: str | None = None
    language: str | None = None
    prompt: str | None = None


@attrs.frozen(kw_only=True)
class NoiseReduction:
    """Input noise reduction (GA ``audio.input.noise_reduction``).

    Attributes:
        type: ``"near_field"`` (headset) or ``"far_field"`` (laptop, room microphone).
    """

    type: Literal["near_field", "far_field"]


@attrs.frozen(kw_only=True)
class ServerVad:
    """Turn detection by voice activity (GA ``turn_detection`` of ``type: "server_vad"``).

    Attributes:
        threshold: activation threshold, 0.0 to 1.0 (higher needs louder speech).
        prefix_padding_ms: audio kept before detected speech, in ms.
        silence_duration_ms: silence that ends a turn, in ms.
        idle_timeout_ms: commit after this much silence with no speech, in ms.
        create_response: start a response when a turn ends.
        interrupt_response: cancel the current response when speech starts.
    """

    threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    idle_timeout_ms: int | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None


@attrs.frozen(kw_only=True)
class SemanticVad:
    """Turn detection by a model judging whether the user has finished (``semantic_vad``).

    Attributes:
        eagerness: ``"low"`` waits longer, ``"high"`` answers sooner; ``"auto"`` is medium.
        create_response: start a response when a turn ends.
        interrupt_response: cancel the current response when speech starts.
    """

    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None


TurnDetection: TypeAlias = ServerVad | SemanticVad | Disabled
"""How turns are detected; ``DISABLED`` is push-to-talk (commit by hand)."""


@attrs.frozen(kw_only=True)
class FunctionTool:
    """A function the model may call (GA ``tools[]`` entry of ``type: "function"``).

    Attributes:
        name: the function name the model uses.
        description: when and how to call it.
        parameters: a JSON Schema object describing the arguments.
    """

    name: str
    description: str | None = None
    parameters: dict[str, JSON] | None = None


@attrs.frozen(kw_only=True)
class McpTool:
    """A remote MCP server whose tools the provider calls itself (OpenAI only, ``type: "mcp"``).

    Attributes:
        server_label: the label identifying the server in events and items.
        server_url: the server's URL (or use ``connector_id``).
        connector_id: an OpenAI connector id instead of a URL.
        authorization: an OAuth access token for the server.
        headers: extra HTTP headers for the server.
        allowed_tools: restrict to these tool names.
        require_approval: ``"always"``, ``"never"`` or a JSON filter object.
        server_description: what the server is for.
    """

    server_label: str
    server_url: str | None = None
    connector_id: str | None = None
    authorization: str | None = None
    headers: dict[str, str] | None = None
    allowed_tools: tuple[str, ...] | None = None
    require_approval: JSON = None
    server_description: str | None = None


Tool: TypeAlias = FunctionTool | McpTool


@attrs.frozen(kw_only=True)
class ToolChoiceFunction:
    """Force a call of one function (GA ``tool_choice: {"type": "function", "name": ...}``)."""

    name: str


@attrs.frozen(kw_only=True)
class ToolChoiceMcp:
    """Force a tool of one MCP server (GA ``tool_choice: {"type": "mcp", ...}``)."""

    server_label: str
    name: str | None = None


ToolChoice: TypeAlias = Literal["auto", "none", "required"] | ToolChoiceFunction | ToolChoiceMcp


@attrs.frozen(kw_only=True)
class OpenAISessionOptions:
    """OpenAI-only session settings (the session object's remaining fields).

    Not every OpenAI dialect has a place for each (``docs/openai-dialects.md``); encoding one
    that a dialect lacks raises ``EncodeError``.

    Attributes:
        tracing: ``"auto"`` or a tracing configuration object.
        truncation: ``"auto"``, ``"disabled"`` or a retention-ratio object (GA only).
        prompt: a stored prompt reference ``{"id": ..., "version": ..., "variables": ...}``
            (GA only).
        include: extra fields to include, e.g. ``("item.input_audio_transcription.logprobs",)``
            (beta: transcription sessions only).
        temperature: sampling temperature, 0.6 to 1.2 (beta ``temperature`` only; GA has none).
    """

    tracing: JSON = None
    truncation: JSON = None
    prompt: JSON = None
    include: tuple[str, ...] | None = None
    temperature: float | None = None


@attrs.frozen(kw_only=True)
class SessionResumption:
    """Resumable Gemini Live sessions (Gemini ``setup.sessionResumption``).

    Setting it at all asks the server for ``SessionResumptionUpdate``
    messages; ``handle`` resumes an earlier session on a new connection.

    Attributes:
        handle: the latest ``SessionResumptionUpdate.handle`` of the session to resume.
        transparent: also report ``last_consumed_client_message_index`` in the updates.
    """

    handle: str | None = None
    transparent: bool | None = None


@attrs.frozen(kw_only=True)
class ContextWindowCompression:
    """Sliding-window compression of a long Gemini Live context
    (Gemini ``setup.contextWindowCompression``).

    Attributes:
        trigger_tokens: compress when the context reaches this many tokens (``triggerTokens``).
        target_tokens: keep about this many tokens after compressing
            (``slidingWindow.targetTokens``).
    """

    trigger_tokens: int | None = None
    target_tokens: int | None = None


@attrs.frozen(kw_only=True)
class GeminiSessionOptions:
    """Gemini-Live-only session settings (fields of the ``setup`` message with no GA equivalent).

    ``None`` leaves a setting at the service's default. Other providers ignore this object.

    Attributes:
        session_resumption: make the session resumable, or resume one (``sessionResumption``).
        context_window_compression: compress the context as it grows
            (``contextWindowCompression``).
        output_audio_transcription: transcribe the model's audio (``outputAudioTranscription``),
            which gives ``ResponseOutputAudioTranscriptDelta`` as on OpenAI. ``None`` (the
            default) and ``True`` turn it on; ``False`` leaves it off.
        start_of_speech_sensitivity: how readily voice activity detection starts a user turn,
            ``"high"`` or ``"low"`` (``automaticActivityDetection.startOfSpeechSensitivity``).
        end_of_speech_sensitivity: how readily it ends one, ``"high"`` or ``"low"``
            (``endOfSpeechSensitivity``).
        turn_coverage: what input a user turn includes (``realtimeInputConfig.turnCoverage``):
            ``"only_activity"`` (the service default), ``"all_input"`` or
            ``"audio_activity_and_all_video"``.
        media_resolution: the resolution images and video are read at, ``"low"``,
            ``"medium"`` or ``"high"`` (``generationConfig.mediaResolution``).
        temperature: sampling temperature, 0.0 to 2.0 (``generationConfig.temperature``).
        proactive_audio: let the model decide not to answer input that is not meant for it
            (``proactivity.proactiveAudio``; native-audio models).
        affective_dialog: let the model adapt its tone to the user's
            (``generationConfig.enableAffectiveDialog``; native-audio models).
        google_search: give the model Google Search (a ``googleSearch`` tool); its results
            arrive as ``RawServerMessage`` (``groundingMetadata``). ``False`` is the same as
            ``None``.
        code_execution: let the model run code it writes (a ``codeExecution`` tool); the code
            and its results arrive as ``RawServerMessage``. ``False`` is the same as ``None``.
    """

    session_resumption: SessionResumption | None = None
    context_window_compression: ContextWindowCompression | None = None
    output_audio_transcription: bool | None = None
    start_of_speech_sensitivity: Literal["high", "low"] | None = None
    end_of_speech_sensitivity: Literal["high", "low"] | None = None
    turn_coverage: Literal["only_activity", "all_input", "audio_activity_and_all_video"] | None = (
        None
    )
    media_resolution: Literal["low", "medium", "high"] | None = None
    temperature: float | None = None
    proactive_audio: bool | None = None
    affective_dialog: bool | None = None
    google_search: bool | None = None
    code_execution: bool | None = None


@attrs.frozen(kw_only=True)
class SessionOptions:
    """The configuration of a session, as sent in ``session.update`` and reported back.

    Immutable: derive a changed copy with ``attrs.evolve(options, voice="cedar")`` and apply it
    with ``Session.update``. ``None`` means "not specified"; ``DISABLED`` means "off".

    Attributes:
        kind: ``"conversation"`` (speech-to-speech, GA ``type: "realtime"``) or
            ``"transcription"`` (input transcription only).
        model: the model name, e.g. ``"gpt-realtime"``.
        instructions: the system instructions.
        voice: the output voice, e.g. ``"marin"``; fixed after the first audio output.
        input_audio_format: the format of ``InputAudioBufferAppend.audio``.
        output_audio_format: the format of ``ResponseOutputAudioDelta.delta``.
        output_modalities: ``("audio",)`` or ``("text",)``.
        output_speed: speaking rate, 0.25 to 1.5 (1.0 is normal).
        tools: functions (and on OpenAI MCP servers) the model may use.
        tool_choice: ``"auto"``, ``"none"``, ``"required"`` or a specific tool.
        max_output_tokens: per-response limit, 1 to 4096, or ``"inf"``.
        input_transcription: transcribe the user's audio; ``DISABLED`` turns it off.
        turn_detection: server VAD, semantic VAD, or ``DISABLED`` for push-to-talk.
        noise_reduction: input noise reduction, or ``DISABLED``.
        openai: OpenAI-only settings (other providers ignore them).
        gemini: Gemini-Live-only settings (other providers ignore them).

    Raises:
        TypeError: ``model``, ``instructions`` or ``voice`` that is not a string,
            ``output_speed`` that is not a number, or an audio format that is not an
            ``AudioFormat`` (so a mistake fails here, not later at the server).
    """

    kind: SessionKind = "conversation"
    model: str | None = attrs.field(default=None, validator=_OPTIONAL_TEXT)
    instructions: str | None = attrs.field(default=None, validator=_OPTIONAL_TEXT)
    voice: str | None = attrs.field(default=None, validator=_OPTIONAL_TEXT)
    input_audio_format: AudioFormat | None = attrs.field(default=None, validator=_OPTIONAL_FORMAT)
    output_audio_format: AudioFormat | None = attrs.field(default=None, validator=_OPTIONAL_FORMAT)
    output_modalities: tuple[Modality, ...] | None = None
    output_speed: float | None = attrs.field(default=None, validator=_OPTIONAL_NUMBER)
    tools: tuple[Tool, ...] | None = None
    tool_choice: ToolChoice | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    input_transcription: InputTranscription | Disabled | None = None
    turn_detection: TurnDetection | None = None
    noise_reduction: NoiseReduction | Disabled | None = None
    openai: OpenAISessionOptions | None = None
    gemini: GeminiSessionOptions | None = None


_EXTENSIONS = ("openai", "gemini")


def _set_fields(options: attrs.AttrsInstance) -> dict[str, Any]:
    """The fields of an attrs instance that are set (not ``None``)."""
    return {
        f.name: value
        for f in attrs.fields(type(options))
        if (value := getattr(options, f.name)) is not None
    }


def merge_options(current: SessionOptions, update: SessionOptions) -> SessionOptions:
    """``current`` with ``update`` applied, as the services apply a ``session.update``.

    Every field ``update`` sets (not ``None``) replaces the one in ``current``; the provider
    extensions (``openai``, ``gemini``) merge the same way, field by field, so an update that
    sets ``gemini.google_search`` keeps the ``gemini.temperature`` in force. ``DISABLED``
    is a value like any other: it replaces. This is the one merge of options in rtsession:
    the session (what each new connection's setup carries), the Gemini codec
    (``contextUpdate``) and ``rtsession.local`` (which adds the service's checks) use it.
    """
    changes = _set_fields(update)
    for name in _EXTENSIONS:
        old, new = getattr(current, name), getattr(update, name)
        if old is not None and new is not None:
            changes[name] = attrs.evolve(old, **_set_fields(new))
    return attrs.evolve(current, **changes)
