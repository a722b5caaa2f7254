# Type checkers' view of the QTasks 1.7 path `qtasks.asyncio.qtasks`, which `import qtasks`
# serves from `qtasks.compat.asyncio.qtasks` at run time.
from qtasks.compat.asyncio.qtasks import *
