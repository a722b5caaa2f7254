# For type checkers: this QTasks 1.7 path is served from qtasks.compat.brokers at run time.
from qtasks.compat.brokers import *
