# For type checkers: this QTasks 1.7 path is served from qtasks.compat.schemas.task_status at run time.
from qtasks.compat.schemas.task_status import *
