"""The ``rtsession`` command: a registry of subcommands, each in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import attrs

from . import _bench, _demo, _phone, _replay, _serve, _talk, _web

__all__ = ["COMMANDS", "Command", "build_parser", "main"]


@attrs.frozen
class Command:
    """One ``rtsession`` subcommand.

    Attributes:
        name: what the user types, e.g. ``"serve"``.
        help: one line for the command list.
        configure: adds the subcommand's arguments to its parser.
        run: runs it with the parsed arguments; returns the exit status.
    """

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: tuple[Command, ...] = (
    Command("demo", _demo.HELP, _demo.configure, _demo.run),
    Command("talk", _talk.HELP, _talk.configure, _talk.run),
    Command("web", _web.HELP, _web.configure, _web.run),
    Command("phone", _phone.HELP, _phone.configure, _phone.run),
    Command("serve", _serve.HELP, _serve.configure, _serve.run),
    Command("replay", _replay.HELP, _replay.configure, _replay.run),
    Command("bench", _bench.HELP, _bench.configure, _bench.run),
)
"""The subcommands, in the order ``rtsession --help`` lists them; add new ones here."""


def build_parser(commands: Sequence[Command] = COMMANDS) -> argparse.ArgumentParser:
    """The argument parser of ``rtsession`` with one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="rtsession",
        description="Realtime AI conversations for trio programs: tools around rtsession.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for command in commands:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.configure(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rtsession`` with ``argv`` (default: ``sys.argv[1:]``).

    With no command, or an unknown one, it prints the help (to stderr for an unknown one).

    Returns:
        The exit status: 0 on success, 2 for a usage error, otherwise what the command returns.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not args_list:
        parser.print_help()
        return 0
    first = args_list[0]
    if not first.startswith("-") and first not in {c.name for c in COMMANDS}:
        print(f"rtsession: unknown command {first!r}\n", file=sys.stderr)
        parser.print_help(sys.stderr)
        return 2
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, or a usage error argparse has already reported
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help()
        return 0
    status: int = args.run(args)
    return status
