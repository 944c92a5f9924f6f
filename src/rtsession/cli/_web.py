"""``rtsession web``: the web voice client. Serves a page that captures the microphone and
plays the reply, and a WebSocket relay that gives each page its own session (``BargeIn``
with the page's played position, the demo's weather tool through ``FunctionInvocation``,
``Logging``); the API key stays on the server."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from typing import TextIO

import trio

from .._errors import RTSessionError
from .._groups import collapse, reraise
from ._demo import get_weather
from ._providers import add_provider_arguments, open_provider, rates
from ._talk import leave_on_ctrl_c, options

__all__ = ["HELP", "configure", "run"]

HELP = "a web page that talks to the model through this server (microphone, speaker, barge-in)"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``rtsession web``'s arguments."""
    add_provider_arguments(parser, ["local", "openai", "azure", "gemini"])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port (%(default)s; 0: any free)")
    parser.add_argument(
        "--allow-origin",
        action="append",
        dest="allowed_origins",
        metavar="ORIGIN",
        help="a page origin allowed to connect, e.g. https://app.example.com (repeatable; "
        "default: only pages this server serves)",
    )
    parser.add_argument("--voice", help="the model's voice, e.g. marin (default: the provider's)")


async def serve(args: argparse.Namespace, out: TextIO) -> None:
    """Serve the page and the relay until Ctrl+C."""
    from ..web import create_app, serve_web

    async with open_provider("web", args.provider, args.model, out) as provider:
        app = create_app(
            provider,
            options(rates(args.provider), args.voice),
            tools=[get_weather],
            allowed_origins=args.allowed_origins,
        )
        try:
            async with trio.open_nursery() as nursery:
                url = await nursery.start(partial(serve_web, app, host=args.host, port=args.port))
                out.write(f"open {url}/ in a browser and press Start; Ctrl+C stops\n")
                out.flush()
                await leave_on_ctrl_c(nursery.cancel_scope)
        except BaseExceptionGroup as group:
            reraise(collapse(group))


def run(args: argparse.Namespace) -> int:
    """Run ``rtsession web``; returns 0 after Ctrl+C, 1 when serving failed: a session
    error, a port in use, or the ``web`` extra missing (one line on stderr)."""
    try:
        trio.run(serve, args, sys.stdout)
    except KeyboardInterrupt:
        pass
    except (RTSessionError, OSError, ModuleNotFoundError) as exc:
        print(f"rtsession web: {exc}", file=sys.stderr)  # a busy port, or no web extra
        return 1
    print("bye")
    return 0
