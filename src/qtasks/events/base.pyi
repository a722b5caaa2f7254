# Type checkers' view of the QTasks 1.7 path `qtasks.events.base`, which `import qtasks`
# serves from `qtasks.compat.events.base` at run time.
from qtasks.compat.events.base import *
