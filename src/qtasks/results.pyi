# For type checkers: this QTasks 1.7 path is served from qtasks.compat.results at run time.
from qtasks.compat.results import *
