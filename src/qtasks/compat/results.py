"""`qtasks.results` (QTasks 1.7): `AsyncResult`, `SyncResult`, from `qtasks.app.results`."""

from qtasks.app.results import AsyncResult, SyncResult

#: QTasks 1.7's submodule paths beneath this module (`.async_result`, `.sync_result`)
#: import too: the compat finder serves them, and submodules need a `__path__`.
__path__: list[str] = []

__all__ = ["AsyncResult", "SyncResult"]
