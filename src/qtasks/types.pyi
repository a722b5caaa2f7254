# Type checkers' view of the QTasks 1.7 path `qtasks.types`, which `import qtasks`
# serves from `qtasks.compat.types` at run time.
from qtasks.compat.types import *
