"""The local server's speech engines: VAD, speech-to-text, text-to-speech, the speech worker.

These tests use the real engines (the ``local`` extra: webrtcvad-wheels, pocketsphinx,
espeakng-loader, soxr) and fail if they are missing; nothing is skipped.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import time
import wave
from pathlib import Path

import attrs
import numpy as np
import pytest
import trio

from rtsession.audio import resample
from rtsession.local import (
    DEFAULT_TRANSCRIPTS,
    FRAME_MS,
    EnergyVad,
    SpeechEngines,
    SpeechEngineUnavailableError,
    SpeechStarted,
    SpeechStopped,
    TableSTT,
    ToneTTS,
    VadEvent,
    VadSettings,
    VoiceActivityDetector,
    default_engines,
    protocol_only_engines,
)
from rtsession.local._engines import EspeakNgTTS, PocketSphinxSTT, WebRtcVad, webrtc_mode
from rtsession.local._segments import (
    END_MIN_SEGMENT_MS,
    MAX_SEGMENT_MS,
    MIN_SEGMENT_MS,
    PAUSE_MS,
    Segmenter,
)
from rtsession.local._worker import SpeechWorkerError, open_speech_worker

AUDIO = Path(__file__).resolve().parents[1] / "src" / "rtsession" / "_data"
WEATHER_TEXT = "what is the weather in paris today"


def read_wav(name: str) -> tuple[bytes, int]:
    with wave.open(str(AUDIO / name), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return w.readframes(w.getnframes()), w.getframerate()


def silence(ms: int, rate: int) -> bytes:
    return bytes(2 * (ms * rate // 1000))


def feed(vad: VoiceActivityDetector, audio: bytes, chunk: int) -> list[VadEvent]:
    events: list[VadEvent] = []
    for i in range(0, len(audio), chunk):
        events += vad.process(audio[i : i + chunk])
    return events + vad.flush()


def rms_dbfs(pcm16: bytes) -> float:
    x = np.frombuffer(pcm16, dtype="<i2").astype(np.float64)
    return 20 * math.log10(math.sqrt(float(np.mean(x * x))) / 32768)


# --- VAD ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [16000, 24000])
def test_webrtc_vad_finds_speech_after_silence(rate: int) -> None:
    jfk, jfk_rate = read_wav("jfk.wav")
    audio = silence(1000, rate) + resample(jfk, jfk_rate, rate) + silence(1500, rate)
    settings = VadSettings(prefix_padding_ms=300, silence_duration_ms=500)
    events = feed(WebRtcVad(settings, rate), audio, chunk=2 * (30 * rate // 1000) + 1)

    assert events, "no speech found in jfk.wav"
    kinds = [type(e) for e in events]
    assert kinds == [SpeechStarted, SpeechStopped] * (len(events) // 2)
    first, last = events[0], events[-1]
    assert isinstance(first, SpeechStarted)
    assert isinstance(last, SpeechStopped)
    # jfk.wav starts speaking ~0.1 s in and stops ~0.5 s before its end (11.0 s).
    assert 1000 <= first.onset_ms <= 1300
    assert first.audio_start_ms == first.onset_ms - 300
    assert 11000 <= last.offset_ms <= 12100
    assert last.audio_end_ms == last.offset_ms + 500
    for event in events:
        for ms in (getattr(event, "audio_start_ms", 0), getattr(event, "audio_end_ms", 0)):
            assert ms % FRAME_MS == 0
    # Turns do not overlap, prefix padding included.
    for stop, start in zip(events[1::2], events[2::2], strict=False):
        assert isinstance(stop, SpeechStopped)
        assert isinstance(start, SpeechStarted)
        assert start.audio_start_ms >= stop.audio_end_ms


def test_webrtc_vad_positions_do_not_depend_on_chunking_or_rate() -> None:
    weather, rate = read_wav("weather-question_flite_16k.wav")
    audio16 = silence(700, rate) + weather + silence(800, rate)
    audio24 = resample(audio16, rate, 24000)
    settings = VadSettings()
    results = [
        feed(WebRtcVad(settings, 16000), audio16, chunk=640),
        feed(WebRtcVad(settings, 16000), audio16, chunk=333),
        feed(WebRtcVad(settings, 16000), audio16, chunk=len(audio16)),
        feed(WebRtcVad(settings, 24000), audio24, chunk=960),
        feed(WebRtcVad(settings, 24000), audio24, chunk=4801),
    ]
    assert results[0], "no speech found"
    assert all(r == results[0] for r in results)


def test_vad_flush_stops_speech_in_progress_and_reset_forgets_it() -> None:
    weather, rate = read_wav("weather-question_flite_16k.wav")
    vad = WebRtcVad(VadSettings(silence_duration_ms=500), rate)
    events = vad.process(silence(400, rate) + weather)
    assert [type(e) for e in events] == [SpeechStarted]
    assert vad.in_speech
    stopped = vad.flush()
    end_ms = (400 * rate // 1000 + len(weather) // 2) * 1000 // rate
    assert len(stopped) == 1
    assert isinstance(stopped[0], SpeechStopped)
    assert stopped[0].audio_end_ms == end_ms
    assert not vad.in_speech

    # The clock keeps running after a flush; reset forgets speech without an event.
    again = vad.process(weather)
    assert isinstance(again[0], SpeechStarted)
    assert again[0].onset_ms > end_ms
    assert again[0].audio_start_ms >= end_ms
    vad.reset()
    assert not vad.in_speech
    assert vad.flush() == []


def test_vad_threshold_maps_to_webrtc_mode() -> None:
    assert [webrtc_mode(t) for t in (0.0, 0.2, 0.25, 0.5, 0.74, 0.75, 1.0)] == [0, 0, 1, 2, 2, 3, 3]
    assert WebRtcVad(VadSettings(threshold=0.9), 16000).mode == 3
    with pytest.raises(ValueError, match="threshold"):
        VadSettings(threshold=1.5)


def test_energy_vad_times_a_tone_exactly() -> None:
    rate = 24000
    tone = ToneTTS().synthesize("x" * 20, rate)  # 1200 ms
    audio = silence(500, rate) + tone + silence(1000, rate)
    settings = VadSettings(prefix_padding_ms=300, silence_duration_ms=200, min_speech_ms=60)
    events = feed(EnergyVad(settings, rate), audio, chunk=1001)
    assert events == [SpeechStarted(200, 500), SpeechStopped(1900, 1700)]


# --- speech to text ----------------------------------------------------------------------------


def test_stt_is_exact_on_flite_speech_and_repeatable() -> None:
    weather, rate = read_wav("weather-question_flite_16k.wav")
    stt = PocketSphinxSTT()
    first = stt.transcribe(weather, rate)
    # Another utterance in between must not change the next result (no carried-over state).
    stt.transcribe(EspeakNgTTS().synthesize("Good morning to you all.", 16000), 16000)
    assert first == WEATHER_TEXT
    assert stt.transcribe(weather, rate) == WEATHER_TEXT
    assert stt.transcribe(resample(weather, rate, 24000), 24000) == WEATHER_TEXT
    assert stt.transcribe(b"", rate) == ""


def test_segments_are_cut_at_pauses_within_their_bounds() -> None:
    """JFK's sentence, fed 20 ms at a time: segments of 0.5-3 s, each cut inside a quiet
    stretch, so each is decoded whole once it ends."""
    jfk, rate = read_wav("jfk.wav")
    segments = Segmenter(rate)
    cuts = [cut for i in range(0, len(jfk), 640) for cut in segments.cuts(jfk[: i + 640])]
    bounds = [0, *cuts]
    lengths = [(b - a) / 2 / rate * 1000 for a, b in itertools.pairwise(bounds)]
    assert len(cuts) >= 3
    # a pause that ends once the segment is MIN_SEGMENT_MS long cuts it in its middle; a
    # longer one (END_PAUSE_MS, the likely end of a turn) cuts one of END_MIN_SEGMENT_MS
    assert all(END_MIN_SEGMENT_MS <= n <= MAX_SEGMENT_MS for n in lengths), lengths
    assert any(n < MIN_SEGMENT_MS - PAUSE_MS for n in lengths)  # an end-of-turn cut
    for cut in cuts:  # a cut sits in a quiet 20 ms frame
        assert not segments.has_speech(jfk[cut - 320 : cut + 320])
    weather, rate = read_wav("weather-question_flite_16k.wav")
    segments = Segmenter(rate)
    assert segments.has_speech(weather)
    assert not segments.has_speech(silence(500, rate))


# --- text to speech ----------------------------------------------------------------------------


def test_tts_speaks_a_sentence_deterministically() -> None:
    tts = EspeakNgTTS()
    text = "The weather in Paris is sunny."
    audio24 = tts.synthesize(text, 24000)
    seconds = len(audio24) / 2 / 24000
    assert 1.2 < seconds < 3.5
    assert rms_dbfs(audio24) > -35
    assert tts.synthesize(text, 24000) == audio24
    audio16 = tts.synthesize(text, 16000)
    assert abs(len(audio16) / 2 - seconds * 16000) <= 1
    assert tts.synthesize("  ", 24000) == b""
    with pytest.raises(ValueError, match="voice"):
        EspeakNgTTS(voice="no-such-voice").synthesize(text, 16000)


@pytest.mark.parametrize(
    "text",
    ["My phone number is five five five one two three four", "The weather in Paris is sunny."],
)
def test_tts_then_stt_round_trip_recovers_words(text: str) -> None:
    audio = silence(300, 16000) + EspeakNgTTS().synthesize(text, 16000) + silence(300, 16000)
    heard = PocketSphinxSTT().transcribe(audio, 16000).split()
    said = text.lower().rstrip(".").split()
    hits = sum(1 for word in said if word in heard)
    assert hits >= len(said) // 2, heard


# --- protocol-only engines ---------------------------------------------------------------------


def test_protocol_only_engines_follow_their_rules() -> None:
    engines = protocol_only_engines()
    assert not engines.offload
    assert isinstance(engines.stt, TableSTT)
    assert isinstance(engines.tts, ToneTTS)
    stt, tts = engines.stt, engines.tts

    reply = tts.synthesize("It is sunny.", 24000)  # 12 characters * 60 ms
    assert len(reply) == 2 * 720 * 24
    assert tts.synthesize("It is sunny.", 24000) == reply
    assert tts.synthesize("", 24000) == b""

    for seconds, expected in [(0.5, 0), (1.0, 1), (2.9, 2), (3.0, 3), (4.2, 0)]:
        audio = silence(int(seconds * 1000), 16000)
        assert stt.transcribe(audio, 16000) == DEFAULT_TRANSCRIPTS[expected]

    vad = engines.vad_factory(VadSettings(), 16000)
    assert isinstance(vad, EnergyVad)
    assert feed(vad, silence(300, 16000) + reply[: 2 * 16000], 640)[0] == SpeechStarted(0, 300)


def test_default_engines_are_the_real_ones() -> None:
    engines = default_engines()
    assert engines.offload
    assert engines.vad_factory is WebRtcVad
    assert isinstance(engines.stt, PocketSphinxSTT)
    assert isinstance(engines.tts, EspeakNgTTS)


def test_default_engines_name_the_extra_when_packages_are_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    with pytest.raises(
        SpeechEngineUnavailableError, match=r"pip install '\.\[local\]' in a checkout"
    ) as e:
        default_engines()
    assert "pocketsphinx" in str(e.value)
    assert isinstance(e.value, ImportError)


# --- the speech worker -------------------------------------------------------------------------


@pytest.mark.slow
async def test_worker_transcribes_jfk_repeatably_without_stalling_the_loop() -> None:
    jfk, rate = read_wav("jfk.wav")
    weather, weather_rate = read_wav("weather-question_flite_16k.wav")
    gaps: list[float] = []
    transcripts: dict[str, str] = {}

    async def ticker(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        last = time.perf_counter()
        task_status.started()
        while True:
            await trio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    async def transcribe_jfk(name: str, after_other_speech: bool) -> None:
        if after_other_speech:
            assert await worker.transcribe(weather, weather_rate) == WEATHER_TEXT
        transcripts[name] = await worker.transcribe(jfk, rate)

    # Two processes decode jfk.wav at once, one of them after decoding another clip.
    async with open_speech_worker(default_engines(), processes=2) as worker:
        async with trio.open_nursery() as nursery:
            await nursery.start(ticker)
            started = time.perf_counter()
            async with trio.open_nursery() as decodes:
                decodes.start_soon(transcribe_jfk, "fresh", False)
                decodes.start_soon(transcribe_jfk, "after", True)
            elapsed = time.perf_counter() - started
            nursery.cancel_scope.cancel()

        assert {"country", "fellow", "you"} <= set(transcripts["fresh"].split()), transcripts
        assert transcripts["fresh"] == transcripts["after"]
        assert elapsed > 0.5  # the decodes really ran while the ticker did
        assert len(gaps) > 20
        # In a thread, pocketsphinx holds the GIL for the whole decode (seconds); in the
        # worker the loop keeps ticking. A bound relative to the decode's own duration tells
        # the two apart without a wall-clock budget a loaded machine could miss.
        assert max(gaps) < elapsed / 10, f"event loop stalled for {max(gaps) * 1000:.0f} ms"

        tts = EspeakNgTTS()
        assert await worker.synthesize("Hello there.", 24000) == tts.synthesize(
            "Hello there.", 24000
        )

        assert await worker.transcribe(weather, weather_rate) == WEATHER_TEXT
    with pytest.raises(trio.ClosedResourceError):
        await worker.transcribe(jfk, rate)


async def test_protocol_only_worker_runs_inline() -> None:
    engines = protocol_only_engines()
    async with open_speech_worker(engines) as worker:
        assert await worker.transcribe(silence(1500, 24000), 24000) == DEFAULT_TRANSCRIPTS[1]
        assert await worker.synthesize("hi", 24000) == engines.tts.synthesize("hi", 24000)
    with pytest.raises(trio.ClosedResourceError):
        await worker.synthesize("hi", 24000)


@attrs.frozen
class CrashingTTS:
    """A text-to-speech whose process dies on "crash" and whose warm-up can fail."""

    fail_warm_up: bool = False

    def warm_up(self) -> None:
        if self.fail_warm_up:
            raise LookupError("model not found")

    def synthesize(self, text: str, rate: int) -> bytes:
        if text == "crash":
            os._exit(3)
        return ToneTTS().synthesize(text, rate)


async def test_worker_reports_a_dead_process_and_starts_another() -> None:
    engines = SpeechEngines(EnergyVad, TableSTT(), CrashingTTS(), offload=True)
    async with open_speech_worker(engines) as worker:
        with pytest.raises(SpeechWorkerError):
            await worker.synthesize("crash", 16000)
        assert await worker.synthesize("ok", 16000) == ToneTTS().synthesize("ok", 16000)


async def test_worker_warm_up_failure_surfaces_as_itself() -> None:
    engines = SpeechEngines(EnergyVad, TableSTT(), CrashingTTS(fail_warm_up=True), offload=True)
    with pytest.raises(LookupError, match="model not found"):
        async with open_speech_worker(engines, processes=2):
            pass  # pragma: no cover
