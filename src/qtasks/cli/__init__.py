"""The `qtasks` command (also `python -m qtasks`).

    qtasks -A module:app run [--concurrency N] [--processes N] [--queues a,b] [--log-level L]

Global options (`-A/--app/-app`, `--log-level`) may stand before or after the
subcommand.

Commands
--------
Each subcommand is an object (usually a module) with four names:

- `name: str`: the word after `qtasks`, e.g. `"run"`.
- `summary: str`: its one line in `qtasks --help`.
- `add_arguments(parser)`: add the command's own options to `parser`, the
  `argparse.ArgumentParser` of the subcommand; `-A/--app` and `--log-level` are
  already on it.
- `run(args) -> int`: do the work with the parsed `argparse.Namespace`; the return
  value is the exit code. `qtasks.cli.common.load_app(args)` gives the app of `-A`
  (with `--log-level` applied); raising `qtasks.cli.common.UsageError` ends with the
  usage and exit code 2, like an argparse error.

`qtasks.cli.registry.Command` spells this shape for type checkers. The built-in
commands are the modules listed in `qtasks.cli.registry.BUILTIN_COMMANDS`; other
packages add theirs under the entry-point group `qtasks.commands`, each entry point
loading such an object. A third-party command that cannot be loaded, lacks the shape,
takes a name already in use or fails in `add_arguments` is skipped with a warning on
stderr; the other commands keep working.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from qtasks import __version__
from qtasks.cli.common import UsageError, add_global_options, get_app, warn
from qtasks.cli.registry import BUILTIN_COMMANDS, Command, plugin_commands


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of `qtasks`, with the built-in commands and those of installed plugins
    (not looked up when `argv` names a built-in command: nothing else is needed then)."""
    parser = argparse.ArgumentParser(prog="qtasks", description="qtasks task queue")
    parser.add_argument("--version", action="version", version=f"qtasks {__version__}")
    add_global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in BUILTIN_COMMANDS:
        _add_command(sub, command)
    wanted = _command_word(argv)
    builtin = wanted is not None and any(c.name == wanted for c in BUILTIN_COMMANDS)
    for command in [] if builtin else plugin_commands(BUILTIN_COMMANDS):
        try:
            _add_command(sub, command)
        except Exception as exc:  # third-party code: it must not break the other commands
            warn(f"command {command.name!r} failed to add its options: {exc}")
    return parser


#: Global options that take a value (the word after them is not the command).
_VALUED = frozenset({"-A", "--app", "-app", "--log-level"})


def _command_word(argv: Sequence[str] | None) -> str | None:
    """The command word of `argv`: its first word that is neither an option nor the
    value of a global option."""
    if argv is None:
        return None
    words = iter(argv)
    for word in words:
        if word in _VALUED:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], command: Command
) -> None:
    # The global options go first, so that every command's help lists them alike.
    parser = sub.add_parser(command.name, help=command.summary)
    add_global_options(parser)
    command.add_arguments(parser)
    parser.set_defaults(qtasks_command=command)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (default: `sys.argv[1:]`), run the chosen command, return its exit code."""
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    command = getattr(args, "qtasks_command", None)
    if command is None:  # a plugin whose add_arguments failed half-way
        parser.error(f"unknown command {args.command!r}")
    try:
        result: int = command.run(args)
        return result
    except UsageError as exc:
        parser.error(str(exc))


__all__ = ["Command", "build_parser", "get_app", "main"]
