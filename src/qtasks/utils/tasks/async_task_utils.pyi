# For type checkers: this QTasks 1.7 path is served from qtasks.compat.utils.tasks.async_task_utils at run time.
from qtasks.compat.utils.tasks.async_task_utils import *
