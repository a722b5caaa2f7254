# Type checkers' view of the QTasks 1.7 path `qtasks.configs.config`, which `import qtasks`
# serves from `qtasks.compat.configs.config` at run time.
from qtasks.compat.configs.config import *
