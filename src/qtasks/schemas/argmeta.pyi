# Type checkers' view of the QTasks 1.7 path `qtasks.schemas.argmeta`, which `import qtasks`
# serves from `qtasks.compat.schemas.argmeta` at run time.
from qtasks.compat.schemas.argmeta import *
