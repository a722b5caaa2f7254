"""Chains of pre-built task calls: `SyncChain`, `AsyncChain`."""

from qtasks.utils.tasks.chains.async_chains import AsyncChain
from qtasks.utils.tasks.chains.sync_chains import SyncChain

__all__ = ["AsyncChain", "SyncChain"]
