# Type checkers' view of the QTasks 1.7 path `qtasks.schemas.task_exec`, which `import qtasks`
# serves from `qtasks.compat.schemas.task_exec` at run time.
from qtasks.compat.schemas.task_exec import *
