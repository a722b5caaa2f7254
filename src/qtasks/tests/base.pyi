# Type checkers' view of the QTasks 1.7 path `qtasks.tests.base`, which `import qtasks`
# serves from `qtasks.compat.tests.base` at run time.
from qtasks.compat.tests.base import *
