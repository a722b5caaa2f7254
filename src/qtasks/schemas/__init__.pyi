# Type checkers' view of the QTasks 1.7 path `qtasks.schemas`, which `import qtasks`
# serves from `qtasks.compat.schemas` at run time.
from qtasks.compat.schemas import *
