"""`qtasks workers`: the live workers, and the tasks each runs as of its last
heartbeat. Exit codes: `qtasks.cli.output` (1 when no worker is alive)."""

from __future__ import annotations

import argparse
import time

from qtasks.cli.output import NOT_DONE, OK, add_json, guarded, load, print_json, table

name = "workers"
summary = "list the live workers and what each runs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_json(parser)


@guarded
def run(args: argparse.Namespace) -> int:
    app = load(args)
    workers = app.live_workers()
    if args.json:
        print_json(workers)
        return OK if workers else NOT_DONE
    if not workers:
        print(f"No live workers for app {app.name!r}")
        return NOT_DONE
    now = time.time()
    rows = []
    for w in workers:
        running = w.get("running") or []
        shown = ", ".join(f"{r['task_name']} {r['uuid'][:8]}" for r in running[:5])
        if len(running) > 5:
            shown += f" (+{len(running) - 5})"
        up = f"{now - float(w.get('started') or now):.0f}s"
        rows.append((w["worker_id"], w.get("queue"), w.get("concurrency"), up, shown or "-"))
    table(None, ("worker", "queue", "slots", "up", "running"), rows)
    return OK


__all__ = ["add_arguments", "name", "run", "summary"]
