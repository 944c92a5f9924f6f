"""The Gemini Live wire format (``BidiGenerateContent``; https://ai.google.dev/api/live)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final, TypeAlias

import attrs

from ... import messages as m
from ..._errors import DecodeError, EncodeError
from .._codec import Frame
from .._json import MALFORMED, blob_frame, dumps, invalid_frame, loads_object
from ._content import (
    function_response,
    item_from_turn,
    output_from_response,
    part_from_blob,
    turn_from_item,
)
from ._fields import (
    INPUT_RATE,
    NO_RESAMPLER,
    Payload,
    ResamplerFactory,
    StreamResampler,
    WireError,
    camel,
    optional,
    optional_list,
    pcm_rate,
    required,
)
from ._lifecycle import ServerEncoder, Synthesizer
from ._setup import (
    context_update,
    input_rate,
    options_from_context_update,
    options_from_setup,
    setup_from_options,
)

__all__ = ["GeminiCodec"]

_CLIENT_MESSAGES: Final = (
    "setup",
    "clientContent",
    "realtimeInput",
    "toolResponse",
    "contextUpdate",
)

_NOT_CARRIED: Final[dict[type[m.ClientMessage], str]] = {
    m.InputAudioBufferClear: "Gemini cannot discard input audio it has received",
    m.OutputAudioBufferClear: "there is no server-side output buffer (OpenAI WebRTC/SIP only)",
    m.ConversationItemRetrieve: "Gemini keeps no addressable conversation items",
    m.ConversationItemDelete: "Gemini keeps no addressable conversation items",
    m.ConversationItemTruncate: (
        "Gemini keeps no addressable conversation items; on interruption it keeps only the "
        "output it had sent"
    ),
    m.ResponseCancel: "Gemini has no response cancel; a response ends when the user interrupts",
}

_ACTIVITY_START: Final[Payload] = {"realtimeInput": {"activityStart": {}}}
_ACTIVITY_END: Final[Payload] = {"realtimeInput": {"activityEnd": {}}}
_AUDIO_STREAM_END: Final[Payload] = {"realtimeInput": {"audioStreamEnd": True}}
_TURN_COMPLETE: Final[Payload] = {"clientContent": {"turnComplete": True}}


_AUDIO_TAIL: Final = f'","mimeType":"audio/pcm;rate={INPUT_RATE}"}}}}}}'.encode()


Out: TypeAlias = Payload | str
"""What the encoder makes of a client message: payloads to serialize, and frames written
already (audio)."""


def _frame(out: Out) -> str:
    return out if isinstance(out, str) else dumps(out)


def _audio(pcm: bytes) -> str:
    """``realtimeInput.audio`` at 16 kHz, written around the audio (``blob_frame``)."""
    return blob_frame(b'{"realtimeInput":{"audio":{"data":"', pcm, _AUDIO_TAIL)


def _not_carried(message: m.ClientMessage) -> EncodeError:
    reason = _NOT_CARRIED.get(type(message), "it is not a client message")
    return EncodeError(f"Gemini Live cannot carry {type(message).__name__}: {reason}")


def _item_frames(
    message: m.ConversationItemCreate,
    rate: int,
    call_names: Mapping[str, str],
    resampler: ResamplerFactory | None,
) -> list[Out]:
    """A user or assistant message as ``clientContent`` (its audio parts at ``rate`` Hz), a
    function output as ``toolResponse`` (named from ``call_names``, by call id)."""
    if message.previous_item_id is not None:
        raise EncodeError("Gemini Live appends to the conversation only (previous_item_id)")
    item = message.item
    if isinstance(item, m.MessageItem):
        turn = turn_from_item(item, rate, resampler)
        return [{"clientContent": {"turns": [turn], "turnComplete": False}}]
    if isinstance(item, m.FunctionCallOutputItem):
        response = function_response(item, call_names.get(item.call_id))
        return [{"toolResponse": {"functionResponses": [response]}}]
    raise EncodeError(
        f"Gemini Live cannot add a {type(item).__name__} to the conversation "
        "(only user and assistant messages and function call outputs)"
    )


def _check_response_create(message: m.ResponseCreate) -> None:
    overrides = [
        f.name
        for f in attrs.fields(m.ResponseCreate)
        if f.name not in ("message_id", "raw") and getattr(message, f.name) is not None
    ]
    if overrides:
        raise EncodeError(
            f"Gemini Live has no per-response settings ({', '.join(overrides)}); "
            "send ResponseCreate() and change the session instead"
        )


class GeminiCodec:
    """The Gemini Live wire format, in all four directions, normalized to the GA vocabulary.

    One instance per connection: it keeps the state Gemini's stream needs. Client side: the
    options in force, a ``Resampler`` from the app's input rate
    (``SessionOptions.input_audio_format.rate``, default 16000 Hz) to Gemini's 16000 Hz, whether
    a push-to-talk activity is open, and whether a response is expected. Server side: the
    synthesized response lifecycle (ids ``resp_<n>`` and ``item_<n>``, numbered per
    connection, or on from the previous connection's for a ``successor``).
    ``docs/gemini.md`` has the full mapping both ways.

    Outgoing JSON is camelCase; incoming frames may be text or binary, camelCase or
    snake_case, with standard or URL-safe base64.

    ``encode_client`` changes that state (the first ``SessionUpdate`` is the ``setup``, audio
    goes through the resampler, ...), so call it exactly once per message that goes on the
    wire; ``check_client`` is pure: it validates a message against the options it is given,
    and reads and changes nothing of the codec's.
    """

    client_types: ClassVar[frozenset[type[m.ClientMessage]]] = frozenset(
        {
            m.SessionUpdate,
            m.InputAudioBufferAppend,
            m.InputAudioBufferCommit,
            m.ConversationItemCreate,
            m.ResponseCreate,
        }
    )
    server_types: ClassVar[frozenset[type[m.ServerMessage]]] = frozenset(
        {
            m.SessionCreated,
            m.ResponseCreated,
            m.ResponseDone,
            m.ResponseOutputItemAdded,
            m.ResponseOutputItemDone,
            m.ResponseContentPartAdded,
            m.ResponseContentPartDone,
            m.ResponseOutputAudioDelta,
            m.ResponseOutputAudioDone,
            m.ResponseOutputAudioTranscriptDelta,
            m.ResponseOutputAudioTranscriptDone,
            m.ResponseOutputTextDelta,
            m.ResponseOutputTextDone,
            m.ResponseFunctionCallArgumentsDone,
            m.ConversationItemInputAudioTranscriptionDelta,
            m.ConversationItemInputAudioTranscriptionCompleted,
            m.InputAudioBufferSpeechStarted,
            m.InputAudioBufferSpeechStopped,
            m.ToolCallCancellation,
            m.GoAway,
            m.SessionResumptionUpdate,
            m.UsageMetadata,
        }
    )

    def __init__(
        self, *, model: str | None = None, resampler: ResamplerFactory | None = None
    ) -> None:
        """
        Args:
            model: the model for a ``setup`` whose options name none (``SessionOptions.model``
                ``None``), e.g. the provider's; without it such a setup raises ``EncodeError``.
            resampler: makes the streaming resamplers that bring audio at other rates to
                Gemini's 16 kHz input (``rtsession.audio.Resampler``, as ``GeminiLive`` and
                ``rtsession.local`` give it); the codec itself does no signal processing.
                Without one, input audio must be 16 kHz (else ``EncodeError``, and a client
                frame at another rate does not decode).
        """
        self._model = model
        self._make_resampler = resampler
        self._options: m.SessionOptions | None = None
        self._resampler: StreamResampler | None = None  # app rate -> 16 kHz, when they differ
        self._push_to_talk = False
        self._activity_open = False
        self._input_bytes = 0
        self._expecting: int | None = None
        self._synthesizer = Synthesizer()
        self._server = ServerEncoder()
        self._inbound: StreamResampler | None = None

    def successor(self) -> GeminiCodec:
        """A codec for the next connection of the same session (session resumption).

        Its first ``SessionUpdate`` is a ``setup`` again and its per-connection state is new,
        but what the app sees carries on: ids continue from this codec's (no ``resp_<n>`` or
        ``item_<n>`` repeats), the function names of the calls decoded so far are kept (a
        ``toolResponse`` on the new connection still names its function), and so is the
        input resampler with the audio it holds back, so no input audio is lost between the
        connections.
        """
        successor = GeminiCodec(model=self._model, resampler=self._make_resampler)
        successor._resampler = self._resampler
        successor._synthesizer = self._synthesizer.successor()
        return successor

    # --- client direction: the app's messages to frames ----------------------------------------

    def encode_client(self, message: m.ClientMessage) -> list[Frame]:
        """Encode one client message as zero or more text frames.

        ``SessionUpdate``: the first is the ``setup``; later ones change the instructions and
        tools (``contextUpdate``). ``InputAudioBufferAppend``: ``realtimeInput.audio`` at
        16000 Hz (none while the resampler holds the audio back), preceded in push-to-talk by
        ``activityStart``. ``InputAudioBufferCommit``: the held-back audio, then
        ``activityEnd`` (push-to-talk) or ``audioStreamEnd``. ``ConversationItemCreate``: a user
        or assistant message as ``clientContent`` with ``turnComplete: false``, a function
        output as ``toolResponse``. ``ResponseCreate``: ``clientContent`` with
        ``turnComplete: true``, or nothing when Gemini is already responding or will (after a
        commit, a tool response or an earlier ``ResponseCreate``). ``message_id`` is not
        carried.

        Raises:
            EncodeError: Gemini Live cannot carry the message or one of its settings (the
                message says what and why).
        """
        return [_frame(out) for out in self._encode_client(message)]

    def check_client(
        self, message: m.ClientMessage, in_force: m.SessionOptions | None = None
    ) -> None:
        """Raise what ``encode_client`` would raise for ``message`` on a connection whose
        options are ``in_force`` (``None``: no setup sent yet, so a ``SessionUpdate`` is the
        setup; otherwise it is a ``contextUpdate``, which may change only the instructions and
        the tools). Pure: the codec's own state is neither read nor changed.

        Raises:
            EncodeError: Gemini Live cannot carry the message.
        """
        if isinstance(message, m.SessionUpdate):
            frames = self._setup_or_update(message.session, in_force)[1]
        elif isinstance(message, m.ConversationItemCreate):
            rate = (None if in_force is None else input_rate(in_force)) or INPUT_RATE
            frames = _item_frames(message, rate, {}, self._make_resampler)
        elif isinstance(message, m.ResponseCreate):
            _check_response_create(message)
            return
        elif isinstance(message, m.RawClientMessage):
            frames = [message.payload]
        elif isinstance(message, m.InputAudioBufferAppend | m.InputAudioBufferCommit):
            return
        else:
            raise _not_carried(message)
        for out in frames:
            _frame(out)

    def _encode_client(self, message: m.ClientMessage) -> list[Out]:
        if isinstance(message, m.RawClientMessage):
            return [message.payload]
        if isinstance(message, m.SessionUpdate):
            return self._session_update(message.session)
        if isinstance(message, m.InputAudioBufferAppend):
            return self._append(message.audio)
        if isinstance(message, m.InputAudioBufferCommit):
            return self._commit()
        if isinstance(message, m.ConversationItemCreate):
            frames = _item_frames(
                message, self._app_rate, self._synthesizer.call_names, self._make_resampler
            )
            if isinstance(message.item, m.FunctionCallOutputItem):
                self._expecting = self._synthesizer.responses_opened
            return frames
        if isinstance(message, m.ResponseCreate):
            return self._response_create(message)
        raise _not_carried(message)

    def _setup_or_update(
        self, options: m.SessionOptions, in_force: m.SessionOptions | None
    ) -> tuple[m.SessionOptions, list[Out]]:
        """The options in force after ``options``, and the frame that applies them: the
        ``setup`` when nothing is in force yet, else a ``contextUpdate`` (if anything
        changes)."""
        if in_force is None:
            merged = self._with_model(options)
            frames: list[Out] = [{"setup": setup_from_options(merged)}]
        else:
            merged, update = context_update(self._with_model(in_force), options)
            frames = [] if update is None else [{"contextUpdate": update}]
        rate = input_rate(merged) or INPUT_RATE
        if rate != INPUT_RATE and self._make_resampler is None:
            raise EncodeError(f"SessionOptions.input_audio_format is {rate} Hz: {NO_RESAMPLER}")
        return merged, frames

    def _with_model(self, options: m.SessionOptions) -> m.SessionOptions:
        """``options`` naming this codec's model when they name none."""
        if options.model is None and self._model is not None:
            return attrs.evolve(options, model=self._model)
        return options

    def _session_update(self, options: m.SessionOptions) -> list[Out]:
        merged, frames = self._setup_or_update(options, self._options)
        self._options = merged
        self._push_to_talk = isinstance(merged.turn_detection, m.Disabled)
        rate = self._app_rate
        held = self._resampler
        if rate != (INPUT_RATE if held is None else held.from_rate):
            make = self._make_resampler
            self._resampler = None if rate == INPUT_RATE or make is None else make(rate, INPUT_RATE)
        return frames

    @property
    def _app_rate(self) -> int:
        return (None if self._options is None else input_rate(self._options)) or INPUT_RATE

    def _append(self, audio: bytes) -> list[Out]:
        frames: list[Out] = []
        if self._push_to_talk and not self._activity_open:
            self._activity_open = True
            frames.append(_ACTIVITY_START)
        self._input_bytes += len(audio)
        pcm = audio if self._resampler is None else self._resampler.process(audio)
        return [*frames, _audio(pcm)] if pcm else frames

    def _commit(self) -> list[Out]:
        tail = b"" if self._resampler is None else self._resampler.flush()
        frames: list[Out] = [_audio(tail)] if tail else []
        if self._push_to_talk and not self._activity_open:
            return frames
        self._activity_open = False
        self._expecting = self._synthesizer.responses_opened
        return [*frames, _ACTIVITY_END if self._push_to_talk else _AUDIO_STREAM_END]

    def _response_create(self, message: m.ResponseCreate) -> list[Out]:
        _check_response_create(message)
        if self._synthesizer.response_open or (
            self._expecting == self._synthesizer.responses_opened
        ):
            return []
        self._expecting = self._synthesizer.responses_opened
        return [_TURN_COMPLETE]

    # --- server direction: frames from the service to messages ---------------------------------

    def decode_server(self, frame: Frame) -> list[m.ServerMessage]:
        """Decode one frame from the service into messages; never raises.

        Returns:
            The messages the frame stands for, in order, each with ``raw`` set to the whole
            frame: typed messages with the synthesized lifecycle, then ``UsageMetadata``
            for usage outside a response, then a ``RawServerMessage`` with whatever the frame
            holds that is not mapped (unknown messages and fields, thoughts, grounding, ...).
            Possibly none (e.g. ``generationComplete`` after the content ended). A frame
            that is not a JSON object, or whose known fields are malformed, is one
            ``InvalidServerMessage`` and changes no state.
        """
        payload = loads_object(frame)
        if isinstance(payload, str):
            return [invalid_frame(frame, payload)]
        session = self._options or m.SessionOptions()
        input_ms = self._input_bytes // 2 * 1000 // self._app_rate
        try:
            return self._synthesizer.decode(payload, session, input_ms)
        except MALFORMED as exc:  # a WireError (a ValueError), or what bad input may cause
            return [invalid_frame(frame, str(exc))]

    def encode_server(self, message: m.ServerMessage) -> list[Frame]:
        """Encode one server message as zero or more text frames (used by
        ``rtsession.local``); the inverse of ``decode_server``.

        Lifecycle events Gemini implies (``ResponseCreated``, output item and content part
        added, ...) give no frame. ``RawServerMessage`` is sent as its payload and
        ``InvalidServerMessage`` as its frame.

        Raises:
            EncodeError: Gemini Live has no equivalent of the message (``Error``,
                ``SessionUpdated``, conversation item events, ...).
        """
        if isinstance(message, m.InvalidServerMessage):
            return [message.frame]
        return [dumps(p) for p in self._server.encode(message)]

    # --- server side: client frames to messages ------------------------------------------------

    def decode_client(self, frame: Frame) -> list[m.ClientMessage]:
        """Decode one client frame (the server direction, used by ``rtsession.local``).

        ``setup`` and ``contextUpdate`` are ``SessionUpdate``; ``realtimeInput`` audio is
        ``InputAudioBufferAppend`` at 16000 Hz (resampled from another declared rate),
        ``activityEnd`` and ``audioStreamEnd`` are ``InputAudioBufferCommit``, ``activityStart``
        is nothing, text is a user message plus ``ResponseCreate``, a video frame a user image;
        ``clientContent`` turns are messages, with ``ResponseCreate`` for ``turnComplete``;
        ``toolResponse`` entries are function call outputs.

        Raises:
            DecodeError: the frame is not a JSON object with exactly one known message, or a
                field is missing or mistyped (``param`` is its camelCase path).
        """
        payload = loads_object(frame)
        if isinstance(payload, str):
            raise DecodeError(payload, code="invalid_json")
        if len(payload) != 1:
            raise DecodeError(
                f"A client message has exactly one of {', '.join(_CLIENT_MESSAGES)}; "
                f"got {len(payload)} fields",
                code="invalid_value",
            )
        ((key, value),) = payload.items()
        name = camel(key)
        if name not in _CLIENT_MESSAGES:
            raise DecodeError(
                f"Unknown client message {key!r}; expected one of {', '.join(_CLIENT_MESSAGES)}",
                code="invalid_value",
                param=key,
            )
        if not isinstance(value, dict):
            raise DecodeError(f"{name}: expected an object", code="invalid_type", param=name)
        try:
            messages = self._decode_client(name, value)
        except WireError as exc:
            code = "missing_required_parameter" if exc.missing else "invalid_type"
            raise DecodeError(
                f"Invalid {name!r} message: {exc}", code=code, param=exc.param
            ) from None
        for message in messages:
            object.__setattr__(message, "raw", payload)
        return messages

    def _decode_client(self, name: str, value: Payload) -> list[m.ClientMessage]:
        if name == "setup":
            return [m.SessionUpdate(session=options_from_setup(value))]
        if name == "contextUpdate":
            return [m.SessionUpdate(session=options_from_context_update(value))]
        if name == "toolResponse":
            entries = optional_list(value, "functionResponses", name)
            return [
                m.ConversationItemCreate(
                    item=output_from_response(e, f"{name}.functionResponses[{i}]")
                )
                for i, e in enumerate(entries)
            ]
        if name == "clientContent":
            out: list[m.ClientMessage] = [
                m.ConversationItemCreate(
                    item=item_from_turn(t, f"{name}.turns[{i}]", self._make_resampler)
                )
                for i, t in enumerate(optional_list(value, "turns", name))
            ]
            if optional(value, "turnComplete", bool, name):
                out.append(m.ResponseCreate())
            return out
        return self._realtime_input(value)

    def _realtime_input(self, value: Payload) -> list[m.ClientMessage]:
        path = "realtimeInput"
        out: list[m.ClientMessage] = []
        for key, field in value.items():
            name = camel(key)
            where = f"{path}.{name}"
            if name == "audio":
                out += self._inbound_audio(field, where)
            elif name == "mediaChunks":
                for i, blob in enumerate(optional_list(value, name, path)):
                    out += self._inbound_audio(blob, f"{where}[{i}]", images=True)
            elif name == "video":
                image = part_from_blob(field, where, self._make_resampler)
                if not isinstance(image, m.InputImage):
                    raise WireError("expected an image", f"{where}.mimeType")
                out.append(_user_message(image))
            elif name == "text":
                text = required(value, name, str, path)
                out += [_user_message(m.InputText(text=text)), m.ResponseCreate()]
            elif name in ("activityEnd", "audioStreamEnd"):
                if name == "activityEnd" or optional(value, name, bool, path):
                    tail = b"" if self._inbound is None else self._inbound.flush()
                    out += [m.InputAudioBufferAppend(audio=tail)] if tail else []
                    out.append(m.InputAudioBufferCommit())
            elif name != "activityStart":
                raise WireError("unknown field", where)
        return out

    def _inbound_audio(
        self, blob: Any, path: str, *, images: bool = False
    ) -> list[m.ClientMessage]:
        if not isinstance(blob, dict):
            raise WireError(f"expected an object, got {type(blob).__name__}", path)
        mime_type = required(blob, "mimeType", str, path)
        if images and mime_type.lower().startswith("image/"):
            return [_user_message(part_from_blob(blob, path, self._make_resampler))]
        rate = pcm_rate(mime_type)
        if rate is None:
            raise WireError(f"unsupported MIME type {mime_type!r}", f"{path}.mimeType")
        data = required(blob, "data", bytes, path)
        if rate == INPUT_RATE:  # as Gemini takes it: no resampling (what was held goes first)
            pcm = (b"" if self._inbound is None else self._inbound.flush()) + data
            self._inbound = None
        else:
            if self._inbound is None or self._inbound.from_rate != rate:
                if self._make_resampler is None:
                    raise WireError(f"{rate} Hz audio: {NO_RESAMPLER}", f"{path}.mimeType")
                self._inbound = self._make_resampler(rate, INPUT_RATE)
            pcm = self._inbound.process(data)
        return [m.InputAudioBufferAppend(audio=pcm)] if pcm else []


def _user_message(part: m.ContentPart) -> m.ConversationItemCreate:
    return m.ConversationItemCreate(item=m.MessageItem(role="user", content=(part,)))
