"""`SyncChain`, from `qtasks.chains`."""

from qtasks.chains import SyncChain

__all__ = ["SyncChain"]
