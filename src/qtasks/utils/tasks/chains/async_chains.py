"""`AsyncChain`, from `qtasks.chains`."""

from qtasks.chains import AsyncChain

__all__ = ["AsyncChain"]
