# For type checkers: this QTasks 1.7 path is served from qtasks.compat.utils.tasks.chains.sync_chains at run time.
from qtasks.compat.utils.tasks.chains.sync_chains import *
