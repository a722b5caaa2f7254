# Type checkers' view of the QTasks 1.7 path `qtasks.schemas.task`, which `import qtasks`
# serves from `qtasks.compat.schemas.task` at run time.
from qtasks.compat.schemas.task import *
