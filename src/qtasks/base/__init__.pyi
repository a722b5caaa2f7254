# Type checkers' view of the QTasks 1.7 path `qtasks.base`, which `import qtasks`
# serves from `qtasks.compat.base` at run time.
from qtasks.compat.base import *
