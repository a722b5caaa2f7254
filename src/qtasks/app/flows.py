"""Client operations written once, as generators that yield what they need done.

A flow yields `Trigger` (run plugins of a table) and `Call` (a backend method) steps
and receives each step's result; `drive_sync` runs the steps with the backend's sync
twins and `trigger_sync`, `drive_async` with its coroutines and `trigger`. This keeps
one copy of the order of plugins and I/O for both apps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from qtasks.plugins.runner import PluginTable, has_plugins, trigger, trigger_sync

if TYPE_CHECKING:
    from qtasks.backends.base import Backend
    from qtasks.logs import Logger


@dataclasses.dataclass(slots=True)
class Trigger:
    table: PluginTable
    name: str
    kwargs: dict[str, Any]


@dataclasses.dataclass(slots=True)
class Call:
    method: str
    args: tuple[Any, ...]


Step = Trigger | Call
Flow = Generator[Step, Any, Any]


def fire(table: PluginTable, name: str, **kwargs: Any) -> Generator[Step, Any, dict[str, Any]]:
    """`changes = yield from fire(...)`: plugins' changes, or {} when none listen."""
    if not has_plugins(table, name):
        return {}
    changes: dict[str, Any] = yield Trigger(table, name, kwargs)
    return changes


def drive_sync(flow: Flow, backend: Backend, log: Logger) -> Any:
    result: Any = None
    try:
        while True:
            step = flow.send(result)
            if isinstance(step, Call):
                result = getattr(backend, f"{step.method}_sync")(*step.args)
            else:
                result = trigger_sync(step.table, step.name, log, **step.kwargs)
    except StopIteration as stop:
        return stop.value


async def drive_async(flow: Flow, backend: Backend, log: Logger) -> Any:
    result: Any = None
    try:
        while True:
            step = flow.send(result)
            if isinstance(step, Call):
                result = await getattr(backend, step.method)(*step.args)
            else:
                result = await trigger(step.table, step.name, log, **step.kwargs)
    except StopIteration as stop:
        return stop.value


__all__ = ["Call", "Flow", "Trigger", "drive_async", "drive_sync", "fire"]
