# Type checkers' view of the QTasks 1.7 path `qtasks.enums`, which `import qtasks`
# serves from `qtasks.compat.enums` at run time.
from qtasks.compat.enums import *
