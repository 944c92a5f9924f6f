"""``SessionOptions`` as the Gemini Live ``setup`` and ``contextUpdate`` messages, and back
(https://ai.google.dev/api/live, ``BidiGenerateContentSetup``)."""

from __future__ import annotations

from typing import Any, Final

from ... import messages as m
from ..._errors import EncodeError
from ._fields import (
    OUTPUT_RATE,
    Payload,
    WireError,
    get,
    optional,
    optional_int64,
    optional_list,
    optional_object,
    required,
)

__all__ = [
    "context_update",
    "input_rate",
    "options_from_context_update",
    "options_from_setup",
    "setup_from_options",
]

_MODALITIES: Final = {"audio": "AUDIO", "text": "TEXT"}
_RESOLUTIONS: Final = {
    "low": "MEDIA_RESOLUTION_LOW",
    "medium": "MEDIA_RESOLUTION_MEDIUM",
    "high": "MEDIA_RESOLUTION_HIGH",
}
_COVERAGES: Final = {
    "only_activity": "TURN_INCLUDES_ONLY_ACTIVITY",
    "all_input": "TURN_INCLUDES_ALL_INPUT",
    "audio_activity_and_all_video": "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
}
_INTERRUPTS: Final = {True: "START_OF_ACTIVITY_INTERRUPTS", False: "NO_INTERRUPTION"}
_MODEL_PREFIX: Final = "models/"


def input_rate(options: m.SessionOptions) -> int | None:
    """The app's input sample rate in Hz, or ``None`` when not specified."""
    audio_format = options.input_audio_format
    return None if audio_format is None else audio_format.rate


def _sensitivity(edge: str, value: str | None) -> str | None:
    return None if value is None else f"{edge}_SENSITIVITY_{value.upper()}"


def _omit_none(**fields: Any) -> Payload:
    return {k: v for k, v in fields.items() if v is not None}


# --- encoding ----------------------------------------------------------------------------------


def _unsupported(options: m.SessionOptions) -> list[str]:
    """What in ``options`` Gemini Live cannot carry, one phrase per setting."""
    found: list[str] = []
    if options.output_speed is not None:
        found.append("output_speed (no speaking rate)")
    if options.tool_choice not in (None, "auto"):
        found.append(f"tool_choice={options.tool_choice!r} (Live has no tool choice)")
    if isinstance(options.noise_reduction, m.NoiseReduction):
        found.append("noise_reduction")
    transcription = options.input_transcription
    if isinstance(transcription, m.InputTranscription) and (
        transcription.model is not None or transcription.prompt is not None
    ):
        found.append("input_transcription.model / .prompt (only .language)")
    if options.input_audio_format is not None and options.input_audio_format.type != "audio/pcm":
        found.append(f"input_audio_format {options.input_audio_format.type} (PCM16 only)")
    output = options.output_audio_format
    if output is not None and (
        output.type != "audio/pcm" or output.rate not in (None, OUTPUT_RATE)
    ):
        found.append(f"output_audio_format {output} (Gemini speaks PCM16 at {OUTPUT_RATE} Hz)")
    detection = options.turn_detection
    if isinstance(detection, m.SemanticVad):
        found.append("turn_detection SemanticVad (use ServerVad or DISABLED)")
    elif isinstance(detection, m.ServerVad):
        if detection.threshold is not None:
            found.append("turn_detection.threshold (use gemini.start/end_of_speech_sensitivity)")
        if detection.idle_timeout_ms is not None:
            found.append("turn_detection.idle_timeout_ms")
        if detection.create_response is False:
            found.append("turn_detection.create_response=False (Gemini always answers a turn)")
    found += [
        f"tool {tool.server_label!r} (MCP tools are OpenAI only)"
        for tool in options.tools or ()
        if isinstance(tool, m.McpTool)
    ]
    return found


def _tools(tools: tuple[m.Tool, ...] | None, ext: m.GeminiSessionOptions) -> list[Payload] | None:
    """The ``tools`` list: function declarations first, then the built-in tools.

    ``None`` tools with no built-ins leave the key out; ``()`` with no built-ins is ``[]``.
    """
    builtins: list[Payload] = [
        {name: {}}
        for name, on in (("googleSearch", ext.google_search), ("codeExecution", ext.code_execution))
        if on
    ]
    if tools is None:
        return builtins or None
    declarations = [
        _omit_none(name=t.name, description=t.description, parametersJsonSchema=t.parameters)
        for t in tools
        if isinstance(t, m.FunctionTool)
    ]
    if not declarations and not builtins:
        return []
    return [{"functionDeclarations": declarations}, *builtins]


def _realtime_input_config(
    detection: m.TurnDetection | None, ext: m.GeminiSessionOptions
) -> Payload | None:
    activity: Payload = {}
    config: Payload = {}
    if isinstance(detection, m.Disabled):
        activity["disabled"] = True
    elif isinstance(detection, m.ServerVad):
        activity["disabled"] = False
        activity |= _omit_none(
            prefixPaddingMs=detection.prefix_padding_ms,
            silenceDurationMs=detection.silence_duration_ms,
        )
        if detection.interrupt_response is not None:
            config["activityHandling"] = _INTERRUPTS[detection.interrupt_response]
    activity |= _omit_none(
        startOfSpeechSensitivity=_sensitivity("START", ext.start_of_speech_sensitivity),
        endOfSpeechSensitivity=_sensitivity("END", ext.end_of_speech_sensitivity),
    )
    if activity:
        config = {"automaticActivityDetection": activity} | config
    if ext.turn_coverage is not None:
        config["turnCoverage"] = _COVERAGES[ext.turn_coverage]
    return config or None


def _instructions(text: str) -> Payload:
    return {"parts": [{"text": text}], "role": "user"}


def setup_from_options(options: m.SessionOptions) -> Payload:
    """The body of a ``setup`` message for ``options`` (camelCase keys).

    ``None`` fields are left out. Normalized away (decoding gives ``None``): ``tool_choice``
    ``"auto"``, ``max_output_tokens`` ``"inf"``, ``DISABLED`` input transcription and noise
    reduction, ``ServerVad.create_response=True``, the audio formats (Gemini takes PCM16 in at
    16000 Hz, resampled by the codec, and speaks at 24000 Hz), the ``openai`` extension and
    ``message_id``. A bare model id gets the ``models/`` prefix.

    Raises:
        EncodeError: ``options`` holds something Gemini Live cannot carry (all such settings
            are listed), is a transcription session, or has no model.
    """
    if options.kind != "conversation":
        raise EncodeError("Gemini Live has no transcription-only session (SessionOptions.kind)")
    found = _unsupported(options)
    if found:
        raise EncodeError("Gemini Live cannot carry " + "; ".join(found))
    if options.model is None:
        raise EncodeError("a Gemini Live setup needs SessionOptions.model")
    ext = options.gemini or m.GeminiSessionOptions()
    model = options.model if "/" in options.model else _MODEL_PREFIX + options.model
    generation = _omit_none(
        responseModalities=None
        if options.output_modalities is None
        else [_MODALITIES[mod] for mod in options.output_modalities],
        speechConfig=None
        if options.voice is None
        else {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": options.voice}}},
        maxOutputTokens=options.max_output_tokens if options.max_output_tokens != "inf" else None,
        temperature=ext.temperature,
        mediaResolution=None
        if ext.media_resolution is None
        else _RESOLUTIONS[ext.media_resolution],
        enableAffectiveDialog=ext.affective_dialog,
    )
    transcription = options.input_transcription
    resumption = ext.session_resumption
    compression = ext.context_window_compression
    return _omit_none(
        model=model,
        generationConfig=generation or None,
        systemInstruction=None
        if options.instructions is None
        else _instructions(options.instructions),
        tools=_tools(options.tools, ext),
        realtimeInputConfig=_realtime_input_config(options.turn_detection, ext),
        inputAudioTranscription=_omit_none(
            languageCodes=None if transcription.language is None else [transcription.language]
        )
        if isinstance(transcription, m.InputTranscription)
        else None,
        outputAudioTranscription=None if ext.output_audio_transcription is False else {},
        sessionResumption=None
        if resumption is None
        else _omit_none(handle=resumption.handle, transparent=resumption.transparent),
        contextWindowCompression=None
        if compression is None
        else _omit_none(
            triggerTokens=compression.trigger_tokens,
            slidingWindow=_omit_none(targetTokens=compression.target_tokens),
        ),
        proactivity=None
        if ext.proactive_audio is None
        else {"proactiveAudio": ext.proactive_audio},
    )


def _flatten(setup: Payload) -> dict[str, Any]:
    flat = {k: v for k, v in setup.items() if k != "generationConfig"}
    for key, value in (setup.get("generationConfig") or {}).items():
        flat[f"generationConfig.{key}"] = value
    return flat


_CHANGEABLE: Final = frozenset({"systemInstruction", "tools"})


def context_update(
    old: m.SessionOptions, new: m.SessionOptions
) -> tuple[m.SessionOptions, Payload | None]:
    """What a mid-session ``SessionUpdate(session=new)`` does to the options ``old`` in force.

    ``new``'s ``None`` fields keep their values. Gemini can change only the instructions and
    the tools on an open connection (``contextUpdate``, which replaces the whole tool list).

    Returns:
        The merged options, and the body of the ``contextUpdate`` message, or ``None`` when
        nothing Gemini holds changes (e.g. only the input audio format, which the codec
        handles).

    Raises:
        EncodeError: ``new`` changes a setting only a new ``setup`` can carry (all are named),
            or holds one Gemini cannot carry at all.
    """
    merged = m.merge_options(old, new)
    before, after = _flatten(setup_from_options(old)), _flatten(setup_from_options(merged))
    changed = sorted(
        key
        for key in before.keys() | after.keys()
        if key not in _CHANGEABLE and before.get(key) != after.get(key)
    )
    if changed:
        raise EncodeError(
            f"Gemini Live cannot change the setup field(s) {', '.join(changed)} on an open "
            "connection, only the instructions and the tools (contextUpdate); open a new "
            "session with the new options (resume it with "
            "SessionOptions.gemini.session_resumption)"
        )
    update: Payload = {}
    if before.get("systemInstruction") != after.get("systemInstruction"):
        update["systemInstruction"] = after["systemInstruction"]
    if before.get("tools") != after.get("tools"):
        update["tools"] = {"tools": after.get("tools", [])}
    return merged, update or None


# --- decoding ----------------------------------------------------------------------------------


def _enum(value: str | None, table: dict[Any, str], param: str) -> Any:
    """The vocabulary value whose wire enum is ``value`` (case-insensitive); ``None`` for
    ``None`` or an ``*_UNSPECIFIED`` value."""
    if value is None or value.upper().endswith("UNSPECIFIED"):
        return None
    for key, wire in table.items():
        if wire == value.upper():
            return key
    raise WireError(f"unknown value {value!r} (expected one of {', '.join(table.values())})", param)


def _instructions_text(setup: Payload, path: str) -> str | None:
    value = get(setup, "systemInstruction")
    if value is None or isinstance(value, str):
        return value
    content = optional_object(setup, "systemInstruction", path) or {}
    where = f"{path}.systemInstruction"
    texts = []
    for i, part in enumerate(optional_list(content, "parts", where)):
        if not isinstance(part, dict):
            raise WireError("expected an object", f"{where}.parts[{i}]")
        texts.append(optional(part, "text", str, f"{where}.parts[{i}]") or "")
    return "".join(texts)


def _decode_tools(
    value: list[Any], path: str
) -> tuple[tuple[m.Tool, ...] | None, bool | None, bool | None]:
    """The function tools, Google Search and code execution of a ``tools`` list."""
    declarations: list[m.Tool] = []
    found_declarations = False
    search = execution = None
    for i, tool in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(tool, dict):
            raise WireError("expected an object", where)
        for j, decl in enumerate(optional_list(tool, "functionDeclarations", where)):
            at = f"{where}.functionDeclarations[{j}]"
            if not isinstance(decl, dict):
                raise WireError("expected an object", at)
            parameters = optional_object(decl, "parametersJsonSchema", at)
            declarations.append(
                m.FunctionTool(
                    name=required(decl, "name", str, at),
                    description=optional(decl, "description", str, at),
                    parameters=parameters
                    if parameters is not None
                    else optional_object(decl, "parameters", at),
                )
            )
        found_declarations |= get(tool, "functionDeclarations") is not None
        search = True if get(tool, "googleSearch") is not None else search
        execution = True if get(tool, "codeExecution") is not None else execution
    if found_declarations:
        return tuple(declarations), search, execution
    return (() if not value else None), search, execution


def _turn_detection(config: Payload | None, path: str) -> m.TurnDetection | None:
    if config is None:
        return None
    activity = optional_object(config, "automaticActivityDetection", path) or {}
    where = f"{path}.automaticActivityDetection"
    disabled = optional(activity, "disabled", bool, where)
    if disabled:
        return m.DISABLED
    handling = optional(config, "activityHandling", str, path)
    prefix = optional(activity, "prefixPaddingMs", int, where)
    silence = optional(activity, "silenceDurationMs", int, where)
    if disabled is None and handling is None and prefix is None and silence is None:
        return None
    return m.ServerVad(
        prefix_padding_ms=prefix,
        silence_duration_ms=silence,
        interrupt_response=_enum(handling, _INTERRUPTS, f"{path}.activityHandling"),
    )


def _sensitivities(config: Payload | None, path: str) -> dict[str, Any]:
    activity = optional_object(config or {}, "automaticActivityDetection", path) or {}
    where = f"{path}.automaticActivityDetection"
    return {
        f"{edge.lower()}_of_speech_sensitivity": _enum(
            optional(activity, f"{edge.lower()}OfSpeechSensitivity", str, where),
            {v: f"{edge}_SENSITIVITY_{v.upper()}" for v in ("high", "low")},
            f"{where}.{edge.lower()}OfSpeechSensitivity",
        )
        for edge in ("START", "END")
    }


def options_from_setup(setup: Payload, path: str = "setup") -> m.SessionOptions:
    """The options a ``setup`` body asks for (inverse of ``setup_from_options``).

    Lenient on fields rtsession does not model (``topP``, ``thinkingConfig``, ...): they are
    left out here and stay in the message's ``raw``.

    Raises:
        WireError: a modelled field has the wrong type or an unknown enum value.
    """
    model = required(setup, "model", str, path)
    generation = optional_object(setup, "generationConfig", path) or {}
    gen_path = f"{path}.generationConfig"
    voice_path = f"{gen_path}.speechConfig.voiceConfig.prebuiltVoiceConfig"
    speech = optional_object(generation, "speechConfig", gen_path) or {}
    voice_config = optional_object(speech, "voiceConfig", f"{gen_path}.speechConfig") or {}
    prebuilt = optional_object(voice_config, "prebuiltVoiceConfig", voice_path) or {}
    modalities = optional(generation, "responseModalities", list[str], gen_path)
    config = optional_object(setup, "realtimeInputConfig", path)
    config_path = f"{path}.realtimeInputConfig"
    tools_value = get(setup, "tools")
    tools, search, execution = (
        (None, None, None)
        if tools_value is None
        else _decode_tools(optional_list(setup, "tools", path), f"{path}.tools")
    )
    transcription = optional_object(setup, "inputAudioTranscription", path)
    languages = optional(transcription or {}, "languageCodes", list[str], path)
    resumption = optional_object(setup, "sessionResumption", path)
    compression = optional_object(setup, "contextWindowCompression", path)
    window_path = f"{path}.contextWindowCompression"
    window = optional_object(compression or {}, "slidingWindow", window_path) or {}
    proactivity = optional_object(setup, "proactivity", path) or {}
    ext = m.GeminiSessionOptions(
        session_resumption=None
        if resumption is None
        else m.SessionResumption(
            handle=optional(resumption, "handle", str, f"{path}.sessionResumption"),
            transparent=optional(resumption, "transparent", bool, f"{path}.sessionResumption"),
        ),
        context_window_compression=None
        if compression is None
        else m.ContextWindowCompression(
            trigger_tokens=optional_int64(compression, "triggerTokens", window_path),
            target_tokens=optional_int64(window, "targetTokens", f"{window_path}.slidingWindow"),
        ),
        output_audio_transcription=None
        if get(setup, "outputAudioTranscription") is not None
        else False,
        turn_coverage=_enum(
            optional(config or {}, "turnCoverage", str, config_path),
            _COVERAGES,
            f"{config_path}.turnCoverage",
        ),
        media_resolution=_enum(
            optional(generation, "mediaResolution", str, gen_path),
            _RESOLUTIONS,
            f"{gen_path}.mediaResolution",
        ),
        temperature=optional(generation, "temperature", float, gen_path),
        proactive_audio=optional(proactivity, "proactiveAudio", bool, f"{path}.proactivity"),
        affective_dialog=optional(generation, "enableAffectiveDialog", bool, gen_path),
        google_search=search,
        code_execution=execution,
        **_sensitivities(config, config_path),
    )
    return m.SessionOptions(
        model=model.removeprefix(_MODEL_PREFIX),
        instructions=_instructions_text(setup, path),
        voice=optional(prebuilt, "voiceName", str, voice_path),
        output_modalities=None
        if modalities is None
        else tuple(_enum(mod, _MODALITIES, f"{gen_path}.responseModalities") for mod in modalities),
        tools=tools,
        max_output_tokens=optional(generation, "maxOutputTokens", int, gen_path),
        input_transcription=None
        if transcription is None
        else m.InputTranscription(language=languages[0] if languages else None),
        turn_detection=_turn_detection(config, config_path),
        gemini=None if ext == m.GeminiSessionOptions() else ext,
    )


def options_from_context_update(update: Payload, path: str = "contextUpdate") -> m.SessionOptions:
    """The options a ``contextUpdate`` changes: instructions and tools; all else ``None``.

    Raises:
        WireError: a field has the wrong type.
    """
    tools_value = get(update, "tools")
    if isinstance(tools_value, dict):
        tools_value = optional_list(tools_value, "tools", f"{path}.tools")
    elif tools_value is not None:
        tools_value = optional_list(update, "tools", path)
    tools, search, execution = (
        (None, None, None) if tools_value is None else _decode_tools(tools_value, f"{path}.tools")
    )
    ext = m.GeminiSessionOptions(google_search=search, code_execution=execution)
    return m.SessionOptions(
        instructions=_instructions_text(update, path),
        tools=tools,
        gemini=None if ext == m.GeminiSessionOptions() else ext,
    )
