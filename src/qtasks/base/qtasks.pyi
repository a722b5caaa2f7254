# For type checkers: this QTasks 1.7 path is served from qtasks.compat.base.qtasks at run time.
from qtasks.compat.base.qtasks import *
