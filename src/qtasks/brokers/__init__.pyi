# Type checkers' view of the QTasks 1.7 path `qtasks.brokers`, which `import qtasks`
# serves from `qtasks.compat.brokers` at run time.
from qtasks.compat.brokers import *
