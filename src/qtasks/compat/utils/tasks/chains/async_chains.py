"""`qtasks.utils.tasks.chains.async_chains` (QTasks 1.7): `AsyncChain`, from
`qtasks.chains`."""

from qtasks.chains import AsyncChain

__all__ = ["AsyncChain"]
