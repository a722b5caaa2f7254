# Type checkers' view of the QTasks 1.7 path `qtasks.executors`, which `import qtasks`
# serves from `qtasks.compat.executors` at run time.
from qtasks.compat.executors import *
