# Type checkers' view of the QTasks 1.7 path `qtasks.base.qtasks`, which `import qtasks`
# serves from `qtasks.compat.base.qtasks` at run time.
from qtasks.compat.base.qtasks import *
