"""`qtasks status`: the app's live workers and its queues' depths. Exit codes:
`qtasks.cli.output` (1 when no worker is alive)."""

from __future__ import annotations

import argparse

from qtasks.cli.output import NOT_DONE, OK, add_json, guarded, load, print_json
from qtasks.cli.queues import print_queues, queue_rows

name = "status"
summary = "list the app's live workers and its queues' depths"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_json(parser)


@guarded
def run(args: argparse.Namespace) -> int:
    """One line per live worker, then the queues (where the backend can count them);
    exit 1 when no worker is alive."""
    app = load(args)
    workers = app.backend.live_workers_sync()
    counts, paused = queue_rows(app) if app.backend.capabilities.inspection else ({}, [])
    if args.json:
        print_json({"workers": workers, "queues": counts, "paused": paused})
        return OK if workers else NOT_DONE
    if not workers:
        print(f"No live workers for app {app.name!r}")
    for w in workers:
        print(f"{w['worker_id']}  queue={w.get('queue')} concurrency={w.get('concurrency')}")
    if counts:
        print_queues(counts, paused)
    return OK if workers else NOT_DONE


__all__ = ["add_arguments", "name", "run", "summary"]
