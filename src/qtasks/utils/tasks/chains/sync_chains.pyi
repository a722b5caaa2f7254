# Type checkers' view of the QTasks 1.7 path `qtasks.utils.tasks.chains.sync_chains`, which `import qtasks`
# serves from `qtasks.compat.utils.tasks.chains.sync_chains` at run time.
from qtasks.compat.utils.tasks.chains.sync_chains import *
