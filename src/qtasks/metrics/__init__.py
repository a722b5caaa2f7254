"""Prometheus metrics for qtasks (`pip install ".[prometheus]"`).

```
app.add_plugin(TaskMetrics())                  # or install(app): count in this process
asgi_app(plugin)  /  wsgi_app(plugin)          # mount at /metrics in a web host
start_http_server(plugin, 9100)                # a worker's own port (`qtasks run --metrics-port`)
```

`TaskMetrics` (the plugin, `plugin.py`) keeps plain tallies (`state.py`); the exporters
(`exposition.py`) turn them into Prometheus families when scraped. Several worker
processes share a snapshot directory instead (`WorkerMetrics`, used by `qtasks run`).
See docs/features/metrics.md.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from qtasks.metrics.exposition import (
    INSTALL_HINT,
    TaskCollector,
    asgi_app,
    read_directory,
    registry,
    start_http_server,
    wsgi_app,
)
from qtasks.metrics.plugin import SNAPSHOT_PREFIX, TaskMetrics


def install(app: Any, directory: str | os.PathLike[str] | None = None) -> TaskMetrics:
    """The app's `TaskMetrics` plugin: the one already added, else a new one (writing
    snapshots to `directory`, if given) added now."""
    for table in app.hooks.tables.values():
        for plugins in table.values():
            for plugin in plugins:
                if isinstance(plugin, TaskMetrics):
                    return plugin
    plugin = TaskMetrics(directory)
    app.add_plugin(plugin)
    return plugin


class WorkerMetrics:
    """What `qtasks run --metrics-port` sets up before its workers start: the plugin on
    `app`, and an HTTP server on `port`. With `processes` > 1 the workers (forked after
    this) each write a snapshot to a directory (env QTASKS_METRICS_DIR, else a temporary
    one removed by `close()`), and the server sums them. Raises `ConfigError` without
    prometheus-client, OSError when the port is taken."""

    def __init__(self, app: Any, port: int, addr: str = "127.0.0.1", processes: int = 1) -> None:
        self._made: Path | None = None
        directory: Path | None = None
        if processes > 1:
            given = os.environ.get("QTASKS_METRICS_DIR")
            if given:
                directory = Path(given)
                directory.mkdir(parents=True, exist_ok=True)
                for old in directory.glob(f"{SNAPSHOT_PREFIX}*.json"):  # an earlier run's
                    old.unlink(missing_ok=True)
            else:
                directory = self._made = Path(tempfile.mkdtemp(prefix="qtasks-metrics-"))
        self.plugin = install(app, directory)
        if directory is not None:
            self.plugin.directory = directory
        source: TaskMetrics | Path = self.plugin if directory is None else directory
        self.server = start_http_server(source, port, addr)
        self.url = f"http://{addr}:{self.server.server_port}/metrics"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._made is not None:
            shutil.rmtree(self._made, ignore_errors=True)


__all__ = [
    "INSTALL_HINT",
    "TaskCollector",
    "TaskMetrics",
    "WorkerMetrics",
    "asgi_app",
    "install",
    "read_directory",
    "registry",
    "start_http_server",
    "wsgi_app",
]
