# Type checkers' view of the QTasks 1.7 path `qtasks.workers`, which `import qtasks`
# serves from `qtasks.compat.workers` at run time.
from qtasks.compat.workers import *
