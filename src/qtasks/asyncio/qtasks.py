from qtasks.app.async_app import QueueTasks

__all__ = ["QueueTasks"]
