"""QTasks 1.7's testing names: the test plugins (`qtasks.plugins.testing`) and the
do-nothing test doubles of its components (`qtasks.tests.async_classes`,
`qtasks.tests.sync_classes`).

`AsyncTestPlugin` / `SyncTestPlugin`, registered the original way::

    app.add_plugin(SyncTestPlugin(), trigger_names=["worker_execute_before",
                   "worker_remove_finished_task"], component="worker")

mark every run of a task declared with `@app.task(test=True)`: its record gets the
field `is_testing` = True (readable as `app.get(uuid).is_testing`). Tasks without
`test=True` are left alone. (The original returned a bare dataclass from
`worker_execute_before`, which its own plugin runner rejected; here both triggers answer
with the change.)

The test doubles do nothing on purpose: `qtasks.tests.TestCase.settings()` swaps the
app's backend for an in-memory one instead, so a disabled component still runs tasks.
"""

from __future__ import annotations

from typing import Any

from qtasks.compat.components import BaseBroker, BaseGlobalConfig, BaseStorage, BaseWorker
from qtasks.plugins.base import BasePlugin

_TRIGGERS = frozenset({"worker_execute_before", "worker_remove_finished_task"})


def _marked(name: str, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    spec = kwargs.get("task_func")
    extra = getattr(spec, "extra", None) or {}
    if name not in _TRIGGERS or not extra.get("test"):
        return None
    return {"model": {"is_testing": True}}


class SyncTestPlugin(BasePlugin):
    def __init__(self, name: str = "SyncTestPlugin") -> None:
        super().__init__(name=name)

    def trigger(self, name: str, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        return _marked(name, kwargs)


class AsyncTestPlugin(BasePlugin):
    def __init__(self, name: str = "AsyncTestPlugin") -> None:
        super().__init__(name=name)

    async def trigger(self, name: str, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        return _marked(name, kwargs)


class _Inert:
    """Accepts any call and does nothing (a disabled component in a 1.7 test)."""

    def start(self, *args: Any, **kwargs: Any) -> None:
        return None

    def stop(self, *args: Any, **kwargs: Any) -> None:
        return None

    def add(self, *args: Any, **kwargs: Any) -> None:
        return None

    def get(self, *args: Any, **kwargs: Any) -> None:
        return None

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None


class _AsyncInert:
    async def start(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def stop(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def add(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def get(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def update(self, *args: Any, **kwargs: Any) -> None:
        return None


class SyncTestBroker(_Inert, BaseBroker):
    pass


class SyncTestStorage(_Inert, BaseStorage):
    pass


class SyncTestGlobalConfig(_Inert, BaseGlobalConfig):
    pass


class SyncTestWorker(_Inert, BaseWorker):
    pass


class AsyncTestBroker(_AsyncInert, BaseBroker):
    pass


class AsyncTestStorage(_AsyncInert, BaseStorage):
    pass


class AsyncTestGlobalConfig(_AsyncInert, BaseGlobalConfig):
    pass


class AsyncTestWorker(_AsyncInert, BaseWorker):
    pass


__all__ = [
    "AsyncTestBroker",
    "AsyncTestGlobalConfig",
    "AsyncTestPlugin",
    "AsyncTestStorage",
    "AsyncTestWorker",
    "SyncTestBroker",
    "SyncTestGlobalConfig",
    "SyncTestPlugin",
    "SyncTestStorage",
    "SyncTestWorker",
]
