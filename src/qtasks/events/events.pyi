# For type checkers: this QTasks 1.7 path is served from qtasks.compat.events.events at run time.
from qtasks.compat.events.events import *
