# For type checkers: this QTasks 1.7 path is served from qtasks.compat.types at run time.
from qtasks.compat.types import *
