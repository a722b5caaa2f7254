# Type checkers' view of the QTasks 1.7 path `qtasks.executors.base`, which `import qtasks`
# serves from `qtasks.compat.executors.base` at run time.
from qtasks.compat.executors.base import *
