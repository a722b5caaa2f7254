# Type checkers' view of the QTasks 1.7 path `qtasks.schemas.inits`, which `import qtasks`
# serves from `qtasks.compat.schemas.inits` at run time.
from qtasks.compat.schemas.inits import *
