# Type checkers' view of the QTasks 1.7 path `qtasks.qtasks`, which `import qtasks`
# serves from `qtasks.compat.qtasks` at run time.
from qtasks.compat.qtasks import *
