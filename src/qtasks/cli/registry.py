"""Where `qtasks` finds its commands: the built-in table below, then the entry-point
group `qtasks.commands` of installed packages."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Protocol, cast

from qtasks.cli import beat, db, dead, purge, queues, run, schedule, status, tasks, workers
from qtasks.cli.common import warn

GROUP = "qtasks.commands"


class Command(Protocol):
    """The shape of a command; a module with these four names has it."""

    name: str
    summary: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


# In the order `qtasks --help` lists them. pyproject.toml declares them under the
# entry-point group as well, for tools that list what a package adds; the CLI still
# takes them from here, so they exist when qtasks runs from a source tree without
# installed metadata, and skips their entry points.
BUILTIN_COMMANDS: tuple[Command, ...] = (
    run,
    beat,
    schedule,
    status,
    *tasks.COMMANDS,
    *queues.COMMANDS,
    workers,
    dead,
    purge,
    db,
)


def as_command(obj: object) -> Command:
    """`obj` itself if it has the command shape; `TypeError` naming what is missing."""
    for attr in ("name", "summary"):
        if not isinstance(getattr(obj, attr, None), str):
            raise TypeError(f"{obj!r} has no string attribute {attr!r}")
    for attr in ("add_arguments", "run"):
        if not callable(getattr(obj, attr, None)):
            raise TypeError(f"{obj!r} has no {attr}() function")
    return cast(Command, obj)


def plugin_commands(known: Sequence[Command]) -> list[Command]:
    """The commands of entry-point group `qtasks.commands` that are not in `known`,
    sorted by entry-point name.

    One that fails to load, lacks the shape or takes the name of another command is
    skipped with a warning: an installed plugin must not take the whole CLI down
    with it.
    """
    # Imported here: importlib.metadata weighs ~1.5 MB, which a worker started for a
    # built-in command does not need to carry.
    from importlib import metadata

    names = {command.name for command in known}
    found = []
    for entry in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
        try:
            command = as_command(entry.load())
        except Exception as exc:  # importing third-party code can fail in any way
            warn(f"skipped command {entry.name!r} ({entry.value}): {exc}")
            continue
        if command in known:  # a built-in's own entry point
            continue
        if command.name in names:
            warn(f"skipped command {entry.name!r} ({entry.value}): {command.name!r} exists")
            continue
        names.add(command.name)
        found.append(command)
    return found


__all__ = ["BUILTIN_COMMANDS", "GROUP", "Command", "as_command", "plugin_commands"]
