# Type checkers' view of the QTasks 1.7 path `qtasks.results`, which `import qtasks`
# serves from `qtasks.compat.results` at run time.
from qtasks.compat.results import *
