# Type checkers' view of the QTasks 1.7 path `qtasks.schemas.task_cls`, which `import qtasks`
# serves from `qtasks.compat.schemas.task_cls` at run time.
from qtasks.compat.schemas.task_cls import *
