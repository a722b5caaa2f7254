"""qtasks: a task queue for Python with the QTasks API.

`QueueTasks` here is the sync app; `qtasks.asyncio.QueueTasks` is the async one.
QTasks 1.7's other import paths live in `qtasks.compat`, reached through the import
hook installed below (see `qtasks._compat_hook`).
"""

from typing import TYPE_CHECKING

from qtasks import _compat_hook
from qtasks.app.sync_app import QueueTasks
from qtasks.routers import AsyncRouter, SyncRouter
from qtasks.utils import shared_task
from qtasks.version import __version__

if TYPE_CHECKING:  # imported on first use at run time (see __getattr__)
    from qtasks.plugins.depends import Depends

_compat_hook.install()

__all__ = [
    "AsyncRouter",
    "Depends",
    "QueueTasks",
    "SyncRouter",
    "__version__",
    "shared_task",
]


def __getattr__(name: str) -> object:
    if name == "Depends":  # provided by the depends plugin, imported on first use
        from qtasks.plugins.depends import Depends

        return Depends
    raise AttributeError(f"module 'qtasks' has no attribute {name!r}")
