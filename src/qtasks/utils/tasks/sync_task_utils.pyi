# Type checkers' view of the QTasks 1.7 path `qtasks.utils.tasks.sync_task_utils`, which `import qtasks`
# serves from `qtasks.compat.utils.tasks.sync_task_utils` at run time.
from qtasks.compat.utils.tasks.sync_task_utils import *
