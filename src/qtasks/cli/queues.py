"""The queue commands: `queues` (counts by queue and status, paused or not), `pause`
and `resume` (for every worker of the queue). Exit codes: `qtasks.cli.output`."""

from __future__ import annotations

import argparse
from typing import Any

from qtasks.cli.output import OK, GroupCommand, add_json, guarded, load, print_json, table

_COLUMNS = ("new", "process", "success", "error", "cancel", "retry")


def queue_rows(app: Any) -> tuple[dict[str, dict[str, int]], list[str]]:
    """(counts by queue then status, paused queues) of `app`."""
    counts: dict[str, dict[str, int]] = app.count_tasks()
    paused: list[str] = app.paused_queues()
    for queue in paused:
        counts.setdefault(queue, {})
    return counts, paused


def print_queues(counts: dict[str, dict[str, int]], paused: list[str]) -> None:
    rows = [
        (queue, "paused" if queue in paused else "active", *(by.get(s, 0) for s in _COLUMNS))
        for queue, by in sorted(counts.items())
    ]
    table(None, ("queue", "state", *_COLUMNS), rows)


def _queues_arguments(parser: argparse.ArgumentParser) -> None:
    add_json(parser)


@guarded
def _queues(args: argparse.Namespace) -> int:
    counts, paused = queue_rows(load(args))
    if args.json:
        print_json({q: {"paused": q in paused, "counts": by} for q, by in counts.items()})
    else:
        print_queues(counts, paused)
    return OK


def _queue_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("queue", help="the queue's name")


@guarded
def _pause(args: argparse.Namespace) -> int:
    load(args).pause_queue(args.queue)
    print(f"Paused queue {args.queue!r}: its workers stop fetching within about a second")
    return OK


@guarded
def _resume(args: argparse.Namespace) -> int:
    load(args).resume_queue(args.queue)
    print(f"Resumed queue {args.queue!r}")
    return OK


QUEUES = GroupCommand(
    "queues",
    "count tasks by queue and status; paused queues",
    _queues_arguments,
    _queues,
    f"{__name__}:QUEUES",
)
PAUSE = GroupCommand(
    "pause", "stop every worker of a queue fetching", _queue_argument, _pause, f"{__name__}:PAUSE"
)
RESUME = GroupCommand(
    "resume",
    "let the workers of a paused queue fetch",
    _queue_argument,
    _resume,
    f"{__name__}:RESUME",
)
COMMANDS = (QUEUES, PAUSE, RESUME)

__all__ = ["COMMANDS", "PAUSE", "QUEUES", "RESUME", "print_queues", "queue_rows"]
