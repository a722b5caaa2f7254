# Type checkers' view of the QTasks 1.7 path `qtasks.exc.plugins`, which `import qtasks`
# serves from `qtasks.compat.exc.plugins` at run time.
from qtasks.compat.exc.plugins import *
