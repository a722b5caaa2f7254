"""`qtasks.middlewares.base` (QTasks 1.7): `BaseMiddleware`, from `qtasks.middlewares`."""

from qtasks.middlewares import BaseMiddleware

__all__ = ["BaseMiddleware"]
