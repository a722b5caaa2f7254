"""`qtasks purge`: delete every queued task and record of the app."""

from __future__ import annotations

import argparse

from qtasks.cli.common import load_app

name = "purge"
summary = "delete every queued task and record of the app"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--yes` skips the confirmation prompt."""
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def run(args: argparse.Namespace) -> int:
    """Ask first (unless `--yes`), then purge; exit 1 when the answer is not yes."""
    app = load_app(args)
    if not args.yes:
        try:
            answer = input(f"Delete every task of app {app.name!r}? [y/N] ")
        except EOFError:  # no terminal to ask on (a script, CI): nothing is deleted
            print("\nNot purged: no answer to read; pass --yes to purge without asking")
            return 1
        if answer.strip().lower() not in ("y", "yes"):
            return 1
    app.backend.purge_sync()
    print(f"Purged app {app.name!r}")
    return 0


__all__ = ["add_arguments", "name", "run", "summary"]
