"""What the operating commands share: their exit codes, `--json`, tables (rich tables
and colour on a terminal when `rich` is installed, plain aligned text when piped), the
confirmation of destructive commands, and the command objects of a command group.

Exit codes of every `qtasks` command:

| code | meaning |
|---|---|
| 0 | done |
| 1 | nothing to do or not done: an unknown uuid, no live worker, an answer that was not yes |
| 2 | usage: a bad option or value, no app, an app that cannot be loaded |
| 3 | the backend cannot do it (`CapabilityError`) or cannot be reached (`BackendError`) |
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import inspect
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from qtasks.cli.common import load_app
from qtasks.exc import BackendError, ConfigError

OK, NOT_DONE, USAGE, BACKEND = 0, 1, 2, 3

#: Colours of statuses on a terminal.
STATUS_STYLE = {
    "new": "cyan",
    "process": "yellow",
    "success": "green",
    "error": "bold red",
    "cancel": "magenta",
    "retry": "blue",
}


class GroupCommand:
    """One command of a command-group module (the `qtasks.cli.registry.Command` shape)."""

    def __init__(
        self,
        name: str,
        summary: str,
        add_arguments: Callable[[argparse.ArgumentParser], None],
        run: Callable[[argparse.Namespace], int],
        entry_point: str,
    ) -> None:
        self.name, self.summary = name, summary
        self._add_arguments, self._run = add_arguments, run
        #: Where it is declared under the entry-point group, `module:ATTRIBUTE`.
        self.entry_point = entry_point

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        self._add_arguments(parser)

    def run(self, args: argparse.Namespace) -> int:
        return self._run(args)

    def __repr__(self) -> str:
        return f"<qtasks command {self.name!r}>"


class Blocking:
    """An app whose method calls return their result: as they are for the sync app; for
    the async app (`qtasks.asyncio.QueueTasks`) each call is run to its end on one event
    loop this object keeps for the command (so connections are made once). Attributes
    that are not methods are the app's own."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._loop: asyncio.AbstractEventLoop | None = None

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._app, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            if inspect.isawaitable(result):
                if self._loop is None:
                    self._loop = asyncio.new_event_loop()
                result = self._loop.run_until_complete(_awaited(result))
            return result

        return call

    def close(self) -> None:
        """Close the app's connections made on this object's loop, then the loop."""
        if self._loop is not None:
            self._loop.run_until_complete(self._app.backend.close())
            self._loop.close()
            self._loop = None


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


#: The apps `load()` gave the command running now; `guarded` closes them when it ends.
_LOADED: list[Blocking] = []


def load(args: argparse.Namespace) -> Any:
    """The app of `-A` (see `qtasks.cli.common.load_app`), its calls blocking."""
    app = Blocking(load_app(args))
    _LOADED.append(app)
    return app


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def terminal() -> bool:
    """Whether standard output is a terminal (rich tables and colour then)."""
    return sys.stdout.isatty()


def _rich() -> Any:
    try:
        import rich.console
    except ImportError:  # optional: the "cli" extra (`pip install ".[cli]"` in a checkout)
        return None
    return rich


def plain(value: Any) -> Any:
    """`value` with datetimes as ISO text and UUIDs and other objects as strings, for JSON."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def print_json(value: Any) -> None:
    print(json.dumps(plain(value), ensure_ascii=False, indent=2))


def task_dict(task: Any) -> dict[str, Any]:
    """A `Task` as a JSON-ready dict: every field, its extra fields under `extra`."""
    fields = {f.name: getattr(task, f.name) for f in dataclasses.fields(task)}
    return {k: plain(v) for k, v in fields.items()}


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print rows under column headers: a rich table on a terminal, else plain columns
    (two spaces apart, no colour), one line per row."""
    text = [[_cell(v) for v in row] for row in rows]
    rich = _rich() if terminal() else None
    if rich is not None:
        from rich.table import Table

        t = Table(title=title, header_style="bold")
        for column in columns:
            t.add_column(column)
        for row in text:
            t.add_row(*(_styled(column, value) for column, value in zip(columns, row, strict=True)))
        rich.console.Console().print(t)
        return
    if title:
        print(title)
    widths = [max([len(c), *(len(r[i]) for r in text)]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in text:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _styled(column: str, value: str) -> str:
    style = STATUS_STYLE.get(value) if column == "status" else None
    return f"[{style}]{value}[/]" if style else value.replace("[", "\\[")


def confirm(question: str, yes: bool) -> bool:
    """True with `--yes`; on a terminal, ask; elsewhere refuse (say how to go on)."""
    if yes:
        return True
    if not sys.stdin.isatty():
        print("Not done: no terminal to ask on; pass --yes to go on without asking")
        return False
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """`run`, with the backend's refusals and failures as exit code 3 and a bad value
    as a usage error (2), each with one line on stderr; the apps it loaded are closed
    when it ends."""

    def wrapper(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except ConfigError as exc:
            print(f"qtasks: error: {exc}", file=sys.stderr)
            return USAGE
        except BackendError as exc:
            print(f"qtasks: error: {exc}", file=sys.stderr)
            return BACKEND
        finally:
            while _LOADED:
                _LOADED.pop().close()

    return wrapper


__all__ = [
    "BACKEND",
    "NOT_DONE",
    "OK",
    "STATUS_STYLE",
    "USAGE",
    "Blocking",
    "GroupCommand",
    "add_json",
    "confirm",
    "guarded",
    "load",
    "plain",
    "print_json",
    "table",
    "task_dict",
    "terminal",
]
