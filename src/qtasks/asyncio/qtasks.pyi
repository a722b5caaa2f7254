# For type checkers: this QTasks 1.7 path is served from qtasks.compat.asyncio.qtasks at run time.
from qtasks.compat.asyncio.qtasks import *
