"""`qtasks.results` (QTasks 1.7): `AsyncResult`, `SyncResult`, from `qtasks.app.results`."""

from qtasks.app.results import AsyncResult, SyncResult

__all__ = ["AsyncResult", "SyncResult"]
