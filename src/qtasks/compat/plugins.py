"""QTasks 1.7 plugin names of `qtasks.plugins` and its modules `depends`, `pydantic` and
`states`: each `Async*`/`Sync*` pair names the one built-in injector.

- `AsyncDependsPlugin`, `SyncDependsPlugin` -> `qtasks.plugins.depends.DependsPlugin`
- `AsyncPydanticWrapperPlugin`, `SyncPydanticWrapperPlugin` ->
  `qtasks.plugins.pydantic.PydanticWrapperPlugin`
- `AsyncStatePlugin`, `SyncStatePlugin` -> `qtasks.plugins.states.StatePlugin`
"""

from qtasks.plugins.depends import DependsPlugin
from qtasks.plugins.pydantic import PydanticWrapperPlugin
from qtasks.plugins.states import StatePlugin

AsyncDependsPlugin = DependsPlugin
SyncDependsPlugin = DependsPlugin
AsyncPydanticWrapperPlugin = PydanticWrapperPlugin
SyncPydanticWrapperPlugin = PydanticWrapperPlugin
AsyncStatePlugin = StatePlugin
SyncStatePlugin = StatePlugin

__all__ = [
    "AsyncDependsPlugin",
    "AsyncPydanticWrapperPlugin",
    "AsyncStatePlugin",
    "SyncDependsPlugin",
    "SyncPydanticWrapperPlugin",
    "SyncStatePlugin",
]
