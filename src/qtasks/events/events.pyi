# Type checkers' view of the QTasks 1.7 path `qtasks.events.events`, which `import qtasks`
# serves from `qtasks.compat.events.events` at run time.
from qtasks.compat.events.events import *
