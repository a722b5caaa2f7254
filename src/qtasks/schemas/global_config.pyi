# Type checkers' view of the QTasks 1.7 path `qtasks.schemas.global_config`, which `import qtasks`
# serves from `qtasks.compat.schemas.global_config` at run time.
from qtasks.compat.schemas.global_config import *
