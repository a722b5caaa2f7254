# Type checkers' view of the QTasks 1.7 path `qtasks.utils.tasks.chains`, which `import qtasks`
# serves from `qtasks.compat.utils.tasks.chains` at run time.
from qtasks.compat.utils.tasks.chains import *
