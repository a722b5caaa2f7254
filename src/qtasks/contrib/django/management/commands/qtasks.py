"""`python manage.py qtasks COMMAND [options]`: the `qtasks` command with Django set up
and the project's app (`settings.QTASKS`) as the default `-A`.

`worker` is another name of `run`: `python manage.py qtasks worker --concurrency 4`.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

_APP_OPTIONS = ("-A", "--app", "-app")


class Command(BaseCommand):  # type: ignore[misc]
    help = "Run a qtasks command (worker, status, purge, ...) for this project's app"

    def run_from_argv(self, argv: list[str]) -> None:
        # The qtasks command parses its own options: Django's parser would refuse them.
        sys.exit(run_qtasks(argv[2:]))

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("words", nargs="*", help="a qtasks command and its options")

    def handle(self, *args: Any, **options: Any) -> None:  # call_command("qtasks", ...)
        code = run_qtasks([*args, *options.get("words", [])])
        if code:
            raise SystemExit(code)


def run_qtasks(words: list[str]) -> int:
    """Run `qtasks` with `words` (`worker` read as `run`, the project's app unless `-A`
    names another); returns its exit code."""
    from qtasks.cli import main

    words = list(words)
    for i, word in enumerate(words):
        if word == "worker" and (i == 0 or words[i - 1] not in (*_APP_OPTIONS, "--log-level")):
            words[i] = "run"
            break
    if not any(w in _APP_OPTIONS or w.startswith("--app=") for w in words):
        words = ["-A", "qtasks.contrib.django:get_app", *words]
    return main(words)
