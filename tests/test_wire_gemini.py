"""The Gemini Live codec: client round trips, the google-genai models as oracle, the synthesized
response lifecycle and its round trip, and everything that must not crash.

Round-trip units (docs/gemini.md, "Round trips"):

- client direction: one client message, fresh codecs on both ends:
  ``server.decode_client(client.encode_client(m)) == [m]`` for every message Gemini carries,
  written in Gemini's terms (16 kHz audio, no item ids, output JSON as compact objects);
- server direction: a *sequence*. Gemini frames have no lifecycle events, so one frame is
  several messages and many messages need no frame. The unit is a decoded sequence: decode a
  script of Gemini frames to ``S``, encode ``S`` with ``encode_server``, decode the frames
  again on a fresh codec, and get ``S`` back exactly (ids included);
- stateless server messages (``GoAway``, ``SessionResumptionUpdate``, ...) round-trip alone.
"""

from __future__ import annotations

import base64
import json
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
from google.genai import types as gt
from hypothesis import given, settings, strategies as st

from rtsession import DecodeError, EncodeError, messages as m
from rtsession.audio import Resampler, resample
from rtsession.testing import strategies as rts
from rtsession.wire import Codec
from rtsession.wire.gemini import GeminiCodec

FIXTURES = Path(__file__).parent / "fixtures" / "gemini"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def decode_all(codec: GeminiCodec, frames: Iterable[Any]) -> list[m.ServerMessage]:
    out: list[m.ServerMessage] = []
    for frame in frames:
        out += codec.decode_server(frame if isinstance(frame, str | bytes) else orjson.dumps(frame))
    return out


def test_is_a_codec() -> None:
    codec: Codec = GeminiCodec(resampler=Resampler)
    assert codec.client_types == GeminiCodec.client_types


# --- strategies --------------------------------------------------------------------------------

ids = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12)
texts = rts.text
small = st.integers(0, 10**6)
json_objects = st.dictionaries(texts, rts.json_values, max_size=3)


def opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def tuples(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(strategy, max_size=3).map(tuple)


function_tools = st.builds(
    m.FunctionTool, name=ids, description=opt(texts), parameters=opt(json_objects)
)
extensions = st.builds(
    m.GeminiSessionOptions,
    session_resumption=opt(
        st.builds(m.SessionResumption, handle=opt(texts), transparent=opt(st.booleans()))
    ),
    context_window_compression=opt(
        st.builds(m.ContextWindowCompression, trigger_tokens=opt(small), target_tokens=opt(small))
    ),
    output_audio_transcription=st.sampled_from([None, False]),
    start_of_speech_sensitivity=st.sampled_from([None, "high", "low"]),
    end_of_speech_sensitivity=st.sampled_from([None, "high", "low"]),
    turn_coverage=st.sampled_from(
        [None, "only_activity", "all_input", "audio_activity_and_all_video"]
    ),
    media_resolution=st.sampled_from([None, "low", "medium", "high"]),
    temperature=opt(st.floats(0, 2)),
    proactive_audio=opt(st.booleans()),
    affective_dialog=opt(st.booleans()),
    google_search=st.sampled_from([None, True]),
    code_execution=st.sampled_from([None, True]),
).filter(lambda ext: ext != m.GeminiSessionOptions())
session_options = st.builds(
    m.SessionOptions,
    model=ids,
    instructions=opt(texts),
    voice=opt(texts),
    output_modalities=opt(st.sampled_from([("audio",), ("text",)])),
    tools=opt(tuples(function_tools)),
    max_output_tokens=opt(st.integers(1, 4096)),
    input_transcription=opt(st.builds(m.InputTranscription, language=opt(ids))),
    turn_detection=opt(
        st.just(m.DISABLED)
        | st.builds(
            m.ServerVad,
            prefix_padding_ms=opt(small),
            silence_duration_ms=opt(small),
            interrupt_response=opt(st.booleans()),
        )
    ),
    gemini=opt(extensions),
)
"""Session options in Gemini's terms: what ``setup`` carries, written as decoding gives it."""

images = st.builds(
    m.InputImage.from_bytes, st.binary(max_size=24), st.sampled_from(["image/png", "image/jpeg"])
)
pcm16 = st.binary(max_size=64).map(lambda b: b[: len(b) // 2 * 2])
user_messages = st.builds(
    m.MessageItem,
    role=st.just("user"),
    content=tuples(
        st.builds(m.InputText, text=texts) | images | pcm16.map(lambda a: m.InputAudio(audio=a))
    ),
)
assistant_messages = st.builds(
    m.MessageItem, role=st.just("assistant"), content=tuples(st.builds(m.OutputText, text=texts))
)
function_outputs = st.builds(
    m.FunctionCallOutputItem,
    call_id=ids,
    output=json_objects.map(lambda obj: orjson.dumps(obj).decode()),
)
client_messages = st.one_of(
    session_options.map(lambda o: m.SessionUpdate(session=o)),
    st.binary(min_size=1, max_size=320).map(lambda a: m.InputAudioBufferAppend(audio=a)),
    st.just(m.InputAudioBufferCommit()),
    (user_messages | assistant_messages | function_outputs).map(
        lambda item: m.ConversationItemCreate(item=item)
    ),
    st.just(m.ResponseCreate()),
)
"""Every client message Gemini carries, in Gemini's terms."""


# --- client direction: round trips -------------------------------------------------------------


def test_client_types() -> None:
    assert GeminiCodec.client_types == {
        m.SessionUpdate,
        m.InputAudioBufferAppend,
        m.InputAudioBufferCommit,
        m.ConversationItemCreate,
        m.ResponseCreate,
    }


@settings(max_examples=1500)
@given(client_messages)
def test_client_round_trip(message: m.ClientMessage) -> None:
    client, server = GeminiCodec(resampler=Resampler), GeminiCodec(resampler=Resampler)
    frames = client.encode_client(message)
    assert all(isinstance(f, str) for f in frames)
    assert [d for f in frames for d in server.decode_client(f)] == [message]


@settings(max_examples=300)
@given(session_options, session_options)
def test_context_update_round_trip(first: m.SessionOptions, second: m.SessionOptions) -> None:
    """A mid-session update of the instructions and tools is a ``contextUpdate`` that decodes
    to exactly the fields that changed."""
    client, server = GeminiCodec(resampler=Resampler), GeminiCodec(resampler=Resampler)
    client.encode_client(m.SessionUpdate(session=first))
    change = m.SessionOptions(instructions=second.instructions, tools=second.tools)
    frames = client.encode_client(m.SessionUpdate(session=change))
    decoded = [d for f in frames for d in server.decode_client(f)]
    changed = m.SessionOptions(
        instructions=None if second.instructions == first.instructions else second.instructions,
        tools=None if second.tools is None or second.tools == first.tools else second.tools,
    )
    if changed == m.SessionOptions():
        assert decoded == []
        return
    builtins = None
    if changed.tools is not None and first.gemini is not None:
        # contextUpdate replaces the whole tool list: the built-in tools in force go along
        ext = first.gemini
        kept = m.GeminiSessionOptions(
            google_search=ext.google_search, code_execution=ext.code_execution
        )
        builtins = None if kept == m.GeminiSessionOptions() else kept
    assert decoded == [m.SessionUpdate(session=attrs.evolve(changed, gemini=builtins))]


def test_session_options_normalized_away() -> None:
    """What ``setup`` does not carry comes back as ``None`` (docs/gemini.md)."""
    options = m.SessionOptions(
        model="models/gemini-x",
        tool_choice="auto",
        max_output_tokens="inf",
        input_transcription=m.DISABLED,
        noise_reduction=m.DISABLED,
        turn_detection=m.ServerVad(create_response=True),
        input_audio_format=m.AudioFormat(rate=24000),
        output_audio_format=m.AudioFormat(rate=24000),
        openai=m.OpenAISessionOptions(tracing="auto"),
        gemini=m.GeminiSessionOptions(
            output_audio_transcription=True, google_search=False, code_execution=False
        ),
    )
    (frame,) = GeminiCodec(resampler=Resampler).encode_client(
        m.SessionUpdate(session=options, message_id="e1")
    )
    (decoded,) = GeminiCodec(resampler=Resampler).decode_client(frame)
    assert decoded == m.SessionUpdate(
        session=m.SessionOptions(model="gemini-x", turn_detection=m.ServerVad())
    )


def test_setup_wire_shape() -> None:
    options = m.SessionOptions(
        model="gemini-live-2.5-flash",
        instructions="Be terse.",
        voice="Kore",
        output_modalities=("audio",),
        tools=(m.FunctionTool(name="get_weather", parameters={"type": "object"}),),
        input_transcription=m.InputTranscription(language="en"),
        turn_detection=m.ServerVad(silence_duration_ms=300, interrupt_response=False),
        gemini=m.GeminiSessionOptions(
            session_resumption=m.SessionResumption(handle="h-1"),
            context_window_compression=m.ContextWindowCompression(target_tokens=12800),
            start_of_speech_sensitivity="low",
            google_search=True,
        ),
    )
    (frame,) = GeminiCodec(resampler=Resampler).encode_client(m.SessionUpdate(session=options))
    assert orjson.loads(frame) == {
        "setup": {
            "model": "models/gemini-live-2.5-flash",
            "generationConfig": {
                "responseModalities": ["AUDIO"],
                "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}},
            },
            "systemInstruction": {"parts": [{"text": "Be terse."}], "role": "user"},
            "tools": [
                {
                    "functionDeclarations": [
                        {"name": "get_weather", "parametersJsonSchema": {"type": "object"}}
                    ]
                },
                {"googleSearch": {}},
            ],
            "realtimeInputConfig": {
                "automaticActivityDetection": {
                    "disabled": False,
                    "silenceDurationMs": 300,
                    "startOfSpeechSensitivity": "START_SENSITIVITY_LOW",
                },
                "activityHandling": "NO_INTERRUPTION",
            },
            "inputAudioTranscription": {"languageCodes": ["en"]},
            "outputAudioTranscription": {},
            "sessionResumption": {"handle": "h-1"},
            "contextWindowCompression": {"slidingWindow": {"targetTokens": 12800}},
        }
    }


def test_push_to_talk_turn() -> None:
    """Push-to-talk: the first append opens an activity, the commit closes it; Gemini answers
    on its own, so ``ResponseCreate`` sends nothing until that response has started."""
    client, server = GeminiCodec(resampler=Resampler), GeminiCodec(resampler=Resampler)
    client.encode_client(
        m.SessionUpdate(session=m.SessionOptions(model="g", turn_detection=m.DISABLED))
    )
    wire = [orjson.loads(f) for f in client.encode_client(m.InputAudioBufferAppend(audio=b"\1\0"))]
    assert wire == [
        {"realtimeInput": {"activityStart": {}}},
        {"realtimeInput": {"audio": {"data": "AQA=", "mimeType": "audio/pcm;rate=16000"}}},
    ]
    assert [
        orjson.loads(f) for f in client.encode_client(m.InputAudioBufferAppend(audio=b"\2\0"))
    ] == [{"realtimeInput": {"audio": {"data": "AgA=", "mimeType": "audio/pcm;rate=16000"}}}]
    (end,) = client.encode_client(m.InputAudioBufferCommit())
    assert orjson.loads(end) == {"realtimeInput": {"activityEnd": {}}}
    assert client.encode_client(m.ResponseCreate()) == []
    assert client.encode_client(m.InputAudioBufferCommit()) == []  # nothing appended since
    decoded = [d for f in wire for d in server.decode_client(orjson.dumps(f))]
    assert decoded == [m.InputAudioBufferAppend(audio=b"\1\0")]
    assert server.decode_client(end) == [m.InputAudioBufferCommit()]
    # once the response has started and ended, ResponseCreate asks for a new one
    decode_all(client, [_audio_frame(b"\0\0"), {"serverContent": {"turnComplete": True}}])
    assert client.encode_client(m.ResponseCreate()) == ['{"clientContent":{"turnComplete":true}}']


def test_text_turn_needs_response_create() -> None:
    """A user text item is added without a reply (``turnComplete: false``);
    ``ResponseCreate`` completes the turn, as ``response.create`` does on OpenAI."""
    codec = GeminiCodec(resampler=Resampler)
    item = m.MessageItem(role="user", content=(m.InputText(text="Hi"),))
    (add,) = codec.encode_client(m.ConversationItemCreate(item=item))
    assert orjson.loads(add) == {
        "clientContent": {
            "turns": [{"role": "user", "parts": [{"text": "Hi"}]}],
            "turnComplete": False,
        }
    }
    assert codec.encode_client(m.ResponseCreate()) == ['{"clientContent":{"turnComplete":true}}']
    assert codec.encode_client(m.ResponseCreate()) == []  # already asked


@settings(max_examples=50)
@given(
    st.lists(st.binary(min_size=0, max_size=2000).map(lambda b: b[: len(b) // 2 * 2]), max_size=8)
)
def test_input_audio_is_resampled_to_16k(chunks: list[bytes]) -> None:
    """24 kHz app audio reaches Gemini as 16 kHz, exactly ``resample`` of the whole stream,
    however it was split; the commit flushes what the resampler held back."""
    client, server = GeminiCodec(resampler=Resampler), GeminiCodec(resampler=Resampler)
    options = m.SessionOptions(model="g", input_audio_format=m.AudioFormat(rate=24000))
    client.encode_client(m.SessionUpdate(session=options))
    frames = [f for c in chunks for f in client.encode_client(m.InputAudioBufferAppend(audio=c))]
    frames += client.encode_client(m.InputAudioBufferCommit())
    decoded = [d for f in frames for d in server.decode_client(f)]
    assert decoded[-1] == m.InputAudioBufferCommit()
    audio = b"".join(d.audio for d in decoded if isinstance(d, m.InputAudioBufferAppend))
    assert audio == resample(b"".join(chunks), 24000, 16000)


def test_decode_client_resamples_a_declared_rate() -> None:
    server = GeminiCodec(resampler=Resampler)
    pcm = bytes(range(256)) * 10
    blob = {"data": b64(pcm), "mimeType": "audio/pcm;rate=48000"}
    out = server.decode_client(orjson.dumps({"realtimeInput": {"audio": blob}}))
    out += server.decode_client(b'{"realtimeInput": {"audioStreamEnd": true}}')
    audio = b"".join(d.audio for d in out if isinstance(d, m.InputAudioBufferAppend))
    assert audio == resample(pcm, 48000, 16000)
    assert out[-1] == m.InputAudioBufferCommit()


def test_function_output_wire_shape() -> None:
    """``output`` JSON objects are sent as is; anything else is wrapped as ``{"output": ...}``;
    the name comes from the decoded ``toolCall``."""
    codec = GeminiCodec(resampler=Resampler)
    decode_all(codec, [{"toolCall": {"functionCalls": [{"id": "fc-1", "name": "get_weather"}]}}])
    cases = [('{"t": 21}', {"t": 21}), ("21", {"output": 21}), ("sunny", {"output": "sunny"})]
    for output, response in cases:
        item = m.FunctionCallOutputItem(call_id="fc-1", output=output)
        (frame,) = codec.encode_client(m.ConversationItemCreate(item=item))
        assert orjson.loads(frame) == {
            "toolResponse": {
                "functionResponses": [{"id": "fc-1", "name": "get_weather", "response": response}]
            }
        }
    (decoded,) = GeminiCodec(resampler=Resampler).decode_client(frame)
    assert decoded == m.ConversationItemCreate(
        item=m.FunctionCallOutputItem(call_id="fc-1", output='{"output":"sunny"}')
    )


def test_check_client_has_no_side_effects() -> None:
    """``check_client`` validates without advancing the state (the session calls it at the
    app's edge, then ``encode_client`` in the writer)."""
    checked, fresh = GeminiCodec(resampler=Resampler), GeminiCodec(resampler=Resampler)
    setup = m.SessionUpdate(
        session=m.SessionOptions(
            model="g", turn_detection=m.DISABLED, input_audio_format=m.AudioFormat(rate=24000)
        )
    )
    script: list[m.ClientMessage] = [
        setup,
        m.InputAudioBufferAppend(audio=bytes(range(200)) * 10),
        m.InputAudioBufferAppend(audio=bytes(range(200)) * 10),
        m.InputAudioBufferCommit(),
        m.ResponseCreate(),
        m.ConversationItemCreate(item=m.FunctionCallOutputItem(call_id="c", output="{}")),
        m.ResponseCreate(),
    ]
    for message in script:
        checked.check_client(message)
        checked.check_client(message)
        assert checked.encode_client(message) == fresh.encode_client(message)
    with pytest.raises(EncodeError, match="speechConfig"):
        checked.check_client(m.SessionUpdate(session=m.SessionOptions(voice="Puck")), setup.session)


def test_check_client_is_judged_against_the_options_it_is_given() -> None:
    """The session checks at send time and the writer encodes later: ``check_client`` is
    pure, and an update is a setup or a contextUpdate by the options in force it is given."""
    codec = GeminiCodec(resampler=Resampler)
    setup = m.SessionUpdate(session=m.SessionOptions(model="g", voice="Kore"))
    voice = m.SessionUpdate(session=m.SessionOptions(model="g", voice="Puck"))
    codec.check_client(setup)
    codec.check_client(m.SessionUpdate(session=m.SessionOptions(instructions="x")), setup.session)
    with pytest.raises(EncodeError, match="speechConfig"):
        codec.check_client(voice, setup.session)
    codec.check_client(voice)  # as a first update it is a setup, and fine
    (frame,) = codec.encode_client(setup)  # the checks changed nothing
    assert "setup" in orjson.loads(frame)


# --- client direction: what Gemini cannot carry ------------------------------------------------


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (m.InputAudioBufferClear(), "cannot discard input audio"),
        (m.OutputAudioBufferClear(), "no server-side output buffer"),
        (
            m.ConversationItemTruncate(item_id="i", content_index=0, audio_end_ms=5),
            "no addressable",
        ),
        (m.ConversationItemDelete(item_id="i"), "no addressable"),
        (m.ConversationItemRetrieve(item_id="i"), "no addressable"),
        (m.ResponseCancel(), "no response cancel"),
        (
            m.ResponseCreate(instructions="x", voice="v"),
            r"per-response settings \(instructions, voice\)",
        ),
        (
            m.SessionUpdate(session=m.SessionOptions(model="g", kind="transcription")),
            "transcription-only",
        ),
        (m.SessionUpdate(session=m.SessionOptions(instructions="x")), "needs SessionOptions.model"),
        (
            m.SessionUpdate(
                session=m.SessionOptions(
                    model="g",
                    output_speed=1.2,
                    tool_choice="required",
                    noise_reduction=m.NoiseReduction(type="near_field"),
                    input_transcription=m.InputTranscription(model="whisper-1"),
                    input_audio_format=m.AudioFormat(type="audio/pcmu"),
                    output_audio_format=m.AudioFormat(rate=16000),
                    turn_detection=m.ServerVad(
                        threshold=0.5, idle_timeout_ms=5, create_response=False
                    ),
                    tools=(m.McpTool(server_label="deepwiki"),),
                )
            ),
            "output_speed.*tool_choice='required'.*noise_reduction.*input_transcription.model"
            ".*audio/pcmu.*output_audio_format.*threshold.*idle_timeout_ms.*create_response=False"
            ".*'deepwiki'",
        ),
        (
            m.SessionUpdate(session=m.SessionOptions(model="g", turn_detection=m.SemanticVad())),
            "SemanticVad",
        ),
        (
            m.ConversationItemCreate(
                item=m.MessageItem(role="system", content=(m.InputText(text="x"),))
            ),
            "no system messages",
        ),
        (
            m.ConversationItemCreate(item=m.MessageItem(role="user", id="item_1")),
            "no id or status",
        ),
        (
            m.ConversationItemCreate(
                item=m.MessageItem(
                    role="user", content=(m.InputImage(image_url="https://x/a.png"),)
                )
            ),
            "data: URLs only",
        ),
        (
            m.ConversationItemCreate(
                item=m.MessageItem(role="assistant", content=(m.OutputAudio(audio=b"\0\0"),))
            ),
            "cannot carry OutputAudio",
        ),
        (
            m.ConversationItemCreate(
                item=m.MessageItem(role="user", content=(m.InputAudio(audio=b"\0"),))
            ),
            "even length",
        ),
        (
            m.ConversationItemCreate(item=m.FunctionCallItem(name="f", arguments="{}")),
            "cannot add a FunctionCallItem",
        ),
        (
            m.ConversationItemCreate(item=m.MessageItem(role="user"), previous_item_id="item_1"),
            "appends to the conversation only",
        ),
        (m.InputAudioBufferCleared(), "not a client message"),
    ],
)
def test_encode_client_rejects(message: m.ClientMessage, match: str) -> None:
    codec = GeminiCodec(resampler=Resampler)
    with pytest.raises(EncodeError, match=match):
        codec.check_client(message)
    with pytest.raises(EncodeError, match=match):
        codec.encode_client(message)


def test_mid_session_update_rejects_what_needs_a_new_setup() -> None:
    codec = GeminiCodec(resampler=Resampler)
    first = m.SessionOptions(model="g", voice="Kore", instructions="a")
    codec.encode_client(m.SessionUpdate(session=first))
    # the same options again change nothing Gemini holds: no frame
    assert codec.encode_client(m.SessionUpdate(session=first)) == []
    with pytest.raises(EncodeError, match=r"generationConfig\.speechConfig, model .*contextUpdate"):
        codec.encode_client(m.SessionUpdate(session=m.SessionOptions(model="h", voice="Puck")))
    # the input rate is the codec's business: it changes without a frame
    assert (
        codec.encode_client(
            m.SessionUpdate(session=m.SessionOptions(input_audio_format=m.AudioFormat(rate=8000)))
        )
        == []
    )


def test_raw_client_message_is_sent_as_is() -> None:
    payload = {"realtimeInput": {"video": {"data": "_9j_", "mimeType": "image/jpeg"}}}
    (frame,) = GeminiCodec(resampler=Resampler).encode_client(m.RawClientMessage(payload=payload))
    assert orjson.loads(frame) == payload


# --- the google-genai models as oracle (reference section 10) ----------------------------------

_CLIENT_KEYS = {"setup", "clientContent", "realtimeInput", "toolResponse", "contextUpdate"}
_SERVER_KEYS = {
    "setupComplete",
    "serverContent",
    "toolCall",
    "toolCallCancellation",
    "goAway",
    "sessionResumptionUpdate",
    "voiceActivity",
    "voiceActivityDetectionSignal",
}


def validate_client_frame(frame: str | bytes) -> None:
    """Strict field names (``extra="forbid"``), plus the checks the SDK models skip: one
    message per frame, ``realtimeInputConfig`` (absent from ``LiveClientSetup``) on its own,
    and enum membership (an unknown value only warns; here it fails)."""
    payload = orjson.loads(frame)
    assert len(payload) == 1, payload
    ((key, body),) = payload.items()
    assert re.sub(r"_(\w)", lambda c: c[1].upper(), key) in _CLIENT_KEYS, payload
    setup = body if key == "setup" else None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if setup is not None and "realtimeInputConfig" in setup:
            gt.RealtimeInputConfig.model_validate(setup.pop("realtimeInputConfig"))
        gt.LiveClientMessage.model_validate_json(orjson.dumps(payload))


def validate_server_frame(frame: str | bytes) -> None:
    payload = orjson.loads(frame)
    assert set(payload) - {"usageMetadata"} <= _SERVER_KEYS, payload
    assert len(set(payload) - {"usageMetadata"}) <= 1, payload
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gt.LiveServerMessage.model_validate_json(frame)


@pytest.mark.slow
@settings(max_examples=1000)
@given(session_options, st.lists(client_messages, max_size=6))
def test_sdk_validates_every_encoded_client_message(
    setup: m.SessionOptions, script: list[m.ClientMessage]
) -> None:
    """A session: the setup, then any messages; later updates change what Gemini can."""
    codec = GeminiCodec(resampler=Resampler)
    for message in [m.SessionUpdate(session=setup), *script]:
        if isinstance(message, m.SessionUpdate) and message.session is not setup:
            change = message.session
            message = m.SessionUpdate(
                session=m.SessionOptions(instructions=change.instructions, tools=change.tools)
            )
        for frame in codec.encode_client(message):
            validate_client_frame(frame)


def test_sdk_validates_setup_with_every_setting() -> None:
    options = m.SessionOptions(
        model="g",
        instructions="x",
        voice="Kore",
        output_modalities=("text",),
        tools=(m.FunctionTool(name="f", description="d", parameters={"type": "object"}),),
        max_output_tokens=100,
        input_transcription=m.InputTranscription(language="en"),
        turn_detection=m.ServerVad(
            prefix_padding_ms=20, silence_duration_ms=100, interrupt_response=True
        ),
        gemini=m.GeminiSessionOptions(
            session_resumption=m.SessionResumption(handle="h", transparent=True),
            context_window_compression=m.ContextWindowCompression(
                trigger_tokens=9, target_tokens=5
            ),
            start_of_speech_sensitivity="high",
            end_of_speech_sensitivity="low",
            turn_coverage="audio_activity_and_all_video",
            media_resolution="medium",
            temperature=0.7,
            proactive_audio=True,
            affective_dialog=True,
            google_search=True,
            code_execution=True,
        ),
    )
    codec = GeminiCodec(resampler=Resampler)
    for message in [
        m.SessionUpdate(session=options),
        m.SessionUpdate(session=m.SessionOptions(instructions="y", tools=())),
    ]:
        (frame,) = codec.encode_client(message)
        validate_client_frame(frame)


def test_sdk_oracle_catches_a_typo() -> None:
    with pytest.raises(ValueError, match=r"extra_forbidden|Extra inputs"):
        validate_client_frame('{"setup": {"model": "m", "generationConfig": {"voice": "x"}}}')


# --- server direction: the synthesized lifecycle -----------------------------------------------


def _audio_frame(pcm: bytes) -> dict[str, Any]:
    blob = {"mimeType": "audio/pcm;rate=24000", "data": b64(pcm)}
    return {"serverContent": {"modelTurn": {"parts": [{"inlineData": blob}]}}}


def _where(response: str, item: str, index: int = 0) -> dict[str, Any]:
    return {"response_id": response, "item_id": item, "output_index": index, "content_index": 0}


def _assistant(item: str, transcript: str, status: Any = "completed") -> m.MessageItem:
    return m.MessageItem(
        role="assistant", content=(m.OutputAudio(transcript=transcript),), id=item, status=status
    )


def test_server_types() -> None:
    assert len(GeminiCodec.server_types) == 22


def test_normal_turn() -> None:
    """modelTurn... -> generationComplete -> turnComplete (+ usage): the GA order of
    openai-realtime.md section 5, with the user's transcript completed as the response ends."""
    codec = GeminiCodec(resampler=Resampler)
    usage = {"promptTokenCount": 20, "responseTokenCount": 7, "totalTokenCount": 27}
    decoded = decode_all(
        codec,
        [
            {"setupComplete": {"sessionId": "s-1"}},
            {"serverContent": {"inputTranscription": {"text": "What's up"}}},
            {"serverContent": {"inputTranscription": {"text": "?"}}},
            _audio_frame(b"\1\0\2\0"),
            {"serverContent": {"outputTranscription": {"text": "All"}}},
            _audio_frame(b"\3\0"),
            {"serverContent": {"outputTranscription": {"text": " good"}}},
            {"serverContent": {"generationComplete": True}},
            {"serverContent": {"turnComplete": True}, "usageMetadata": usage},
        ],
    )
    w = _where("resp_1", "item_2")
    done = _assistant("item_2", "All good")
    assert decoded == [
        m.SessionCreated(session=m.SessionOptions(), session_id="s-1"),
        m.ConversationItemInputAudioTranscriptionDelta(
            item_id="item_1", content_index=0, delta="What's up"
        ),
        m.ConversationItemInputAudioTranscriptionDelta(
            item_id="item_1", content_index=0, delta="?"
        ),
        m.ResponseCreated(response=m.Response(id="resp_1", status="in_progress")),
        m.ResponseOutputItemAdded(
            response_id="resp_1",
            output_index=0,
            item=m.MessageItem(role="assistant", id="item_2", status="in_progress"),
        ),
        m.ResponseContentPartAdded(**w, part=m.OutputAudio(transcript="")),
        m.ResponseOutputAudioDelta(**w, delta=b"\1\0\2\0"),
        m.ResponseOutputAudioTranscriptDelta(**w, delta="All"),
        m.ResponseOutputAudioDelta(**w, delta=b"\3\0"),
        m.ResponseOutputAudioTranscriptDelta(**w, delta=" good"),
        m.ResponseOutputAudioDone(**w),
        m.ConversationItemInputAudioTranscriptionCompleted(
            item_id="item_1", content_index=0, transcript="What's up?"
        ),
        m.ResponseOutputAudioTranscriptDone(**w, transcript="All good"),
        m.ResponseContentPartDone(**w, part=m.OutputAudio(transcript="All good")),
        m.ResponseOutputItemDone(response_id="resp_1", output_index=0, item=done),
        m.ResponseDone(
            response=m.Response(
                id="resp_1",
                status="completed",
                output=(done,),
                usage=m.Usage(total_tokens=27, input_tokens=20, output_tokens=7),
            )
        ),
    ]
    assert decoded[0].raw == {"setupComplete": {"sessionId": "s-1"}}


def test_text_turn() -> None:
    decoded = decode_all(
        GeminiCodec(resampler=Resampler),
        [
            {"serverContent": {"modelTurn": {"role": "model", "parts": [{"text": "Hel"}]}}},
            {"serverContent": {"modelTurn": {"parts": [{"text": "lo"}]}, "turnComplete": True}},
        ],
    )
    w = _where("resp_1", "item_1")
    item = m.MessageItem(
        role="assistant", content=(m.OutputText(text="Hello"),), id="item_1", status="completed"
    )
    assert [type(d) for d in decoded] == [
        m.ResponseCreated,
        m.ResponseOutputItemAdded,
        m.ResponseContentPartAdded,
        m.ResponseOutputTextDelta,
        m.ResponseOutputTextDelta,
        m.ResponseOutputTextDone,
        m.ResponseContentPartDone,
        m.ResponseOutputItemDone,
        m.ResponseDone,
    ]
    assert decoded[2] == m.ResponseContentPartAdded(**w, part=m.OutputText(text=""))
    assert decoded[5] == m.ResponseOutputTextDone(**w, text="Hello")
    assert decoded[-1] == m.ResponseDone(
        response=m.Response(id="resp_1", status="completed", output=(item,))
    )


def test_interrupted_turn() -> None:
    """Barge-in as on OpenAI: speech started (with the new user item), the message ends
    ``incomplete``, and the response is ``cancelled`` / ``turn_detected`` at turnComplete."""
    codec = GeminiCodec(resampler=Resampler)
    codec.encode_client(m.SessionUpdate(session=m.SessionOptions(model="g")))
    codec.encode_client(m.InputAudioBufferAppend(audio=bytes(16000)))  # 500 ms at 16 kHz
    decoded = decode_all(
        codec,
        [
            {"serverContent": {"inputTranscription": {"text": "Tell me a story"}}},
            _audio_frame(b"\1\0"),
            {"serverContent": {"outputTranscription": {"text": "Once"}}},
            {"serverContent": {"interrupted": True}},
            {"serverContent": {"inputTranscription": {"text": "Stop"}}},
            {"serverContent": {"turnComplete": True}},
            _audio_frame(b"\2\0"),
            {"serverContent": {"turnComplete": True}},
        ],
    )
    w = _where("resp_1", "item_2")
    cut = _assistant("item_2", "Once", "incomplete")
    assert decoded[6:14] == [
        m.ConversationItemInputAudioTranscriptionCompleted(
            item_id="item_1", content_index=0, transcript="Tell me a story"
        ),
        m.InputAudioBufferSpeechStarted(item_id="item_3", audio_start_ms=500),
        m.ResponseOutputAudioDone(**w),
        m.ResponseOutputAudioTranscriptDone(**w, transcript="Once"),
        m.ResponseContentPartDone(**w, part=m.OutputAudio(transcript="Once")),
        m.ResponseOutputItemDone(response_id="resp_1", output_index=0, item=cut),
        m.ConversationItemInputAudioTranscriptionDelta(
            item_id="item_3", content_index=0, delta="Stop"
        ),
        m.ResponseDone(
            response=m.Response(
                id="resp_1",
                status="cancelled",
                output=(cut,),
                status_details=m.ResponseStatusDetails(type="cancelled", reason="turn_detected"),
            )
        ),
    ]
    # the next response answers the interrupting speech, whose transcript completes with it
    assert [type(d) for d in decoded[14:]] == [
        m.ResponseCreated,
        m.ResponseOutputItemAdded,
        m.ResponseContentPartAdded,
        m.ResponseOutputAudioDelta,
        m.ConversationItemInputAudioTranscriptionCompleted,
        m.ResponseOutputAudioDone,
        m.ResponseOutputAudioTranscriptDone,
        m.ResponseContentPartDone,
        m.ResponseOutputItemDone,
        m.ResponseDone,
    ]
    assert decoded[18] == m.ConversationItemInputAudioTranscriptionCompleted(
        item_id="item_3", content_index=0, transcript="Stop"
    )
    assert decoded[-1].response.id == "resp_2"  # type: ignore[attr-defined]


def test_voice_activity_reports_speech() -> None:
    """Newer servers report VAD (``voiceActivity``, Vertex ``voiceActivityDetectionSignal``):
    those are the speech started / stopped events, and ``interrupted`` does not repeat them."""
    decoded = decode_all(
        GeminiCodec(resampler=Resampler),
        [
            _audio_frame(b"\1\0"),
            {"voiceActivity": {"voiceActivityType": "ACTIVITY_START", "audioOffset": "1.25s"}},
            {"serverContent": {"interrupted": True}},
            {"voice_activity_detection_signal": {"vad_signal_type": "VAD_SIGNAL_TYPE_EOS"}},
        ],
    )
    speech = [d for d in decoded if "Speech" in type(d).__name__]
    assert speech == [
        m.InputAudioBufferSpeechStarted(item_id="item_2", audio_start_ms=1250),
        m.InputAudioBufferSpeechStopped(item_id="item_2", audio_end_ms=0),
    ]


def test_tool_call() -> None:
    """toolCall: the response ends with the calls as items, as on OpenAI, so the function
    invocation middleware runs them on ``ResponseOutputItemDone`` on both providers."""
    codec = GeminiCodec(resampler=Resampler)
    decoded = decode_all(
        codec,
        [
            {"serverContent": {"outputTranscription": {"text": "Let me check."}}},
            {
                "toolCall": {
                    "functionCalls": [
                        {"id": "fc-1", "name": "get_weather", "args": {"city": "Paris"}},
                        {"id": "fc-2", "name": "get_time"},
                    ]
                },
                "usageMetadata": {"totalTokenCount": 9},
            },
        ],
    )
    said = _assistant("item_1", "Let me check.")
    calls = [
        m.FunctionCallItem(
            name="get_weather",
            arguments='{"city":"Paris"}',
            call_id="fc-1",
            id="item_2",
            status="completed",
        ),
        m.FunctionCallItem(
            name="get_time", arguments="{}", call_id="fc-2", id="item_3", status="completed"
        ),
    ]
    assert decoded[8:] == [
        m.ResponseOutputItemAdded(
            response_id="resp_1",
            output_index=1,
            item=m.FunctionCallItem(
                name="get_weather", arguments="", call_id="fc-1", id="item_2", status="in_progress"
            ),
        ),
        m.ResponseFunctionCallArgumentsDone(
            response_id="resp_1",
            item_id="item_2",
            output_index=1,
            call_id="fc-1",
            arguments='{"city":"Paris"}',
            name="get_weather",
        ),
        m.ResponseOutputItemDone(response_id="resp_1", output_index=1, item=calls[0]),
        m.ResponseOutputItemAdded(
            response_id="resp_1",
            output_index=2,
            item=m.FunctionCallItem(
                name="get_time", arguments="", call_id="fc-2", id="item_3", status="in_progress"
            ),
        ),
        m.ResponseFunctionCallArgumentsDone(
            response_id="resp_1",
            item_id="item_3",
            output_index=2,
            call_id="fc-2",
            arguments="{}",
            name="get_time",
        ),
        m.ResponseOutputItemDone(response_id="resp_1", output_index=2, item=calls[1]),
        m.ResponseDone(
            response=m.Response(
                id="resp_1",
                status="completed",
                output=(said, *calls),
                usage=m.Usage(total_tokens=9),
            )
        ),
    ]
    assert decoded[7] == m.ResponseOutputItemDone(response_id="resp_1", output_index=0, item=said)
    # the middleware answers and asks for a response; Gemini goes on by itself
    outputs = [m.FunctionCallOutputItem(call_id=c, output='{"ok": true}') for c in ("fc-1", "fc-2")]
    frames = [f for o in outputs for f in codec.encode_client(m.ConversationItemCreate(item=o))]
    assert orjson.loads(frames[1]) == {
        "toolResponse": {
            "functionResponses": [{"id": "fc-2", "name": "get_time", "response": {"ok": True}}]
        }
    }
    assert codec.encode_client(m.ResponseCreate()) == []


def test_tool_call_cancellation() -> None:
    codec = GeminiCodec(resampler=Resampler)
    frame = b'{"toolCallCancellation": {"ids": ["fc-1", "fc-2"]}}'
    (message,) = codec.decode_server(frame)
    assert message == m.ToolCallCancellation(call_ids=("fc-1", "fc-2"))
    assert codec.encode_server(message) == [frame.decode().replace(" ", "")]


def test_usage_by_modality() -> None:
    usage = {
        "promptTokenCount": 100,
        "cachedContentTokenCount": 40,
        "responseTokenCount": 30,
        "totalTokenCount": 150,
        "thoughtsTokenCount": 20,
        "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": 60},
            {"modality": "AUDIO", "tokenCount": 30},
            {"modality": "IMAGE", "tokenCount": 10},
        ],
        "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 40}],
        "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 30}],
    }
    codec = GeminiCodec(resampler=Resampler)
    decoded = decode_all(
        codec,
        [
            _audio_frame(b"\0\0"),
            {"usageMetadata": usage},
            {"serverContent": {"turnComplete": True}},
        ],
    )
    expected = m.Usage(
        total_tokens=150,
        input_tokens=100,
        output_tokens=30,
        input_text_tokens=60,
        input_audio_tokens=30,
        input_image_tokens=10,
        cached_tokens=40,
        cached_text_tokens=40,
        output_audio_tokens=30,
    )
    assert decoded[-1].response.usage == expected  # type: ignore[attr-defined]
    # usage after the response ended is its own message, naming that response
    (late,) = codec.decode_server(orjson.dumps({"usageMetadata": usage}))
    assert late == m.UsageMetadata(usage=expected, response_id="resp_1")
    # Vertex names the output counts "candidates"
    vertex = {
        "candidatesTokenCount": 5,
        "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 5}],
    }
    (message,) = GeminiCodec(resampler=Resampler).decode_server(
        orjson.dumps({"usageMetadata": vertex})
    )
    assert message == m.UsageMetadata(usage=m.Usage(output_tokens=5, output_text_tokens=5))


def test_session_created_reports_the_setup_in_force() -> None:
    codec = GeminiCodec(resampler=Resampler)
    options = m.SessionOptions(model="g", instructions="a")
    codec.encode_client(m.SessionUpdate(session=options))
    codec.encode_client(m.SessionUpdate(session=m.SessionOptions(instructions="b")))
    (created,) = codec.decode_server(b'{"setupComplete": {}}')
    assert created == m.SessionCreated(session=m.SessionOptions(model="g", instructions="b"))


def test_go_away_and_resumption() -> None:
    codec = GeminiCodec(resampler=Resampler)
    decoded = decode_all(
        codec,
        [
            {"goAway": {"timeLeft": "1.5s"}},
            {"goAway": {}},
            {
                "session_resumption_update": {
                    "new_handle": "h-2",
                    "resumable": True,
                    "last_consumed_client_message_index": "41",
                }
            },
        ],
    )
    assert decoded == [
        m.GoAway(time_left_ms=1500),
        m.GoAway(),
        m.SessionResumptionUpdate(
            handle="h-2", resumable=True, last_consumed_client_message_index=41
        ),
    ]


# --- server direction: round trips -------------------------------------------------------------

_usage = st.fixed_dictionaries(
    {},
    optional={
        "promptTokenCount": small,
        "responseTokenCount": small,
        "totalTokenCount": small,
        "promptTokensDetails": st.lists(
            st.fixed_dictionaries(
                {"modality": st.sampled_from(["TEXT", "AUDIO", "IMAGE"]), "tokenCount": small}
            ),
            max_size=2,
        ),
    },
)
_short = st.text(st.characters(exclude_categories=["Cs"]), max_size=6)
_parts = st.one_of(
    st.binary(max_size=8).map(
        lambda b: {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": b64(b)}}
    ),
    _short.map(lambda t: {"text": t}),
    st.just({"text": "thinking", "thought": True}),
    st.just({"executableCode": {"language": "PYTHON", "code": "1+1"}}),
)
_content = st.fixed_dictionaries(
    {},
    optional={
        "modelTurn": st.lists(_parts, min_size=1, max_size=3).map(lambda p: {"parts": p}),
        "inputTranscription": st.fixed_dictionaries(
            {"text": _short}, optional={"finished": st.booleans()}
        ),
        "outputTranscription": st.fixed_dictionaries({"text": _short}),
        "interrupted": st.just(True),
        "generationComplete": st.just(True),
        "turnComplete": st.just(True),
        "groundingMetadata": st.just({"webSearchQueries": ["weather"]}),
    },
)


def _with_usage(frame: dict[str, Any], usage: dict[str, Any] | None) -> dict[str, Any]:
    return frame if usage is None else frame | {"usageMetadata": usage}


_call = st.fixed_dictionaries({"name": ids}, optional={"id": ids, "args": json_objects})
server_frames = st.one_of(
    st.builds(_with_usage, _content.map(lambda c: {"serverContent": c}), opt(_usage)),
    st.builds(_with_usage, _content.map(lambda c: {"serverContent": c}), st.none()),
    st.builds(
        _with_usage,
        st.lists(_call, max_size=3).map(lambda calls: {"toolCall": {"functionCalls": calls}}),
        opt(_usage),
    ),
    st.lists(ids, max_size=2).map(lambda i: {"toolCallCancellation": {"ids": i}}),
    st.builds(
        lambda kind, ms: {
            "voiceActivity": {"voiceActivityType": kind}
            | ({} if ms is None else {"audioOffset": f"{ms / 1000}s"})
        },
        st.sampled_from(["ACTIVITY_START", "ACTIVITY_END"]),
        opt(small),
    ),
    st.sampled_from(["VAD_SIGNAL_TYPE_SOS", "VAD_SIGNAL_TYPE_EOS"]).map(
        lambda kind: {"voiceActivityDetectionSignal": {"vadSignalType": kind}}
    ),
    _usage.map(lambda u: {"usageMetadata": u}),
    opt(ids).map(lambda s: {"setupComplete": {} if s is None else {"sessionId": s}}),
    small.map(lambda ms: {"goAway": {"timeLeft": f"{ms}s"}}),
    st.fixed_dictionaries({}, optional={"newHandle": _short, "resumable": st.booleans()}).map(
        lambda u: {"sessionResumptionUpdate": u}
    ),
    st.just({"somethingNew": {"x": 1}}),
)
"""Gemini server frames in every combination, realistic or not."""


def check_lifecycle(messages: list[m.ServerMessage]) -> None:
    """The decoded stream obeys the GA grammar: one response at a time; items added, filled
    and done inside it in output order; each ``ResponseDone`` lists exactly the items done."""
    response: str | None = None
    open_items: dict[str, int] = {}
    done: list[m.ConversationItem] = []
    for msg in messages:
        if isinstance(msg, m.ResponseCreated):
            assert response is None
            response, open_items, done = msg.response.id, {}, []
        elif isinstance(msg, m.ResponseDone):
            assert msg.response.id == response
            assert not open_items
            assert list(msg.response.output) == done
            response = None
        elif isinstance(msg, m.ResponseOutputItemAdded):
            assert msg.response_id == response
            assert msg.output_index == len(done) + len(open_items)
            open_items[str(getattr(msg.item, "id", None))] = msg.output_index
        elif isinstance(msg, m.ResponseOutputItemDone):
            assert open_items.pop(str(getattr(msg.item, "id", None))) == msg.output_index
            done.append(msg.item)
        elif hasattr(msg, "response_id") and not isinstance(msg, m.UsageMetadata):
            assert msg.response_id == response
            assert open_items[msg.item_id] == msg.output_index  # type: ignore[attr-defined]


@pytest.mark.slow
@settings(max_examples=1500)
@given(st.lists(server_frames, max_size=14))
def test_lifecycle_round_trip(script: list[dict[str, Any]]) -> None:
    """Decode a frame script to S; ``encode_server`` S and decode that on a fresh codec: S
    again, ids included. Every decoded message is typed (or raw passthrough) and the stream
    obeys the GA lifecycle grammar."""
    decoded = decode_all(GeminiCodec(resampler=Resampler), script)
    assert all(
        type(d) in GeminiCodec.server_types or type(d) is m.RawServerMessage for d in decoded
    ), decoded
    check_lifecycle(decoded)
    encoder = GeminiCodec(resampler=Resampler)
    frames = [f for d in decoded for f in encoder.encode_server(d)]
    for frame in frames:
        if "somethingNew" not in frame:
            validate_server_frame(frame)
    assert decode_all(GeminiCodec(resampler=Resampler), frames) == decoded


STATELESS = [m.GoAway, m.SessionResumptionUpdate, m.ToolCallCancellation]


@pytest.mark.parametrize("cls", STATELESS, ids=lambda c: c.__name__)
@settings(max_examples=100)
@given(data=st.data())
def test_stateless_server_messages_round_trip(
    cls: type[m.ServerMessage], data: st.DataObject
) -> None:
    message = attrs.evolve(data.draw(rts.messages_of(cls)), message_id=None)
    frames = GeminiCodec(resampler=Resampler).encode_server(message)
    assert decode_all(GeminiCodec(resampler=Resampler), frames) == [message]
    for frame in frames:
        validate_server_frame(frame)


@settings(max_examples=100)
@given(rts.messages_of(m.Usage), opt(ids))
def test_usage_metadata_round_trip(usage: m.Usage, session_id: str | None) -> None:
    for message in [
        m.UsageMetadata(usage=usage),
        m.SessionCreated(session=m.SessionOptions(), session_id=session_id),
    ]:
        frames = GeminiCodec(resampler=Resampler).encode_server(message)
        assert decode_all(GeminiCodec(resampler=Resampler), frames) == [message]


def test_local_server_response_encodes_as_gemini_frames() -> None:
    """An OpenAI-style response from rtsession.local, with its own ids, becomes the Gemini
    frames a real server sends; decoding renumbers the ids."""
    w = _where("resp_x", "item_x")
    script: list[m.ServerMessage] = [
        m.ResponseCreated(response=m.Response(id="resp_x", status="in_progress")),
        m.ResponseOutputItemAdded(
            response_id="resp_x", output_index=0, item=m.MessageItem(role="assistant", id="item_x")
        ),
        m.ResponseContentPartAdded(**w, part=m.OutputAudio(transcript="")),
        m.ResponseOutputAudioDelta(**w, delta=b"\1\0"),
        m.ResponseOutputAudioTranscriptDelta(**w, delta="Hi"),
        m.ResponseOutputAudioDone(**w),
        m.ResponseOutputAudioTranscriptDone(**w, transcript="Hi"),
        m.ResponseContentPartDone(**w, part=m.OutputAudio(transcript="Hi")),
        m.ResponseOutputItemDone(
            response_id="resp_x", output_index=0, item=_assistant("item_x", "Hi")
        ),
        m.ResponseDone(
            response=m.Response(id="resp_x", status="completed", usage=m.Usage(total_tokens=3))
        ),
    ]
    codec = GeminiCodec(resampler=Resampler)
    frames = [orjson.loads(f) for msg in script for f in codec.encode_server(msg)]
    assert frames == [
        _audio_frame(b"\1\0"),
        {"serverContent": {"outputTranscription": {"text": "Hi"}}},
        {"serverContent": {"generationComplete": True}},
        {"serverContent": {"turnComplete": True}, "usageMetadata": {"totalTokenCount": 3}},
    ]
    decoded = decode_all(GeminiCodec(resampler=Resampler), frames)
    assert [type(d) for d in decoded] == [type(s) for s in script]
    assert decoded[-1].response.id == "resp_1"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "message",
    [
        m.Error(type="server_error", message="boom"),
        m.SessionUpdated(session=m.SessionOptions()),
        m.InputAudioBufferCommitted(item_id="i"),
        m.ConversationItemAdded(item=m.MessageItem(role="user")),
        m.RateLimitsUpdated(rate_limits=()),
    ],
    ids=lambda msg: type(msg).__name__,
)
def test_encode_server_rejects_what_gemini_lacks(message: m.ServerMessage) -> None:
    with pytest.raises(EncodeError, match="not carried by Gemini Live"):
        GeminiCodec(resampler=Resampler).encode_server(message)


def test_encode_server_rejects_non_object_arguments() -> None:
    call = m.FunctionCallItem(name="f", arguments="[1]", call_id="c")
    with pytest.raises(EncodeError, match="JSON object"):
        GeminiCodec(resampler=Resampler).encode_server(
            m.ResponseDone(response=m.Response(id="r", status="completed", output=(call,)))
        )


# --- every known server shape (reference section 5), casing, frames, base64 --------------------

KNOWN_SHAPES: list[tuple[dict[str, Any], list[type[m.ServerMessage]]]] = [
    ({"setupComplete": {}}, [m.SessionCreated]),
    ({"setupComplete": {"sessionId": "local-123"}}, [m.SessionCreated]),
    (
        _audio_frame(b"\0\0"),
        [
            m.ResponseCreated,
            m.ResponseOutputItemAdded,
            m.ResponseContentPartAdded,
            m.ResponseOutputAudioDelta,
        ],
    ),
    (
        {"serverContent": {"modelTurn": {"parts": [{"text": "hi"}]}}},
        [
            m.ResponseCreated,
            m.ResponseOutputItemAdded,
            m.ResponseContentPartAdded,
            m.ResponseOutputTextDelta,
        ],
    ),
    (
        {"serverContent": {"outputTranscription": {"text": "hi", "finished": False}}},
        [
            m.ResponseCreated,
            m.ResponseOutputItemAdded,
            m.ResponseContentPartAdded,
            m.ResponseOutputAudioTranscriptDelta,
        ],
    ),
    (
        {"serverContent": {"inputTranscription": {"text": "hi"}}},
        [m.ConversationItemInputAudioTranscriptionDelta],
    ),
    (
        {"serverContent": {"inputTranscription": {"text": "hi", "finished": True}}},
        [
            m.ConversationItemInputAudioTranscriptionDelta,
            m.ConversationItemInputAudioTranscriptionCompleted,
        ],
    ),
    ({"serverContent": {"interrupted": True}}, [m.InputAudioBufferSpeechStarted]),
    (
        {"toolCall": {"functionCalls": [{"id": "fc-1", "name": "f", "args": {}}]}},
        [
            m.ResponseCreated,
            m.ResponseOutputItemAdded,
            m.ResponseFunctionCallArgumentsDone,
            m.ResponseOutputItemDone,
            m.ResponseDone,
        ],
    ),
    ({"toolCallCancellation": {"ids": ["fc-1"]}}, [m.ToolCallCancellation]),
    (
        {"usageMetadata": {"promptTokenCount": 1, "responseTokenCount": 2, "totalTokenCount": 3}},
        [m.UsageMetadata],
    ),
    ({"goAway": {"timeLeft": "10s"}}, [m.GoAway]),
    (
        {"sessionResumptionUpdate": {"newHandle": "h", "resumable": True}},
        [m.SessionResumptionUpdate],
    ),
    ({"sessionResumptionUpdate": {"resumable": False}}, [m.SessionResumptionUpdate]),
    (
        {"voiceActivity": {"voiceActivityType": "ACTIVITY_START", "audioOffset": "0.5s"}},
        [m.InputAudioBufferSpeechStarted],
    ),
    ({"voiceActivity": {"type": "ACTIVITY_END"}}, [m.InputAudioBufferSpeechStopped]),
    (
        {"voiceActivityDetectionSignal": {"vadSignalType": "VAD_SIGNAL_TYPE_SOS"}},
        [m.InputAudioBufferSpeechStarted],
    ),
    ({"serverContent": {"groundingMetadata": {"webSearchQueries": ["q"]}}}, [m.RawServerMessage]),
    ({"error": {"code": 400}}, [m.RawServerMessage]),
]


@pytest.mark.parametrize(("frame", "types"), KNOWN_SHAPES, ids=lambda v: str(v)[:50])
def test_every_known_server_shape_decodes(
    frame: dict[str, Any], types: list[type[m.ServerMessage]]
) -> None:
    decoded = GeminiCodec(resampler=Resampler).decode_server(orjson.dumps(frame))
    assert [type(d) for d in decoded] == types
    assert all(d.raw == frame for d in decoded)


def test_snake_case_binary_frames_and_urlsafe_base64() -> None:
    pcm = bytes([0xFB, 0xFF, 0x00, 0x10, 0xFE, 0x01])
    camel = {
        "serverContent": {
            "modelTurn": {
                "parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": b64(pcm)}}]
            },
            "turnComplete": True,
        }
    }
    snake = {
        "server_content": {
            "model_turn": {
                "parts": [
                    {"inline_data": {"mime_type": "audio/pcm;rate=24000", "data": "-_8AEP4B"}}
                ]
            },
            "turn_complete": True,
        }
    }
    a = GeminiCodec(resampler=Resampler).decode_server(orjson.dumps(camel).decode())
    b = GeminiCodec(resampler=Resampler).decode_server(orjson.dumps(snake))
    assert a == b
    assert [d.delta for d in b if isinstance(d, m.ResponseOutputAudioDelta)] == [pcm]
    assert isinstance(b[-1], m.ResponseDone)


def test_unmapped_content_comes_through_raw() -> None:
    """Thoughts, code and grounding are not output: they arrive as a RawServerMessage holding
    just what was not mapped (the typed messages carry the whole frame as ``raw``)."""
    frame = {
        "serverContent": {
            "modelTurn": {"parts": [{"text": "plan", "thought": True}, {"text": "Hi"}]},
            "groundingMetadata": {"webSearchQueries": ["q"]},
            "interactionStatus": "IN_PROGRESS",
        }
    }
    decoded = GeminiCodec(resampler=Resampler).decode_server(orjson.dumps(frame))
    assert decoded[-2] == m.ResponseOutputTextDelta(**_where("resp_1", "item_1"), delta="Hi")
    assert decoded[-1] == m.RawServerMessage(
        type="serverContent",
        payload={
            "serverContent": {
                "modelTurn": {"parts": [{"text": "plan", "thought": True}]},
                "groundingMetadata": {"webSearchQueries": ["q"]},
                "interactionStatus": "IN_PROGRESS",
            }
        },
    )
    assert decoded[0].raw == frame


_PARTS = '{"serverContent": {"modelTurn": {"parts": [%s]}}}'


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        ("[1]", "not an object"),
        ('{"serverContent": []}', "serverContent: expected an object"),
        ('{"serverContent": {"turnComplete": "yes"}}', "serverContent.turnComplete"),
        (
            _PARTS % '{"inlineData": {"mimeType": "audio/pcm"}}',
            "serverContent.modelTurn.parts[0].inlineData.data: required field missing",
        ),
        (_PARTS % '{"inlineData": {"mimeType": "audio/pcm", "data": "A"}}', "invalid base64"),
        ('{"toolCall": {"functionCalls": [{"id": "x"}]}}', "toolCall.functionCalls[0].name"),
        ('{"goAway": {"timeLeft": "soon"}}', "not a duration"),
        ('{"usageMetadata": {"totalTokenCount": "many"}}', "usageMetadata.totalTokenCount"),
        ('{"voiceActivity": {"voiceActivityType": "LOUD"}}', "unknown value 'LOUD'"),
    ],
)
def test_bad_server_frames_become_invalid_messages(frame: str | bytes, reason: str) -> None:
    codec = GeminiCodec(resampler=Resampler)
    (message,) = codec.decode_server(frame)
    assert isinstance(message, m.InvalidServerMessage)
    assert message.frame == frame
    assert reason in message.reason


def test_an_invalid_frame_changes_no_state() -> None:
    codec, reference = GeminiCodec(resampler=Resampler), GeminiCodec(resampler=Resampler)
    bad = {"serverContent": {"inputTranscription": {"text": "hi"}, "modelTurn": {"parts": [7]}}}
    assert isinstance(codec.decode_server(orjson.dumps(bad))[0], m.InvalidServerMessage)
    script = [{"serverContent": {"inputTranscription": {"text": "x"}}}, _audio_frame(b"\0\0")]
    assert decode_all(codec, script) == decode_all(reference, script)


_garbage_values = rts.json_values | st.lists(rts.json_values, max_size=3)
_known_keys = sorted(_SERVER_KEYS | {"usageMetadata", "server_content", "tool_call"})
_nested_keys = [
    "modelTurn",
    "parts",
    "inlineData",
    "data",
    "mimeType",
    "text",
    "turnComplete",
    "interrupted",
    "generationComplete",
    "inputTranscription",
    "outputTranscription",
    "functionCalls",
    "id",
    "name",
    "args",
    "ids",
    "timeLeft",
    "newHandle",
    "promptTokenCount",
    "promptTokensDetails",
    "voiceActivityType",
    "audioOffset",
    "sessionId",
]
_nested = st.recursive(
    _garbage_values,
    lambda inner: (
        st.dictionaries(st.sampled_from(_nested_keys), inner, max_size=4)
        | st.lists(inner, max_size=3)
    ),
    max_leaves=12,
)


@pytest.mark.slow
@settings(max_examples=1500)
@given(
    st.lists(
        st.binary(max_size=40)
        | st.text(max_size=40)
        | rts.json_values.map(orjson.dumps)
        | st.dictionaries(st.sampled_from(_known_keys), _nested, max_size=3).map(orjson.dumps),
        max_size=6,
    )
)
def test_decode_server_never_raises(frames: list[str | bytes]) -> None:
    codec = GeminiCodec(resampler=Resampler)
    for frame in frames:
        for message in codec.decode_server(frame):
            assert isinstance(message, m.ServerMessage)


# --- the client direction's errors (what rtsession.local reports) ------------------------------


def test_sdk_client_frames_decode() -> None:
    """The frames the official SDK sends (its mix of casings) decode to typed messages."""
    frames = (FIXTURES / "sdk-client-frames.jsonl").read_text().splitlines()
    server = GeminiCodec(resampler=Resampler)
    decoded = [[type(d) for d in server.decode_client(f)] for f in frames]
    assert decoded == [
        [m.SessionUpdate],
        [m.InputAudioBufferAppend],
        [m.InputAudioBufferCommit],
        [],
        [m.InputAudioBufferCommit],
        [m.ConversationItemCreate, m.ResponseCreate],
        [m.ConversationItemCreate],
        [m.ConversationItemCreate, m.ResponseCreate],
        [m.ConversationItemCreate],
        [m.SessionUpdate],
    ]
    (setup,) = GeminiCodec(resampler=Resampler).decode_client(frames[0])
    assert setup == m.SessionUpdate(
        session=m.SessionOptions(
            model="gemini-2.5-flash-native-audio-preview-09-2025",
            instructions="You are terse.",
            voice="Kore",
            output_modalities=("audio",),
            max_output_tokens=256,
            tools=(
                m.FunctionTool(
                    name="get_weather",
                    description="Weather",
                    parameters={
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                    },
                ),
            ),
            input_transcription=m.InputTranscription(),
            turn_detection=m.ServerVad(
                prefix_padding_ms=20, silence_duration_ms=100, interrupt_response=False
            ),
            gemini=m.GeminiSessionOptions(
                session_resumption=m.SessionResumption(),
                context_window_compression=m.ContextWindowCompression(
                    trigger_tokens=25600, target_tokens=12800
                ),
                start_of_speech_sensitivity="low",
                end_of_speech_sensitivity="low",
                turn_coverage="all_input",
                temperature=0.7,
                proactive_audio=True,
            ),
        )
    )
    (video,) = GeminiCodec(resampler=Resampler).decode_client(frames[6])
    assert video == m.ConversationItemCreate(
        item=m.MessageItem(
            role="user", content=(m.InputImage.from_bytes(b"\xff\xd8\xff", "image/jpeg"),)
        )
    )
    for frame in frames:
        validate_client_frame(frame)


@pytest.mark.parametrize(
    ("frame", "code", "param"),
    [
        ("{", "invalid_json", None),
        ("{}", "invalid_value", None),
        ('{"setup": {"model": "m"}, "clientContent": {}}', "invalid_value", None),
        ('{"bogus": {}}', "invalid_value", "bogus"),
        ('{"setup": []}', "invalid_type", "setup"),
        ('{"setup": {}}', "missing_required_parameter", "setup.model"),
        (
            '{"setup": {"model": "m", "generationConfig": {"responseModalities": ["IMAGE"]}}}',
            "invalid_type",
            "setup.generationConfig.responseModalities",
        ),
        (
            '{"realtimeInput": {"audio": {"mimeType": "audio/ogg", "data": ""}}}',
            "invalid_type",
            "realtimeInput.audio.mimeType",
        ),
        ('{"realtimeInput": {"someday": true}}', "invalid_type", "realtimeInput.someday"),
        (
            '{"toolResponse": {"functionResponses": [{"response": {}}]}}',
            "missing_required_parameter",
            "toolResponse.functionResponses[0].id",
        ),
        (
            '{"clientContent": {"turns": [{"role": "tool", "parts": []}]}}',
            "invalid_type",
            "clientContent.turns[0].role",
        ),
        (
            '{"clientContent": {"turns": [{"parts": [{"functionCall": {}}]}]}}',
            "invalid_type",
            "clientContent.turns[0].parts[0]",
        ),
    ],
)
def test_decode_client_errors(frame: str, code: str, param: str | None) -> None:
    with pytest.raises(DecodeError) as info:
        GeminiCodec(resampler=Resampler).decode_client(frame)
    assert (info.value.code, info.value.param) == (code, param)


def test_decode_client_context_update() -> None:
    frame = (
        '{"contextUpdate": {"tools": {"tools": [{"googleSearch": {}}]}, "systemInstruction": "x"}}'
    )
    (message,) = GeminiCodec(resampler=Resampler).decode_client(frame)
    assert message == m.SessionUpdate(
        session=m.SessionOptions(
            instructions="x", gemini=m.GeminiSessionOptions(google_search=True)
        )
    )
    assert json.loads(frame) == message.raw


def test_without_a_resampler_only_16k_audio_passes() -> None:
    """The codec does no signal processing: audio at another rate needs the resampler its
    maker gives it (``GeminiLive`` and ``rtsession.local`` give ``audio.Resampler``)."""
    plain = GeminiCodec(model="g")
    at_24k = m.SessionUpdate(session=m.SessionOptions(input_audio_format=m.AudioFormat(rate=24000)))
    with pytest.raises(EncodeError, match="24000 Hz: Gemini Live takes 16000 Hz"):
        plain.check_client(at_24k)
    with pytest.raises(EncodeError, match="without a resampler"):
        plain.encode_client(at_24k)
    plain.encode_client(m.SessionUpdate(session=m.SessionOptions()))  # 16 kHz
    (frame,) = plain.encode_client(m.InputAudioBufferAppend(audio=b"\x01\x02"))
    assert orjson.loads(frame)["realtimeInput"]["audio"]["data"] == "AQI="
    server = GeminiCodec()
    server.decode_client(orjson.dumps({"setup": {"model": "models/g"}}))
    blob = {"mimeType": "audio/pcm;rate=24000", "data": "AAAA"}
    with pytest.raises(DecodeError, match="without a resampler"):
        server.decode_client(orjson.dumps({"realtimeInput": {"audio": blob}}))
