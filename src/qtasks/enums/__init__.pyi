# For type checkers: this QTasks 1.7 path is served from qtasks.compat.enums at run time.
from qtasks.compat.enums import *
