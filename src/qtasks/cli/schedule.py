"""`qtasks schedule list|pause|resume|remove|run-now`: the app's stored schedules."""

from __future__ import annotations

import argparse
import asyncio
import inspect
from typing import Any

from qtasks.cli.common import UsageError, load_app

name = "schedule"
summary = "list, pause, resume, remove or run now the app's schedules"

ACTIONS = ("list", "pause", "resume", "remove", "run-now")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=ACTIONS, help="what to do")
    parser.add_argument("schedule_id", nargs="?", help="the schedule (all but list)")


def _call(app: Any, method: str, *args: Any) -> Any:
    """The app's method, awaited on a loop of its own for an async app."""
    result = getattr(app, method)(*args)
    if inspect.isawaitable(result):

        async def wait() -> Any:
            try:
                return await result
            finally:
                await app.backend.close()

        return asyncio.run(wait())
    return result


def run(args: argparse.Namespace) -> int:
    """Print the schedules (id, state, next run, timing, task) or act on one; exit 1
    for an unknown schedule."""
    app = load_app(args)
    if args.action == "list":
        for info in _call(app, "schedules"):
            state = "paused" if info.paused else "active"
            upcoming = info.next_run.isoformat() if info.next_run else "-"
            print(f"{info.id}  {state}  next={upcoming}  {info.timing}  task={info.task_name}")
        return 0
    if not args.schedule_id:
        raise UsageError(f"schedule {args.action} needs a schedule id")
    method = {
        "pause": "pause_schedule",
        "resume": "resume_schedule",
        "remove": "remove_schedule",
        "run-now": "run_schedule_now",
    }[args.action]
    try:
        result = _call(app, method, args.schedule_id)
    except KeyError:
        print(f"No schedule {args.schedule_id!r} in app {app.name!r}")
        return 1
    if args.action == "remove" and not result:
        print(f"No schedule {args.schedule_id!r} in app {app.name!r}")
        return 1
    done = {"pause": "paused", "resume": "resumed", "remove": "removed"}.get(args.action)
    print(f"Schedule {args.schedule_id!r} " + (done or f"enqueued as task {result}"))
    return 0


__all__ = ["ACTIONS", "add_arguments", "name", "run", "summary"]
