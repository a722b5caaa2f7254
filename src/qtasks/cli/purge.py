"""`qtasks purge`: delete the app's tasks: all of them, or those of one queue and/or
one status (`--queue`, `--status`). Asks first on a terminal; elsewhere (a script, CI)
refuses without `--yes`. Exit codes: `qtasks.cli.output`."""

from __future__ import annotations

import argparse

from qtasks.cli.output import NOT_DONE, OK, add_json, confirm, guarded, load, print_json

name = "purge"
summary = "delete the app's tasks: all, or one queue's or status's"

_STATUSES = ("new", "process", "success", "error", "cancel", "retry")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--queue`, `--status` choose; `--yes` skips the confirmation prompt."""
    parser.add_argument("--queue", help="only the tasks of this queue")
    parser.add_argument("--status", choices=_STATUSES, help="only the tasks of this status")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_json(parser)


@guarded
def run(args: argparse.Namespace) -> int:
    """Ask first (unless `--yes`), then purge; exit 1 when the answer is not yes."""
    app = load(args)
    queue, status = getattr(args, "queue", None), getattr(args, "status", None)
    parts = [f"queue {queue!r}" if queue else "", f"status {status!r}" if status else ""]
    chosen = " and ".join(p for p in parts if p)
    what = f"the tasks of {chosen}" if chosen else "every task"
    if not confirm(f"Delete {what} of app {app.name!r}?", args.yes):
        return NOT_DONE
    if queue is None and status is None:
        app.flush_all()  # everything: dead letters and worker registrations too
        print_json({"purged": "all"}) if args.json else print(f"Purged app {app.name!r}")
        return OK
    count = app.purge_tasks(queue=queue, status=status)
    print_json({"purged": count}) if args.json else print(f"Purged {count} task(s) of {chosen}")
    return OK


__all__ = ["add_arguments", "name", "run", "summary"]
