"""Chains of pre-built task calls: `SyncChain`, `AsyncChain` (from `qtasks.chains`)."""

from qtasks.chains import AsyncChain, SyncChain

__all__ = ["AsyncChain", "SyncChain"]
