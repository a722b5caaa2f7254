from qtasks.middlewares import BaseMiddleware

__all__ = ["BaseMiddleware"]
