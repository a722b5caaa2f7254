"""`qtasks beat`: run only the app's scheduler (no worker) until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse

from qtasks.cli.common import load_app

name = "beat"
summary = "run only the scheduler (periodic tasks), no worker"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options beyond the global ones."""


def run(args: argparse.Namespace) -> int:
    load_app(args).run_scheduler()
    return 0


__all__ = ["add_arguments", "name", "run", "summary"]
