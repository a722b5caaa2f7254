from qtasks.app.sync_app import QueueTasks

__all__ = ["QueueTasks"]
