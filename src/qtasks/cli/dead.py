"""`qtasks dead list|requeue|purge`: the dead letters (tasks taken out of delivery).
`purge` asks first on a terminal and refuses without `--yes` elsewhere. Exit codes:
`qtasks.cli.output`."""

from __future__ import annotations

import argparse
from typing import Any

from qtasks.cli.common import UsageError
from qtasks.cli.output import (
    NOT_DONE,
    OK,
    add_json,
    confirm,
    guarded,
    load,
    plain,
    print_json,
    table,
)

name = "dead"
summary = "list, requeue or purge dead letters"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="dead_command", metavar="list|requeue|purge")
    listing = actions.add_parser("list", help="dead letters, newest first")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--offset", type=int, default=0)
    add_json(listing)
    for action, text in (("requeue", "queue again"), ("purge", "forget")):
        sub = actions.add_parser(action, help=f"{text} these dead letters (all when none given)")
        sub.add_argument("uuids", nargs="*", metavar="uuid")
        sub.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        add_json(sub)


@guarded
def run(args: argparse.Namespace) -> int:
    action = getattr(args, "dead_command", None)
    if action is None:
        raise UsageError("usage: qtasks -A module:app dead {list,requeue,purge} ...")
    app = load(args)
    if action == "list":
        letters = app.dead_letters(args.limit, args.offset)
        if args.json:
            print_json([_letter(d) for d in letters])
        else:
            rows = [
                (d.uuid, d.record.task_name if d.record else "?", d.queue, d.reason)
                for d in letters
            ]
            table(None, ("uuid", "task", "queue", "reason"), rows)
        return OK
    uuids = args.uuids or None
    what = f"{len(uuids)} dead letter(s)" if uuids else "every dead letter"
    if action == "purge" and not confirm(f"Forget {what} of app {app.name!r}?", args.yes):
        return NOT_DONE
    count = (app.requeue_dead_letters if action == "requeue" else app.purge_dead_letters)(uuids)
    done = "Requeued" if action == "requeue" else "Purged"
    print_json({action + "d": count}) if args.json else print(f"{done} {count} dead letter(s)")
    return OK if count else NOT_DONE


def _letter(d: Any) -> dict[str, Any]:
    record = d.record
    return {
        "uuid": d.uuid,
        "queue": d.queue,
        "reason": d.reason,
        "dead_at": d.dead_at,
        "task_name": record.task_name if record is not None else None,
        "args": plain(record.args) if record is not None else None,
        "kwargs": plain(record.kwargs) if record is not None else None,
        "raw": d.raw,
    }


__all__ = ["add_arguments", "name", "run", "summary"]
