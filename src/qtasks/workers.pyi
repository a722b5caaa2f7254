# For type checkers: this QTasks 1.7 path is served from qtasks.compat.workers at run time.
from qtasks.compat.workers import *
