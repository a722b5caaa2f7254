# Type checkers' view of the QTasks 1.7 path `qtasks.utils.tasks.chains.async_chains`, which `import qtasks`
# serves from `qtasks.compat.utils.tasks.chains.async_chains` at run time.
from qtasks.compat.utils.tasks.chains.async_chains import *
