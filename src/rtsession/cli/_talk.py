"""``rtsession talk``: a full-duplex voice conversation through a microphone and a speaker.

The microphone streams into the session while the reply plays; ``BargeIn`` silences the
reply when you talk over it and truncates it at what you heard; the demo's weather tool runs
through ``FunctionInvocation``; the transcript of both sides is printed as it completes.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from typing import TextIO

import trio

from .. import messages as m
from .._errors import RTSessionError
from .._groups import collapse, reraise
from ..audio import Microphone, Speaker, open_microphone, open_speaker
from ..middleware import BargeIn, FunctionInvocation, ToolInvocationCompleted
from ..session import Session, open_session
from ._demo import get_weather
from ._providers import Rates, add_provider_arguments, open_provider, rates

__all__ = ["HELP", "Transcript", "configure", "converse", "leave_on_ctrl_c", "options", "run"]

HELP = "talk with your microphone and speaker: barge-in, tool calls, a live transcript"


def _device(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``rtsession talk``'s arguments."""
    add_provider_arguments(parser, ["local", "openai", "azure", "gemini"])
    parser.add_argument(
        "--input-device",
        type=_device,
        help="the microphone: a PortAudio device index or (part of) its name "
        "(default: the system's default input)",
    )
    parser.add_argument(
        "--output-device",
        type=_device,
        help="the speaker: a PortAudio device index or (part of) its name "
        "(default: the system's default output)",
    )
    parser.add_argument("--voice", help="the model's voice, e.g. marin (default: the provider's)")


def options(audio: Rates, voice: str | None = None) -> m.SessionOptions:
    """The talk session's configuration: PCM16 at the provider's rates, transcription of
    the user, server VAD that answers after 500 ms of silence and stops for the user."""
    return m.SessionOptions(
        instructions="You are a friendly voice assistant. Answer briefly.",
        voice=voice,
        input_audio_format=m.AudioFormat(type="audio/pcm", rate=audio.input),
        output_audio_format=m.AudioFormat(type="audio/pcm", rate=audio.output),
        input_transcription=m.InputTranscription(language="en"),
        turn_detection=m.ServerVad(
            silence_duration_ms=500, create_response=True, interrupt_response=True
        ),
    )


async def converse(
    session: Session,
    microphone: Microphone,
    speaker: Speaker,
    on_event: Callable[[m.ServerMessage], object],
) -> None:
    """Stream the microphone into ``session`` and play its reply audio on ``speaker``
    (give ``BargeIn(speaker)`` to the session), until the session ends; every server
    message is also shown to ``on_event``.

    Cancellation: stops both directions; the session stays open for its owner to close.
    """
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_stream, session, microphone)
            async for event in session:
                if isinstance(event, m.ResponseOutputAudioDelta):
                    speaker.write(event.item_id, event.content_index, event.delta)
                on_event(event)
            nursery.cancel_scope.cancel(reason="the session ended")
    except BaseExceptionGroup as group:  # one error (or Ctrl+C) as itself
        reraise(collapse(group))


async def _stream(session: Session, microphone: Microphone) -> None:
    async for frame in microphone:
        await session.send(m.InputAudioBufferAppend(audio=frame))


class Transcript:
    """Prints the conversation as it completes: what you said, the replies, interruptions,
    tool calls, key presses and errors; each line after ``prefix``."""

    def __init__(self, out: TextIO, prefix: str = "") -> None:
        self._out = out
        self._prefix = prefix

    def _line(self, text: str) -> None:
        self._out.write(self._prefix + text + "\n")
        self._out.flush()

    def handle(self, event: m.ServerMessage) -> None:
        """Print the line ``event`` completes, if any."""
        match event:
            case m.ConversationItemInputAudioTranscriptionCompleted(transcript=text):
                self._line(f"you: {text.strip()}")
            case m.ResponseOutputAudioTranscriptDone(transcript=text):
                self._line(f"assistant: {text.strip()}")
            case m.PlaybackInterrupted(audio_end_ms=heard, audio_ms=received):
                self._line(
                    f"  [interrupted: you heard {heard / 1000:.2f} s of {received / 1000:.2f} s;"
                    " the rest is cut from the conversation]"
                )
            case ToolInvocationCompleted(name=name, output=output):
                self._line(f"  [tool] {name} -> {output}")
            case m.InputAudioBufferDtmfEventReceived(event=key):
                self._line(f"  [key] {key}")
            case m.Error(code=code, message=message):
                self._line(f"  [error] {code}: {message}")


async def talk(args: argparse.Namespace, out: TextIO) -> None:
    """Run the conversation until Ctrl+C (or the session ends)."""
    audio = rates(args.provider)
    async with (
        open_speaker(audio.output, device=args.output_device) as speaker,
        open_microphone(audio.input, device=args.input_device) as microphone,
        open_provider("talk", args.provider, args.model, out) as provider,
        open_session(
            provider,
            options(audio, args.voice),
            middleware=[BargeIn(speaker), FunctionInvocation([get_weather])],
        ) as session,
    ):
        out.write(
            f"listening on {microphone.device!r}, playing on {speaker.device!r}: speak "
            "(ask about the weather somewhere to see a tool call); Ctrl+C leaves\n"
        )
        out.flush()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(leave_on_ctrl_c, nursery.cancel_scope)
                await converse(session, microphone, speaker, Transcript(out).handle)
                nursery.cancel_scope.cancel(reason="the session ended")
        except BaseExceptionGroup as group:
            reraise(collapse(group))
        finally:
            out.write(
                f"microphone overruns: {microphone.overruns}, speaker gaps: "
                f"{speaker.underruns}, device underruns: {speaker.device_underruns}\n"
            )
    out.write("bye\n")


async def leave_on_ctrl_c(scope: trio.CancelScope) -> None:
    """Ctrl+C cancels the conversation, which then closes in order (a KeyboardInterrupt
    could land in any task, the embedded local server's among them)."""
    with trio.open_signal_receiver(signal.SIGINT) as signals:
        async for _ in signals:
            scope.cancel(reason="Ctrl+C")


def run(args: argparse.Namespace) -> int:
    """Run ``rtsession talk``; returns 0 after Ctrl+C or the session's end, 1 when a
    device or the session failed (one line on stderr)."""
    try:
        trio.run(talk, args, sys.stdout)
    except KeyboardInterrupt:  # before the conversation started
        print("bye")
    except RTSessionError as exc:
        print(f"rtsession talk: {exc}", file=sys.stderr)
        return 1
    return 0
