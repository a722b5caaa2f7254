"""Built-in argument injectors every worker applies where a task needs them.

Each injector is a plugin class with a classmethod `applies(schema) -> bool` and the
triggers it serves in `TRIGGERS`. `injectors_for(schema)` is called once per task by
the worker, so tasks that need none of them pay nothing per execution.
"""

from __future__ import annotations

from typing import Any

from qtasks.core.models import TaskSpec
from qtasks.plugins.base import BasePlugin
from qtasks.plugins.depends import DependsPlugin
from qtasks.plugins.pydantic import PydanticWrapperPlugin
from qtasks.plugins.states import StatePlugin

#: Injector classes. Each one passes its parameters by name and leaves the others
#: alone, so their order does not change the arguments a task receives.
INJECTORS: list[Any] = [PydanticWrapperPlugin, DependsPlugin, StatePlugin]


def injectors_for(schema: TaskSpec) -> list[tuple[str, BasePlugin]]:
    """(trigger name, plugin) pairs for the injectors `schema` needs."""
    pairs: list[tuple[str, BasePlugin]] = []
    for cls in INJECTORS:
        if cls.applies(schema):
            plugin = cls()
            pairs.extend((name, plugin) for name in cls.TRIGGERS)
    return pairs


__all__ = ["INJECTORS", "injectors_for"]
