# Type checkers' view of the QTasks 1.7 path `qtasks.middlewares.base`, which `import qtasks`
# serves from `qtasks.compat.middlewares.base` at run time.
from qtasks.compat.middlewares.base import *
