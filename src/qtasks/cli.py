"""The `qtasks` command (also `python -m qtasks`).

    qtasks -A module:app run [--concurrency N] [--processes N] [--queues a,b] [--log-level L]

Global options (`-A/--app/-app`, `--log-level`) may stand before or after the
subcommand.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from qtasks.core.config import cast_env_value
from qtasks.version import __version__

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class AppLoadError(Exception):
    pass


def get_app(app_arg: str) -> Any:
    """Import `module:attribute` (a dotted module path works); a function is called
    as a factory. Raises `AppLoadError` with the reason."""
    if ":" not in app_arg:
        raise AppLoadError(f"expected module:attribute, got {app_arg!r}")
    module_name, _, attr = app_arg.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AppLoadError(f"cannot import module {module_name!r}: {exc}") from exc
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise AppLoadError(f"module {module_name!r} has no attribute {attr!r}") from None
    if inspect.isfunction(obj):
        obj = obj()
    if not hasattr(obj, "run_forever") or not hasattr(obj, "backend"):
        raise AppLoadError(f"{app_arg} is {obj!r}, not a qtasks app")
    return obj


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    default = None if top else argparse.SUPPRESS
    parser.add_argument(
        "-A",
        "--app",
        "-app",
        dest="app",
        default=default,
        metavar="MODULE:APP",
        help="the app to use, e.g. myproject.tasks:app",
    )
    parser.add_argument(
        "--log-level",
        dest="log_level",
        default=default,
        type=str.upper,
        choices=LEVELS,
        help="log level of the app's logger",
    )


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw.strip():
        return default
    try:
        return int(cast_env_value(raw, int))
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a whole number") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qtasks", description="qtasks task queue")
    parser.add_argument("--version", action="version", version=f"qtasks {__version__}")
    _global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a worker until SIGINT/SIGTERM")
    _global_options(run, top=False)
    run.add_argument(
        "--concurrency",
        "-c",
        type=int,
        default=None,
        help="tasks run at once per process (default: max_tasks_process)",
    )
    run.add_argument(
        "--processes",
        "-p",
        type=int,
        default=_env_int("QTASKS_PROCESSES", 1),
        help="worker processes (default: env QTASKS_PROCESSES, else 1)",
    )
    run.add_argument(
        "--queues",
        "-Q",
        default=os.environ.get("QTASKS_QUEUES"),
        help="comma-separated queues (default: env QTASKS_QUEUES, else 'default')",
    )
    run.add_argument("--num-workers", type=int, default=None, help="consumer loops per process")

    status = sub.add_parser("status", help="list the app's live workers")
    _global_options(status, top=False)

    purge = sub.add_parser("purge", help="delete every queued task and record of the app")
    _global_options(purge, top=False)
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if not args.app:
        parser.error("an app is required: qtasks -A module:app " + args.command)
    try:
        app = get_app(args.app)
    except AppLoadError as exc:
        parser.error(f"cannot load the app: {exc}")
    if args.log_level:
        app.config.logs_default_level_server = getattr(logging, args.log_level)
    if args.command == "run":
        return _run(app, args)
    if args.command == "status":
        return _status(app)
    if args.command == "purge":
        return _purge(app, args)
    parser.error(f"unknown command {args.command!r}")
    return 2


def _run(app: Any, args: argparse.Namespace) -> int:
    if args.concurrency is not None and args.concurrency < 1:
        raise SystemExit("--concurrency must be >= 1")
    queues = [q.strip() for q in args.queues.split(",") if q.strip()] if args.queues else None
    options = {"queues": queues, "concurrency": args.concurrency}
    if args.processes <= 1:
        app.run_forever(args.num_workers, **options)
        _exit_if_threads_linger(0)
        return 0
    return _run_processes(app, args.processes, args.num_workers, options)


def _run_child(app: Any, num_workers: int | None, options: dict[str, Any]) -> None:
    app.run_forever(num_workers, **options)
    _exit_if_threads_linger(0)


def _exit_if_threads_linger(code: int) -> None:
    """After the worker stopped, leave at once if task threads are still blocked in
    user code: their tasks were already released back to the queue, and the normal
    interpreter exit would join those threads (wait for the sync function to return)."""
    if any(t.name.startswith("qtasks-task") and t.is_alive() for t in threading.enumerate()):
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


def _run_processes(app: Any, count: int, num_workers: int | None, options: dict[str, Any]) -> int:
    """Fork `count` workers; forward SIGINT/SIGTERM to them and wait."""
    import multiprocessing  # only here: it costs the single-process worker memory

    ctx = multiprocessing.get_context("fork")
    children = [
        ctx.Process(target=_run_child, args=(app, num_workers, options), daemon=False)
        for _ in range(count)
    ]
    for child in children:
        child.start()

    forwarded: set[int] = set()

    def forward(signum: int, _frame: Any) -> None:
        forwarded.add(signum)
        for child in children:
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    for child in children:
        child.join()

    def exit_code(child: Any) -> int:
        # A child that the forwarded signal ended before it installed its handlers had
        # not fetched anything yet: that is a clean stop.
        code = child.exitcode or 0
        return 0 if code < 0 and -code in forwarded else abs(code)

    return max((exit_code(c) for c in children), default=0)


def _status(app: Any) -> int:
    workers = app.backend.live_workers_sync()
    if not workers:
        print(f"No live workers for app {app.name!r}")
        return 1
    for w in workers:
        print(f"{w['worker_id']}  queue={w.get('queue')} concurrency={w.get('concurrency')}")
    return 0


def _purge(app: Any, args: argparse.Namespace) -> int:
    if not args.yes:
        answer = input(f"Delete every task of app {app.name!r}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return 1
    app.backend.purge_sync()
    print(f"Purged app {app.name!r}")
    return 0


__all__ = ["get_app", "main"]
