"""QTasks 1.7 plugin names of `qtasks.plugins` and its modules `depends`, `pydantic` and
`states`: each `Async*`/`Sync*` pair names the one built-in injector.

- `AsyncDependsPlugin`, `SyncDependsPlugin` -> `qtasks.plugins.depends.DependsPlugin`
- `AsyncPydanticWrapperPlugin`, `SyncPydanticWrapperPlugin` ->
  `qtasks.plugins.pydantic.PydanticWrapperPlugin`
- `AsyncStatePlugin`, `SyncStatePlugin` -> `qtasks.plugins.states.StatePlugin`
- `AsyncRetryPlugin`, `SyncRetryPlugin`: retries are part of the worker itself (the
  task's `retry=`, `retry_on_exc=` and the config's backoff); registering one of these
  changes nothing, as registering the original's built-in one again changed nothing.
- `AsyncContextPool`, `SyncContextPool`: the original's per-scope pools of dependency
  context managers; the Depends injector keeps its scopes itself. They open and close
  context managers pushed onto them, for code that used them directly.
"""

import contextlib
from typing import Any

from qtasks.compat.testing import AsyncTestPlugin, SyncTestPlugin
from qtasks.plugins.base import BasePlugin
from qtasks.plugins.depends import DependsPlugin
from qtasks.plugins.pydantic import PydanticWrapperPlugin
from qtasks.plugins.states import StatePlugin


class AsyncRetryPlugin(BasePlugin):
    """Retries are built into the worker; see the module docs."""


class SyncRetryPlugin(BasePlugin):
    """Retries are built into the worker; see the module docs."""


class SyncContextPool(contextlib.ExitStack):
    """Context managers entered with `enter(cm)`, exited together by `close()`."""

    def enter(self, manager: Any) -> Any:
        return self.enter_context(manager)


class AsyncContextPool(contextlib.AsyncExitStack):
    """Async context managers entered with `await enter(cm)`, exited by `await aclose()`."""

    async def enter(self, manager: Any) -> Any:
        return await self.enter_async_context(manager)


AsyncDependsPlugin = DependsPlugin
SyncDependsPlugin = DependsPlugin
AsyncPydanticWrapperPlugin = PydanticWrapperPlugin
SyncPydanticWrapperPlugin = PydanticWrapperPlugin
AsyncStatePlugin = StatePlugin
SyncStatePlugin = StatePlugin

__all__ = [
    "AsyncContextPool",
    "AsyncDependsPlugin",
    "AsyncRetryPlugin",
    "SyncContextPool",
    "SyncRetryPlugin",
    "AsyncTestPlugin",
    "SyncTestPlugin",
    "AsyncPydanticWrapperPlugin",
    "AsyncStatePlugin",
    "SyncDependsPlugin",
    "SyncPydanticWrapperPlugin",
    "SyncStatePlugin",
]
