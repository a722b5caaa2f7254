"""The task commands: `tasks` (list with filters), `task` (one record in full, with
its retry chain), `retry` and `cancel`. Exit codes: `qtasks.cli.output`."""

from __future__ import annotations

import argparse
from typing import Any

from qtasks.cli.output import (
    NOT_DONE,
    OK,
    GroupCommand,
    add_json,
    guarded,
    load,
    print_json,
    table,
    task_dict,
)

_STATUSES = ("new", "process", "success", "error", "cancel", "retry")


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", choices=_STATUSES, help="only tasks of this status")
    parser.add_argument("--name", dest="task_name", help="only tasks of this task name")
    parser.add_argument("--queue", help="only tasks of this queue")
    parser.add_argument(
        "--since", help="created at or after: a span back from now (90s, 15m, 1h, 2d) or epoch"
    )
    parser.add_argument("--until", help="created before: a span back from now or epoch")


def _moment(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text  # a span: checked by the app


def _progress(task: Any) -> str:
    p = task.progress
    if not p:
        return "-"
    text = f"{p['value'] * 100:.0f}%"
    return f"{text} {p['message']}" if p.get("message") else text


# --- tasks --------------------------------------------------------------------------------
def _tasks_arguments(parser: argparse.ArgumentParser) -> None:
    _filters(parser)
    parser.add_argument("--limit", type=int, default=50, help="tasks per page (default 50)")
    parser.add_argument("--cursor", help="the page after this one (printed under a full page)")
    add_json(parser)


@guarded
def _tasks(args: argparse.Namespace) -> int:
    app = load(args)
    page = app.list_tasks(
        status=args.status,
        task_name=args.task_name,
        queue=args.queue,
        since=_moment(args.since),
        until=_moment(args.until),
        limit=args.limit,
        cursor=args.cursor,
    )
    if args.json:
        print_json({"tasks": [task_dict(t) for t in page], "cursor": page.cursor})
        return OK
    rows = [
        (str(t.uuid), t.task_name, t.status, t.queue, t.created_at, t.attempts, _progress(t))
        for t in page
    ]
    columns = ("uuid", "task", "status", "queue", "created", "attempts", "progress")
    table(None, columns, rows)
    if page.cursor is not None:
        print(f"more: --cursor {page.cursor}")
    return OK


# --- task ---------------------------------------------------------------------------------
def _task_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("uuid", help="the task's uuid")
    add_json(parser)


def _chain(app: Any, task: Any) -> list[Any]:
    """The task's retry chain, first attempt to last: automatic retries
    (`retry_parent_uuid`/`retry_child_uuid`) and manual ones (`retry_of`/`retried_as`)."""
    back: list[Any] = []
    current = task
    while (parent := current.retry_parent_uuid or current.extra.get("retry_of")) is not None:
        found = app.get(str(parent))
        if found is None or len(back) > 100:
            break
        back.insert(0, found)
        current = found
    forward: list[Any] = []
    current = task
    while (child := current.retry_child_uuid or current.extra.get("retried_as")) is not None:
        found = app.get(str(child))
        if found is None or len(forward) > 100:
            break
        forward.append(found)
        current = found
    return [*back, task, *forward]


@guarded
def _task(args: argparse.Namespace) -> int:
    app = load(args)
    task = app.get(args.uuid)
    if task is None:
        print(f"No task {args.uuid} (unknown, or its record expired)")
        return NOT_DONE
    chain = _chain(app, task)
    if args.json:
        print_json(
            {**task_dict(task), "chain": [{"uuid": t.uuid, "status": t.status} for t in chain]}
        )
        return OK
    fields = [
        ("uuid", task.uuid),
        ("task", task.task_name),
        ("status", task.status),
        ("queue", task.queue),
        ("priority", task.priority),
        ("attempts", task.attempts),
        ("created", task.created_at),
        ("updated", task.updated_at),
        ("args", task.args),
        ("kwargs", task.kwargs),
        ("result", task.returning),
        ("progress", _progress(task)),
    ]
    fields += [(k, v) for k, v in sorted(task.extra.items())]
    table(None, ("field", "value"), fields)
    if len(chain) > 1:
        rows = [("*" if t.uuid == task.uuid else "", str(t.uuid), t.status) for t in chain]
        table("retry chain", ("", "uuid", "status"), rows)
    if task.traceback:
        print(task.traceback)
    return OK


# --- retry --------------------------------------------------------------------------------
def _retry_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("uuids", nargs="+", metavar="uuid", help="finished tasks to run again")
    add_json(parser)


@guarded
def _retry(args: argparse.Namespace) -> int:
    app = load(args)
    done: list[tuple[str, str | None]] = []
    for uuid in args.uuids:
        copy = app.retry(uuid)
        done.append((uuid, None if copy is None else str(copy.uuid)))
    if args.json:
        print_json([{"uuid": u, "retried_as": c} for u, c in done])
    else:
        for uuid, copy in done:
            print(f"{uuid} -> {copy}" if copy else f"{uuid}: unknown or expired")
    return OK if all(c for _, c in done) else NOT_DONE


# --- cancel -------------------------------------------------------------------------------
def _cancel_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("uuids", nargs="*", metavar="uuid", help="tasks to cancel")
    _filters(parser)
    parser.add_argument("--reason", default="", help="stored as the cancel reason")
    add_json(parser)


@guarded
def _cancel(args: argparse.Namespace) -> int:
    app = load(args)
    filters = (args.status, args.task_name, args.queue, args.since, args.until)
    if args.uuids and any(f is not None for f in filters):
        print("qtasks: error: give task uuids or filters, not both")
        return 2
    if args.uuids:
        results = {u: app.cancel(u, args.reason) for u in args.uuids}
        count = sum(t is not None for t in results.values())
        if args.json:
            print_json({u: (t.status if t else None) for u, t in results.items()})
        else:
            for uuid, t in results.items():
                print(f"{uuid}: {t.status if t else 'unknown or already finished'}")
        return OK if count == len(results) else NOT_DONE
    if all(f is None for f in filters):
        print("qtasks: error: give task uuids, or filters (--status, --name, ...) to cancel")
        return 2
    count = app.cancel_tasks(
        status=args.status,
        task_name=args.task_name,
        queue=args.queue,
        since=_moment(args.since),
        until=_moment(args.until),
        reason=args.reason,
    )
    print_json({"cancelled": count}) if args.json else print(f"Cancelled {count} task(s)")
    return OK if count else NOT_DONE


TASKS = GroupCommand(
    "tasks", "list tasks, newest first, with filters", _tasks_arguments, _tasks, f"{__name__}:TASKS"
)
TASK = GroupCommand(
    "task",
    "show one task: record, traceback, retry chain",
    _task_arguments,
    _task,
    f"{__name__}:TASK",
)
RETRY = GroupCommand(
    "retry",
    "run finished tasks again (a linked copy)",
    _retry_arguments,
    _retry,
    f"{__name__}:RETRY",
)
CANCEL = GroupCommand(
    "cancel", "cancel tasks by uuid or by filters", _cancel_arguments, _cancel, f"{__name__}:CANCEL"
)
COMMANDS = (TASKS, TASK, RETRY, CANCEL)

__all__ = ["CANCEL", "COMMANDS", "RETRY", "TASK", "TASKS"]
