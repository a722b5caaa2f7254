# Type checkers' view of the QTasks 1.7 path `qtasks.exc.task`, which `import qtasks`
# serves from `qtasks.compat.exc.task` at run time.
from qtasks.compat.exc.task import *
