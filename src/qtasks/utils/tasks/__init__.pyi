# Type checkers' view of the QTasks 1.7 path `qtasks.utils.tasks`, which `import qtasks`
# serves from `qtasks.compat.utils.tasks` at run time.
from qtasks.compat.utils.tasks import *
