"""`qtasks.utils.tasks.chains.sync_chains` (QTasks 1.7): `SyncChain`, from
`qtasks.chains`."""

from qtasks.chains import SyncChain

__all__ = ["SyncChain"]
