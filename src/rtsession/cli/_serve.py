"""``rtsession serve``: run the local server until Ctrl+C."""

from __future__ import annotations

import argparse
import logging
import signal
import ssl
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Final, TextIO

import attrs
import trio

from .._groups import collapse, reraise
from ..local import (
    LocalServer,
    SpeechEngines,
    SpeechEngineUnavailableError,
    check_close,
    open_local_server,
    protocol_only_engines,
)

__all__ = ["HELP", "Tls", "banner", "configure", "run", "tls_settings"]

HELP: Final = (
    "run the local realtime server (OpenAI Realtime GA and beta, Gemini Live; loopback, "
    "offline speech)"
)
DEFAULT_PORT: Final = 8765

logger = logging.getLogger("rtsession.local")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` arguments."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s, loopback)"
    )
    parser.add_argument(
        "--port",
        type=_whole_number(0, 65535, what="a port"),
        default=DEFAULT_PORT,
        help="TCP port; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--protocol-only",
        action="store_true",
        help="no speech work: energy VAD, fixed transcripts, tones instead of speech "
        "(for benchmarks; the real engines need pip install '.[local]' in a checkout)",
    )
    parser.add_argument(
        "--speech-processes",
        type=_whole_number(1),
        default=1,
        metavar="N",
        help="worker processes for speech recognition and synthesis (default: %(default)s)",
    )
    parser.add_argument(
        "--close-every",
        type=float,
        metavar="SECONDS",
        help="fail on purpose: every SECONDS, close all open connections with --close-code "
        "(to try an app's handling of a dropped session offline)",
    )
    parser.add_argument(
        "--close-code",
        type=int,
        default=1011,
        metavar="CODE",
        help="the close code for --close-every (default: %(default)s, internal error; "
        "1012 is a service restart, 1013 try again later)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve wss:// with a certificate made for this run by a new certificate "
        "authority, whose file it prints for clients to trust",
    )
    parser.add_argument(
        "--certfile", metavar="PEM", help="serve wss:// with this certificate (chain)"
    )
    parser.add_argument("--keyfile", metavar="PEM", help="the private key of --certfile")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log every connection and every refusal (rtsession.local)",
    )


def _whole_number(low: int, high: int | None = None, *, what: str = "") -> Callable[[str], int]:
    """An argparse ``type``: a whole number from ``low`` to ``high`` (no upper bound when
    ``None``), refused in one line otherwise (``what`` names a bounded one, "a port")."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if high is not None and not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} is {low} to {high}, not {value}")
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
        return value

    return parse


def banner(server: LocalServer, *, protocol_only: bool, trust: Path | None = None) -> str:
    """What ``serve`` prints once it listens: the URL, how to point clients at it and, for a
    certificate made by ``--tls``, the certificate authority file to trust."""
    engines = "protocol-only engines" if protocol_only else "real speech engines"
    tls = ""
    context = ""
    if trust is not None:
        tls = f"""
trust this certificate authority: {trust}
    official SDKs: SSL_CERT_FILE={trust}
    rtsession: ssl_context=ssl.create_default_context(cafile="{trust}")
"""
        context = ", ssl_context=context"
    return f"""\
rtsession local server: OpenAI Realtime (GA, and beta with the OpenAI-Beta header) and
Gemini Live, {engines}
listening on {server.websocket_base_url}/realtime?model=gpt-realtime
{tls}
rtsession (any API key is accepted):
    OpenAIRealtime(base_url="{server.base_url}", api_key="local"{context})
    GeminiLive(base_url="{server.url}", api_key="local"{context})
official openai SDK:
    client = AsyncOpenAI(api_key="local", base_url="{server.base_url}")
    async with client.realtime.connect(model="gpt-realtime") as connection: ...

Press Ctrl+C to stop."""


@attrs.frozen
class Tls:
    """How ``serve`` does TLS: the server's context and, when ``--tls`` made the certificate,
    the certificate authority file clients must trust."""

    context: ssl.SSLContext
    trust: Path | None = None


def tls_settings(args: argparse.Namespace, directory: Path) -> Tls | None:
    """The TLS that ``--tls`` or ``--certfile``/``--keyfile`` ask for (``None``: plain ws://).
    ``--tls`` writes its certificate authority into ``directory``.

    Raises:
        ValueError: the flags do not go together, or the files cannot be loaded.
    """
    if args.tls and (args.certfile or args.keyfile):
        raise ValueError("--tls makes its own certificate; give either --tls or --certfile")
    if bool(args.certfile) != bool(args.keyfile):
        raise ValueError("--certfile and --keyfile go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if args.certfile:
        try:
            context.load_cert_chain(args.certfile, args.keyfile)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot load {args.certfile} / {args.keyfile}: {exc}") from exc
        return Tls(context)
    if not args.tls:
        return None
    try:
        import trustme
    except ImportError as exc:
        raise ValueError("--tls needs trustme: pip install '.[local]' in a checkout") from exc
    authority = trustme.CA(organization_name="rtsession local server")
    names = sorted({"127.0.0.1", "localhost", "::1", args.host})
    authority.issue_cert(*names).configure_cert(context)
    trust = directory / "rtsession-local-ca.pem"
    authority.cert_pem.write_to_path(str(trust))
    return Tls(context, trust)


@attrs.frozen
class Failures:
    """``--close-every`` / ``--close-code``: close every open connection periodically."""

    every: float
    code: int

    async def run(self, server: LocalServer) -> None:
        while True:
            await trio.sleep(self.every)
            closed = await server.close_connections(self.code, "closed on purpose (--close-every)")
            logger.info("closed %d connection(s) with code %d", closed, self.code)


async def _serve(
    host: str,
    port: int,
    engines: SpeechEngines | None,
    processes: int,
    out: TextIO,
    failures: Failures | None = None,
    tls: Tls | None = None,
) -> None:
    """Serve until SIGTERM (returns) or SIGINT (``KeyboardInterrupt``)."""
    with trio.open_signal_receiver(signal.SIGTERM) as signals:
        async with open_local_server(
            host=host,
            port=port,
            engines=engines,
            speech_processes=processes,
            ssl_context=None if tls is None else tls.context,
        ) as server:
            trust = None if tls is None else tls.trust
            text = banner(server, protocol_only=engines is not None, trust=trust)
            print(text, file=out, flush=True)
            try:
                async with trio.open_nursery() as nursery:
                    if failures is not None:
                        nursery.start_soon(failures.run, server)
                    async for _ in signals:
                        nursery.cancel_scope.cancel()
            except BaseExceptionGroup as group:  # Ctrl+C arrives as KeyboardInterrupt alone
                reraise(collapse(group))


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl+C or SIGTERM; returns 0 then, 1 when the server cannot start."""
    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.verbose:  # otherwise the root logger's WARNING applies
        logging.getLogger("rtsession").setLevel(logging.DEBUG)
    engines = protocol_only_engines() if args.protocol_only else None
    failures = None
    with tempfile.TemporaryDirectory(prefix="rtsession-serve-") as directory:
        try:
            if args.close_every is not None:
                if not args.close_every > 0:
                    raise ValueError("--close-every must be a positive number of seconds")
                check_close(args.close_code, "")
                failures = Failures(args.close_every, args.close_code)
            tls = tls_settings(args, Path(directory))
        except ValueError as exc:
            print(f"rtsession serve: {exc}", file=sys.stderr)
            return 2
        return _run(args, engines, failures, tls)


def _run(
    args: argparse.Namespace,
    engines: SpeechEngines | None,
    failures: Failures | None,
    tls: Tls | None,
) -> int:
    try:
        trio.run(
            _serve,
            args.host,
            args.port,
            engines,
            args.speech_processes,
            sys.stdout,
            failures,
            tls,
        )
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 0
    except SpeechEngineUnavailableError as exc:
        print(f"rtsession serve: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"rtsession serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print("stopped", file=sys.stderr)
    return 0
