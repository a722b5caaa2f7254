# Type checkers' view of the QTasks 1.7 path `qtasks.schemas.test`, which `import qtasks`
# serves from `qtasks.compat.schemas.test` at run time.
from qtasks.compat.schemas.test import *
