# For type checkers: this QTasks 1.7 path is served from qtasks.compat.configs.config at run time.
from qtasks.compat.configs.config import *
