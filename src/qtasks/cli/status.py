"""`qtasks status`: list the app's live workers."""

from __future__ import annotations

import argparse

from qtasks.cli.common import load_app

name = "status"
summary = "list the app's live workers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options beyond the global ones."""


def run(args: argparse.Namespace) -> int:
    """Print one line per live worker; exit 1 when there is none."""
    app = load_app(args)
    workers = app.backend.live_workers_sync()
    if not workers:
        print(f"No live workers for app {app.name!r}")
        return 1
    for w in workers:
        print(f"{w['worker_id']}  queue={w.get('queue')} concurrency={w.get('concurrency')}")
    return 0


__all__ = ["add_arguments", "name", "run", "summary"]
