"""QTasks 1.7 names of `qtasks.utils` (a real package: `get_app`, `shared_task`):
`AsyncTaskUtils`, `SyncTaskUtils`. Also the package of `qtasks.utils.tasks`."""

from qtasks.compat.utils.tasks.async_task_utils import AsyncTaskUtils
from qtasks.compat.utils.tasks.sync_task_utils import SyncTaskUtils

__all__ = ["AsyncTaskUtils", "SyncTaskUtils"]
