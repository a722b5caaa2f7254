# For type checkers: this QTasks 1.7 path is served from qtasks.compat.storages at run time.
from qtasks.compat.storages import *
