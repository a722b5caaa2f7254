# For type checkers: this QTasks 1.7 path is served from qtasks.compat.executors at run time.
from qtasks.compat.executors import *
