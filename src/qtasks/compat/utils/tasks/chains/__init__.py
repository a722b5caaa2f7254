"""`qtasks.utils.tasks.chains` (QTasks 1.7): `AsyncChain`, `SyncChain`, from
`qtasks.chains`; the package of `.async_chains` and `.sync_chains`."""

from qtasks.chains import AsyncChain, SyncChain

__all__ = ["AsyncChain", "SyncChain"]
