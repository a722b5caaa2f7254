# Type checkers' view of the QTasks 1.7 path `qtasks.enums.task_status`, which `import qtasks`
# serves from `qtasks.compat.enums.task_status` at run time.
from qtasks.compat.enums.task_status import *
