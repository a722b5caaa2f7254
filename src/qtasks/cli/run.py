"""`qtasks run`: run a worker, or several forked worker processes, until SIGINT/SIGTERM.

With several `-A`, each process runs a worker of every app named, each on a thread and
event loop of its own (they share nothing but the process)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from qtasks.cli.common import env_int, load_apps
from qtasks.exc import ConfigError, WorkerRecycledError

name = "run"
summary = "run a worker until SIGINT/SIGTERM"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The worker's options; their defaults may come from the environment."""
    parser.add_argument(
        "--concurrency",
        "-c",
        type=int,
        default=None,
        help="tasks run at once per process (default: max_tasks_process)",
    )
    parser.add_argument(
        "--processes",
        "-p",
        type=int,
        default=env_int("QTASKS_PROCESSES", 1),
        help="worker processes (default: env QTASKS_PROCESSES, else 1)",
    )
    parser.add_argument(
        "--queues",
        "-Q",
        default=os.environ.get("QTASKS_QUEUES"),
        help="comma-separated queues (default: env QTASKS_QUEUES, else 'default')",
    )
    parser.add_argument("--num-workers", type=int, default=None, help="consumer loops per process")
    parser.add_argument(
        "--no-scheduler",
        action="store_true",
        help="do not run the scheduler in this worker (default: env QTASKS_SCHEDULER, else on)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=env_int("QTASKS_METRICS_PORT", 0)
        if os.environ.get("QTASKS_METRICS_PORT", "").strip()
        else None,
        help="serve Prometheus metrics on this port, all processes summed; 0 picks a free "
        'port (default: env QTASKS_METRICS_PORT, else none; needs the "prometheus" extra)',
    )
    parser.add_argument(
        "--metrics-addr",
        default=os.environ.get("QTASKS_METRICS_ADDR", "127.0.0.1"),
        help="address of the metrics server (default: env QTASKS_METRICS_ADDR, else 127.0.0.1)",
    )
    parser.add_argument(
        "--isolation",
        choices=("thread", "process"),
        default=None,
        help="where sync task bodies run: 'process' runs them in child processes that "
        "max_time and cancel can kill (default: env QTASKS_TASK_ISOLATION, else 'thread')",
    )


def run(args: argparse.Namespace) -> int:
    """Run the app's worker in this process, or fork `--processes` of them."""
    apps = load_apps(args)
    for app in apps:
        if args.isolation is not None:
            app.config.task_isolation = args.isolation
        if args.no_scheduler:
            app.config.scheduler = False
    if args.concurrency is not None and args.concurrency < 1:
        raise SystemExit("--concurrency must be >= 1")
    queues = [q.strip() for q in args.queues.split(",") if q.strip()] if args.queues else None
    options = {"queues": queues, "concurrency": args.concurrency}
    if args.metrics_port is not None and len(apps) > 1:
        raise SystemExit("--metrics-port serves one app: give one -A with it")
    metrics = _start_metrics(apps[0], args)
    try:
        if args.processes <= 1:
            code = _run_worker(apps, args.num_workers, options)
            _exit_if_threads_linger(code)
            return code
        return _run_processes(apps, args.processes, args.num_workers, options)
    finally:
        if metrics is not None:
            metrics.close()


def _start_metrics(app: Any, args: argparse.Namespace) -> Any:
    """`--metrics-port`: the metrics plugin on the app and its HTTP server, before any
    worker process is forked (they inherit the plugin)."""
    if args.metrics_port is None:
        return None
    from qtasks.metrics import WorkerMetrics  # only here: prometheus-client is an extra

    try:
        metrics = WorkerMetrics(app, args.metrics_port, args.metrics_addr, args.processes)
    except (ConfigError, OSError) as exc:
        raise SystemExit(f"--metrics-port: {exc}") from exc
    app.log.info("Serving Prometheus metrics at %s", metrics.url)
    return metrics


def _run_worker(apps: list[Any], num_workers: int | None, options: dict[str, Any]) -> int:
    """Run until stopped: 0, or `WorkerRecycledError.exit_code` (75) when a worker
    stopped itself to be replaced by a fresh process (it logged why)."""
    try:
        if len(apps) == 1:
            apps[0].run_forever(num_workers, **options)
        else:
            _run_side_by_side(apps, num_workers, options)
    except WorkerRecycledError as exc:
        return exc.exit_code
    return 0


def _run_side_by_side(apps: list[Any], num_workers: int | None, options: dict[str, Any]) -> None:
    """Each app's worker on a background thread of its own until SIGINT/SIGTERM, or
    until one of them stops by itself; then every one is stopped (running tasks finish
    within their app's shutdown_grace)."""
    import asyncio
    import inspect

    stop = threading.Event()
    seen: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        if signum == signal.SIGINT and signal.SIGINT in seen:
            os._exit(130)  # a second Ctrl+C: do not wait for running tasks
        seen.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    started: list[Any] = []
    try:
        for app in apps:
            app.start_in_background(num_workers, **options)
            started.append(app)
        # A background worker runs on the thread named after its app; one that ends
        # by itself (recycled, crashed) stops the others, and stop() reports why.
        threads = [t for t in threading.enumerate() if t.name in {f"qtasks-{a.name}" for a in apps}]
        while not stop.wait(0.5) and all(t.is_alive() for t in threads):
            pass
    finally:
        failures: list[BaseException] = []
        for app in reversed(started):
            try:
                result = app.stop()
                if inspect.iscoroutine(result):
                    asyncio.run(result)
            except BaseException as exc:
                failures.append(exc)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if failures:
            raise failures[0]


def _run_child(apps: list[Any], num_workers: int | None, options: dict[str, Any]) -> None:
    code = _run_worker(apps, num_workers, options)
    _exit_if_threads_linger(code)
    if code:
        sys.exit(code)


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


def _run_processes(
    apps: list[Any], count: int, num_workers: int | None, options: dict[str, Any]
) -> int:
    """Fork `count` workers; forward SIGINT/SIGTERM to them and wait. A worker process
    that ends with a failure while nobody asked it to stop (recycled itself, exit code
    75; or crashed: a task killed it, a signal, an error) is replaced by a fresh one,
    and the replacement is logged. Workers that keep dying right after they start
    (`_QUICK_DEATHS` in a row) are not replaced again: something outside any task is
    wrong, and the command exits with their code."""
    import multiprocessing  # only here: it costs the single-process worker memory
    from multiprocessing.connection import wait

    ctx = multiprocessing.get_context("fork")
    started: dict[int, float] = {}
    app = apps[0]  # its logger reports on the processes

    def spawn() -> Any:
        child = ctx.Process(target=_run_child, args=(apps, num_workers, options), daemon=False)
        child.start()
        started[child.pid or 0] = time.monotonic()
        return child

    running = [spawn() for _ in range(count)]
    ended: list[Any] = []
    forwarded: set[int] = set()
    quick_deaths = 0

    def forward(signum: int, _frame: Any) -> None:
        forwarded.add(signum)
        for child in list(running):
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    while running:
        gone = set(wait([c.sentinel for c in running]))
        for child in [c for c in running if c.sentinel in gone]:
            child.join()
            running.remove(child)
            code = child.exitcode or 0
            lived = time.monotonic() - started.pop(child.pid, 0.0)
            if forwarded or code == 0:
                ended.append(child)
                continue
            quick_deaths = quick_deaths + 1 if lived < _QUICK_DEATH_SECONDS else 0
            why = f"exit code {code}" if code > 0 else f"signal {_signal_name(-code)}"
            if quick_deaths >= _QUICK_DEATHS:
                app.log.error(
                    "Worker process %s died (%s) %s times in a row right after starting: "
                    "not starting another",
                    child.pid,
                    why,
                    quick_deaths,
                )
                ended.append(child)
                continue
            if code == WorkerRecycledError.exit_code:
                app.log.warning(
                    "Worker process %s recycled itself (%s): starting a fresh one", child.pid, why
                )
            else:
                app.log.error("Worker process %s died (%s): starting a fresh one", child.pid, why)
            time.sleep(0.2 * quick_deaths)  # back off while they keep dying young
            running.append(spawn())

    def exit_code(child: Any) -> int:
        # A child that the forwarded signal ended before it installed its handlers had
        # not fetched anything yet: that is a clean stop.
        code = child.exitcode or 0
        return 0 if code < 0 and -code in forwarded else abs(code)

    return max((exit_code(c) for c in ended), default=0)


#: A worker process that dies within this many seconds of starting, this many times in a
#: row, is not replaced again.
_QUICK_DEATH_SECONDS = 2.0
_QUICK_DEATHS = 5


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


__all__ = ["add_arguments", "name", "run", "summary"]
