"""QTasks 1.7's `stats inspect` command and the helpers of its `qtasks.__main__`.

`qtasks -A module:app stats inspect <target> [names...] [json=true]` prints what
`SyncStats(app).inspect()` gives: `app`, `task <name>`, or `tasks [names...]`;
`stats --stats-app module:obj inspect ...` uses a stats object of one's own instead. Arguments
of the form `key=value` are options (`true`/`false`, integers and decimals are
converted), the others are names. The command reaches the CLI through the entry-point
group `qtasks.commands`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import os
import sys
from typing import Any

from qtasks.cli.common import AppLoadError, UsageError, load_app
from qtasks.cli.common import get_app as _load
from qtasks.compat.stats import SyncStats

name = "stats"
summary = "describe the app and its tasks (QTasks 1.7's stats inspect)"

_TARGETS = ("app", "task", "tasks")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stats-app",
        metavar="MODULE:STATS",
        help="a stats object of your own (`SyncStats(app)`, `AsyncStats(app)` or a "
        "subclass; a function there is called) instead of SyncStats(app)",
    )
    actions = parser.add_subparsers(dest="stats_command", metavar="inspect")
    inspect = actions.add_parser("inspect", help="describe the app or its tasks")
    inspect.add_argument("target", choices=_TARGETS, help="what to describe")
    inspect.add_argument("extra", nargs="*", help="task names and key=value options")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "stats_command", None) != "inspect":
        raise UsageError("usage: qtasks -A module:app stats inspect {app,task,tasks} ...")
    app = load_app(args)
    names, options = positional(args)
    as_json = bool(options.pop("json", False))
    if options:
        raise UsageError(f"unknown option(s): {', '.join(sorted(options))} (known: json)")
    inspected = _inspect(_stats_of(args.stats_app) if args.stats_app else SyncStats(app))
    if args.target == "app":
        print(inspected.app(json=as_json))
    elif args.target == "task":
        if len(names) != 1:
            raise UsageError("stats inspect task takes one task name")
        try:
            print(inspected.task(names[0], json=as_json))
        except KeyError:
            raise UsageError(f"no task named {names[0]!r} in app {app.name!r}") from None
    else:
        print(inspected.tasks(*names, json=as_json))
    return 0


def _stats_of(target: str) -> Any:
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"--stats-app takes module:attribute, got {target!r}")
    if os.getcwd() not in sys.path:  # found like the app of -A
        sys.path.insert(0, os.getcwd())
    try:
        stats = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"cannot load --stats-app {target}: {exc}") from exc
    if inspect.isfunction(stats):
        stats = stats()
    if not callable(getattr(stats, "inspect", None)):
        raise UsageError(f"--stats-app {target} is {stats!r}, which has no inspect()")
    return stats


def _inspect(stats: Any) -> Any:
    """`stats.inspect()`, awaited when the stats object is an async one."""
    inspected = stats.inspect()
    if inspect.isawaitable(inspected):
        inspected = asyncio.run(_await(inspected))
    return inspected


async def _await(awaitable: Any) -> Any:
    return await awaitable


def positional(args: Any) -> tuple[list[str], dict[str, Any]]:
    """`args.extra` split into names and `key=value` options, values converted."""
    names: list[str] = []
    options: dict[str, Any] = {}
    for item in getattr(args, "extra", None) or []:
        key, sep, value = item.partition("=")
        if not sep:
            names.append(item)
            continue
        options[key] = _value(value)
    return names, options


def _value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered.isdigit():
        return int(lowered)
    if lowered.replace(".", "", 1).isdigit():
        return float(lowered)
    return text


def get_app(app_arg: str) -> Any:
    """The app at `module:attribute` (a function there is called), or None after
    printing why, as QTasks 1.7's `qtasks.__main__.get_app` did."""
    try:
        return _load(app_arg)
    except AppLoadError as exc:
        print(f"[QTasks] Error retrieving application: {exc}")
        return None


__all__ = ["add_arguments", "get_app", "name", "positional", "run", "summary"]
