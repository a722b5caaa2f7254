"""The package version (one place, read by the build too).

2.x: the successor of QTasks 1.7, whose API it keeps, so code that checks for QTasks 1.7
or later (`app.version`, `qtasks.__version__`) keeps its answer."""

__version__ = "2.0.0.dev0"
