"""`qtasks.utils.tasks` (QTasks 1.7): `AsyncTaskUtils`, `SyncTaskUtils`, and the package of
`qtasks.utils.tasks.async_task_utils`, `.sync_task_utils` and `.chains`."""

from qtasks.compat.utils.tasks.async_task_utils import AsyncTaskUtils
from qtasks.compat.utils.tasks.sync_task_utils import SyncTaskUtils

__all__ = ["AsyncTaskUtils", "SyncTaskUtils"]
