"""Tasks and their registration: `task` (task objects and pre-built calls), `build` (the
decorator's schema), `registry` (`@shared_task`'s table)."""

from typing import Any

from qtasks._compat_hook import compat_attribute

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    """QTasks 1.7 names kept in `qtasks.compat` (table: `qtasks._compat_paths`)."""
    return compat_attribute(__name__, name)
