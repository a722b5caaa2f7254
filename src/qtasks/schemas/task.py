"""`Task`: what `app.get()` and `add_task()` return."""

from qtasks.app.task import Task

__all__ = ["Task"]
