"""``rtsession phone``: a Twilio Media Streams bridge to a voice agent, with the TwiML to paste
into a Twilio number and a log of each call."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TextIO

import trio

from .. import messages as m
from .._errors import RTSessionError
from ..middleware import FunctionInvocation
from ..telephony import TwilioCall, serve_twilio, twiml
from ._demo import get_weather
from ._providers import add_provider_arguments, open_provider
from ._serve import _whole_number
from ._talk import Transcript, leave_on_ctrl_c

__all__ = ["HELP", "configure", "run"]

HELP = "answer phone calls: a Twilio Media Streams bridge to a voice agent (TwiML printed)"

OPTIONS = m.SessionOptions(
    instructions="You are a friendly voice assistant on the phone. Answer briefly.",
    input_transcription=m.InputTranscription(language="en"),
    turn_detection=m.ServerVad(silence_duration_ms=500, create_response=True),
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``rtsession phone``'s arguments."""
    add_provider_arguments(parser, ["local", "openai", "azure", "gemini"])
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=_whole_number(0, 65535, what="a port"),
        default=8080,
        help="TCP port; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--public-url",
        metavar="WSS_URL",
        help="the bridge's public address as Twilio reaches it (e.g. a tunnel's "
        "wss://NAME.example.com), for the TwiML (default: a placeholder)",
    )


async def phone(args: argparse.Namespace, out: TextIO) -> None:
    """Serve calls until Ctrl+C."""
    transcripts: dict[str, Transcript] = {}

    def on_event(call: TwilioCall, event: m.ServerMessage) -> None:
        transcript = transcripts.setdefault(call.call_sid, Transcript(out, f"[{call.call_sid}] "))
        transcript.handle(event)

    async with (
        open_provider("phone", args.provider, args.model, out) as provider,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(leave_on_ctrl_c, nursery.cancel_scope)
        bridge = await nursery.start(
            lambda task_status: serve_twilio(
                provider,
                OPTIONS,
                middleware=[FunctionInvocation([get_weather])],
                on_event=on_event,
                host=args.host,
                port=args.port,
                task_status=task_status,
            )
        )
        public = args.public_url or "wss://YOUR-PUBLIC-HOST"
        out.write(
            f"bridge listening on {bridge.url}\n"
            f"answer your Twilio number's voice webhook with this TwiML (Twilio must reach "
            f"{public} and have it forwarded to port {bridge.port}):\n\n{twiml(public)}\n\n"
        )
        out.flush()
    out.write("bye\n")


def run(args: argparse.Namespace) -> int:
    """Run ``rtsession phone``; 0 after Ctrl+C, 1 when the session side failed to start."""
    logging.basicConfig(stream=sys.stdout, format="%(message)s")
    logging.getLogger("rtsession.telephony").setLevel(logging.INFO)
    try:
        trio.run(phone, args, sys.stdout)
    except KeyboardInterrupt:
        print("bye")
    except (RTSessionError, OSError) as exc:
        print(f"rtsession phone: {exc}", file=sys.stderr)
        return 1
    return 0
