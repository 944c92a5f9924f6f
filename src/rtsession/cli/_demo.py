"""``rtsession demo``: a real voice conversation, offline by default.

Real human speech goes in (bundled clips, or WAV files given on the command line), is detected,
transcribed and answered with synthesized speech by the local server, through ``open_session``
over a real WebSocket; the second bundled clip asks about the weather, which the model answers
by calling a demo tool through ``FunctionInvocation``. With ``--transcribe`` the session is a
transcription session (``SessionOptions(kind="transcription")``): the speech is transcribed
and nothing answers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, TextIO

import attrs
import trio

from .. import messages as m
from .._errors import RTSessionError
from ..audio import AudioFormatError, bytes_to_ms, read_wav, sample, stream_wav, write_wav
from ..middleware import FunctionInvocation, ToolInvocationCompleted
from ..session import Session, open_session
from ._providers import add_provider_arguments, open_provider

__all__ = ["HELP", "configure", "get_weather", "run"]

HELP = "talk to the local server (or a real provider) with real speech, offline by default"

RATE = 24_000
"""Input and output rate of the session, Hz (OpenAI's PCM16 rate)."""

SILENCE_MS = 1_200
"""Silence streamed after each clip, so server VAD sees the end of speech."""

DEFAULT_CLIPS: Final = ("jfk", "weather-question")


def get_weather(city: str) -> dict[str, Any]:
    """Get the current weather for a city.

    Args:
        city: the city's name, e.g. "Paris".
    """
    return {"city": city, "condition": "sunny", "temperature": 21, "unit": "celsius"}


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``rtsession demo``'s arguments."""
    parser.add_argument(
        "wav",
        nargs="*",
        type=Path,
        help="WAV files to speak, one turn each (default: the bundled JFK clip, then a "
        "spoken weather question that triggers a tool call)",
    )
    add_provider_arguments(parser, ["local", "gemini-local", "openai"])
    parser.add_argument(
        "--fast", action="store_true", help="stream the audio as fast as possible, not in real time"
    )
    parser.add_argument(
        "--transcribe",
        action="store_true",
        help="a transcription session: transcribe the speech, no replies and no tools "
        "(OpenAI and the local server; Gemini Live has no such session)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("rtsession-demo-reply.wav"),
        help="where to write the reply audio (default: %(default)s)",
    )


@attrs.define
class Turn:
    """What the demo measured for one user turn.

    Attributes:
        clip: the file that was spoken.
        transcript: the server's transcript of the user's speech.
        reply: the transcript of the reply audio (all responses of the turn).
        speech_end_to_audio_ms: ms from the last ``speech_stopped`` of the turn reaching the
            app to the first reply audio after it reaching the app; ``None`` if no audio came.
        speech_end_to_transcript_ms: ms from the last ``speech_stopped`` of the turn to its
            completed transcription reaching the app.
        tool_calls: ``name(args) -> outcome`` for each tool call.
    """

    clip: str
    transcript: str = ""
    reply: str = ""
    speech_end_to_audio_ms: float | None = None
    speech_end_to_transcript_ms: float | None = None
    tool_calls: list[str] = attrs.Factory(list)
    speech_stopped_at: float | None = None
    answered: bool = False  # the clip's latest speech turn has had its reply
    untranscribed: int = 0  # speech turns of the clip whose transcript has not come yet
    streamed: bool = False  # the whole clip (and its trailing silence) has been sent
    done: trio.Event = attrs.Factory(trio.Event)


@attrs.define
class _Conversation:
    """The receive side: prints live transcripts and fills in the turns."""

    out: TextIO
    transcribing: bool = False  # a transcription session: a turn ends with its transcript
    turns: list[Turn] = attrs.Factory(list)
    reply_audio: bytearray = attrs.Factory(bytearray)
    _line: str | None = None

    def _write(self, who: str, text: str) -> None:
        if self._line != who:
            self.out.write(f"\n  {who}: " if self._line is not None else f"  {who}: ")
            self._line = who
        self.out.write(text)
        self.out.flush()

    def _answered(self, turn: Turn) -> None:
        """The latest speech turn of ``turn``'s clip has had its answer (a clip may hold
        several turns: the clip is done once it is streamed and its last turn answered)."""
        turn.answered = True
        if turn.streamed:
            turn.done.set()

    def _end_line(self) -> None:
        if self._line is not None:
            self.out.write("\n")
            self.out.flush()
            self._line = None

    async def receive(self, session: Session) -> None:
        async for event in session:
            self.handle(event)

    def handle(self, event: m.ServerMessage) -> None:
        if not self.turns:
            return
        turn = self.turns[-1]
        match event:
            case m.InputAudioBufferSpeechStopped():
                turn.speech_stopped_at = trio.current_time()
                turn.answered = False
                turn.untranscribed += 1
            case m.ConversationItemInputAudioTranscriptionDelta(delta=str(delta)):
                self._write("you", delta)
            case m.ConversationItemInputAudioTranscriptionCompleted(transcript=transcript):
                turn.transcript = (turn.transcript + " " + transcript).strip()
                self._end_line()
                turn.untranscribed -= 1
                if self.transcribing and turn.untranscribed == 0:
                    if turn.speech_stopped_at is not None:
                        elapsed = trio.current_time() - turn.speech_stopped_at
                        turn.speech_end_to_transcript_ms = elapsed * 1000
                    self._answered(turn)
            case m.ResponseOutputAudioDelta(delta=delta):
                if turn.speech_stopped_at is not None:  # the first audio after speech ended
                    elapsed = trio.current_time() - turn.speech_stopped_at
                    turn.speech_end_to_audio_ms = elapsed * 1000
                    turn.speech_stopped_at = None
                self.reply_audio += delta
            case (
                m.ResponseOutputAudioTranscriptDelta(delta=delta)
                | m.ResponseOutputTextDelta(delta=delta)
            ):
                self._write("assistant", delta)
                turn.reply += delta
            case ToolInvocationCompleted(name=name, output=output, outcome=outcome):
                self._end_line()
                turn.tool_calls.append(f"{name} -> {outcome}")
                self.out.write(f"  [tool] {name} -> {output}\n")
            case m.Error(message=message, code=code):
                self._end_line()
                self.out.write(f"  [error] {code}: {message}\n")
            case m.ResponseDone(response=response):
                self._end_line()
                calls = any(isinstance(i, m.FunctionCallItem) for i in response.output)
                # a tool call's answer comes in the next response; a response cancelled by
                # the user speaking again is followed by another one
                if response.status != "cancelled" and not calls:
                    turn.reply += " "
                    self._answered(turn)


def _options(transcribe: bool) -> m.SessionOptions:
    if transcribe:
        return m.SessionOptions(
            kind="transcription",
            input_audio_format=m.AudioFormat(type="audio/pcm", rate=RATE),
            input_transcription=m.InputTranscription(language="en"),
            turn_detection=m.ServerVad(silence_duration_ms=700),
        )
    return m.SessionOptions(
        instructions="You are a friendly assistant. Answer briefly.",
        voice="marin",
        input_audio_format=m.AudioFormat(type="audio/pcm", rate=RATE),
        output_audio_format=m.AudioFormat(type="audio/pcm", rate=RATE),
        input_transcription=m.InputTranscription(language="en"),
        turn_detection=m.ServerVad(silence_duration_ms=700, create_response=True),
    )


async def _speak(session: Session, clip: Any, fast: bool, out: TextIO) -> None:
    """Stream ``clip``, then the silence that lets the server's VAD end the turn."""
    sent = 0
    chunks = stream_wav(clip, rate=RATE, realtime=not fast, trailing_silence_ms=SILENCE_MS)
    async for chunk in chunks:
        await session.send(m.InputAudioBufferAppend(audio=chunk))
        sent += len(chunk)
    speech = bytes_to_ms(sent, RATE) - SILENCE_MS
    out.write(f"  (streamed {speech / 1000:.1f} s of speech, then {SILENCE_MS} ms of silence)\n")


async def converse(args: argparse.Namespace, out: TextIO) -> list[Turn]:
    """Run the demo's conversation and return what was measured per turn."""
    clips = [(p.name, p) for p in args.wav] or [(sample(n).name, sample(n)) for n in DEFAULT_CLIPS]
    conversation = _Conversation(out, args.transcribe)
    middleware = [] if args.transcribe else [FunctionInvocation([get_weather])]
    async with (
        open_provider("demo", args.provider, args.model, out) as provider,
        open_session(provider, _options(args.transcribe), middleware=middleware) as s,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(conversation.receive, s)
        for name, clip in clips:
            turn = Turn(clip=name)
            conversation.turns.append(turn)
            out.write(f"\n> speaking {name}{' (fast)' if args.fast else ''}\n")
            out.flush()
            await _speak(s, clip, args.fast, out)
            turn.streamed = True
            if turn.answered:
                turn.done.set()
            with trio.fail_after(60):
                await turn.done.wait()
        nursery.cancel_scope.cancel()
    if args.transcribe:
        return conversation.turns
    write_wav(args.output, bytes(conversation.reply_audio), RATE)
    seconds = bytes_to_ms(len(conversation.reply_audio), RATE) / 1000
    out.write(f"\nreply audio: {args.output} ({seconds:.1f} s at {RATE} Hz)\n")
    return conversation.turns


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def table(turns: list[Turn], transcribing: bool = False) -> Iterator[str]:
    """The per-turn summary as markdown-style table lines."""
    if transcribing:
        yield "| turn | speech end -> transcript | you said |"
        yield "|---|---|---|"
        for turn in turns:
            yield f"| {turn.clip} | {_ms(turn.speech_end_to_transcript_ms)} | {turn.transcript} |"
        return
    yield "| turn | speech end -> first reply audio | you said | tool calls | reply |"
    yield "|---|---|---|---|---|"
    for turn in turns:
        latency = _ms(turn.speech_end_to_audio_ms)
        tools = ", ".join(turn.tool_calls) or "-"
        yield f"| {turn.clip} | {latency} | {turn.transcript} | {tools} | {turn.reply.strip()} |"


LATENCY_NOTE: Final = (
    "speech end -> first reply audio: from the server's speech_stopped (its VAD waits 700 ms "
    "of silence to decide the turn is over) to the first reply audio delta the app received; "
    "the local server transcribes while you speak, so what is left is the last stretch of "
    "speech and the reply's synthesis (with --fast the audio arrives at once, and all of it "
    "is transcribed after)."
)
TRANSCRIPT_NOTE: Final = (
    "speech end -> transcript: from the server's speech_stopped (its VAD waits 700 ms of "
    "silence) to the completed transcription the app received."
)


def run(args: argparse.Namespace) -> int:
    """Run ``rtsession demo``; returns the exit status: 0, 1 when the session failed, 2 for
    a WAV file that cannot be read, 130 after Ctrl+C. Errors are one line on stderr."""
    out = sys.stdout
    for path in args.wav:
        try:
            read_wav(path)
        except (OSError, AudioFormatError) as exc:
            print(f"rtsession demo: cannot read {path}: {_reason(exc)}", file=sys.stderr)
            return 2
    try:
        turns = trio.run(converse, args, out)
    except KeyboardInterrupt:
        return 130
    except RTSessionError as exc:
        print(f"rtsession demo: {exc}", file=sys.stderr)
        return 1
    note = TRANSCRIPT_NOTE if args.transcribe else LATENCY_NOTE
    out.write("\n" + "\n".join(table(turns, args.transcribe)) + "\n\n" + note + "\n")
    return 0


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
