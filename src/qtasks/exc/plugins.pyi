# For type checkers: this QTasks 1.7 path is served from qtasks.compat.exc.plugins at run time.
from qtasks.compat.exc.plugins import *
