# Type checkers' view of the QTasks 1.7 path `qtasks.storages`, which `import qtasks`
# serves from `qtasks.compat.storages` at run time.
from qtasks.compat.storages import *
