from qtasks.exc import TaskCancelError

__all__ = ["TaskCancelError"]
