"""Serving the metrics in Prometheus' text format: a collector over a `TaskMetrics`
plugin (one process) or over a directory of snapshots (several), an ASGI and a WSGI
app to mount in a web host, and an HTTP server of its own for a worker.

Metric names (labels `task`, `queue`; the gauges `queue` only):

```
qtasks_tasks_enqueued_total     qtasks_tasks_started_total      qtasks_tasks_succeeded_total
qtasks_tasks_failed_total       qtasks_tasks_retried_total      qtasks_tasks_cancelled_total
qtasks_tasks_dead_total         qtasks_task_run_seconds (histogram)
qtasks_task_queue_wait_seconds (histogram)                      qtasks_queue_depth
qtasks_queue_leased             qtasks_worker_busy_slots        qtasks_worker_slots
qtasks_task_records (labels queue, status: what the backend holds, when counted)
```
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtasks.exc import ConfigError
from qtasks.metrics.plugin import SNAPSHOT_PREFIX, TaskMetrics
from qtasks.metrics.state import RUN_BUCKETS, WAIT_BUCKETS, Tallies, merge

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

INSTALL_HINT = 'the metrics need prometheus-client: pip install ".[prometheus]"'

_COUNTER_HELP = {
    "enqueued": "Tasks enqueued by this process",
    "started": "Tasks leased to a worker to run (a redelivery counts again)",
    "succeeded": "Tasks that ended success",
    "failed": "Tasks that ended error (retries exhausted or not retried)",
    "retried": "Failed attempts followed by a retry",
    "cancelled": "Tasks that ended cancel",
    "dead": "Tasks dead-lettered (delivered max_deliveries times without a report)",
}

Source = TaskMetrics | str | os.PathLike[str]
#: An async function giving `{queue: {status: count}}`, as `app.count_tasks()` does.
Counts = Callable[[], Awaitable[dict[str, dict[str, int]]]]

_log = logging.getLogger("qtasks.metrics")


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:  # the extra is not installed
        raise ConfigError(INSTALL_HINT) from exc
    return prometheus_client


def read_directory(directory: str | os.PathLike[str]) -> Tallies:
    """The sum of the snapshots in `directory` (see `TaskMetrics(directory=...)`); a
    file being replaced or unreadable is skipped."""
    snapshots = []
    for path in sorted(Path(directory).glob(f"{SNAPSHOT_PREFIX}*.json")):
        try:
            pid = int(path.stem[len(SNAPSHOT_PREFIX) :])
            snapshots.append((json.loads(path.read_bytes()), _alive(pid)))
        except (OSError, ValueError):
            continue
    return merge(snapshots)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


class TaskCollector:
    """A prometheus-client collector of the qtasks metrics from `source`: a `TaskMetrics`
    plugin of this process, or a snapshot directory shared by several."""

    def __init__(self, source: Source) -> None:
        if isinstance(source, TaskMetrics):
            plugin = source
            self._read: Callable[[], Tallies] = lambda: plugin.tallies
        else:
            directory = source
            self._read = lambda: read_directory(directory)

    def describe(self) -> list[Metric]:
        return []  # registering must not read the source

    def collect(self) -> Iterator[Metric]:
        core = _prometheus().metrics_core
        tallies = self._read()
        for name, table in tallies.counters.items():
            family = core.CounterMetricFamily(
                f"qtasks_tasks_{name}", _COUNTER_HELP[name], labels=["task", "queue"]
            )
            for (task, queue), value in sorted(table.copy().items()):
                family.add_metric([task, queue], value)
            yield family
        histograms: tuple[tuple[str, str, dict[Any, list[float]], tuple[float, ...]], ...] = (
            ("qtasks_task_run_seconds", "Seconds from lease to outcome", tallies.run, RUN_BUCKETS),
            (
                "qtasks_task_queue_wait_seconds",
                "Seconds from enqueue (or eta) to lease",
                tallies.wait,
                WAIT_BUCKETS,
            ),
        )
        for name, helptext, histos, bounds in histograms:
            family = core.HistogramMetricFamily(name, helptext, labels=["task", "queue"])
            for (task, queue), histogram in sorted(histos.copy().items()):
                family.add_metric([task, queue], _buckets(histogram, bounds), histogram[-1])
            yield family
        depth = tallies.depth.copy()
        for name, helptext, values in (
            (
                "qtasks_queue_depth",
                "Tasks waiting in the queue",
                {q: d[0] for q, d in depth.items()},
            ),
            ("qtasks_queue_leased", "Tasks leased to workers", {q: d[1] for q, d in depth.items()}),
            ("qtasks_worker_busy_slots", "Tasks held by workers now", tallies.busy.copy()),
            ("qtasks_worker_slots", "Task slots of live workers", tallies.slots.copy()),
        ):
            gauge = core.GaugeMetricFamily(name, helptext, labels=["queue"])
            for queue, value in sorted(values.items()):
                gauge.add_metric([queue], value)
            yield gauge


class RecordsCollector:
    """The gauge `qtasks_task_records{queue, status}`: the task records the backend
    holds, as `counts()` gave them at the last `refresh` (finished ones count until
    their records expire). What every worker and producer see alike, unlike the
    per-process counters."""

    def __init__(self, counts: Counts) -> None:
        self._read = counts
        self.counts: dict[str, dict[str, int]] = {}

    async def refresh(self) -> None:
        """Read the counts again; on failure the last ones are served."""
        try:
            self.counts = await self._read()
        except Exception as exc:
            _log.warning("Metrics: counting the task records failed: %r", exc)

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        gauge = _prometheus().metrics_core.GaugeMetricFamily(
            "qtasks_task_records",
            "Task records the backend holds, by queue and status",
            labels=["queue", "status"],
        )
        for queue, by_status in sorted(self.counts.items()):
            for status, count in sorted(by_status.items()):
                gauge.add_metric([queue, status], count)
        yield gauge


def _buckets(histogram: list[float], bounds: tuple[float, ...]) -> list[tuple[str, float]]:
    """Cumulative (le, count) pairs of a histogram list (see `qtasks.metrics.state`)."""
    out, running = [], 0.0
    for bound, count in zip((*bounds, float("inf")), histogram[:-1], strict=True):
        running += count
        out.append(("+Inf" if bound == float("inf") else repr(bound), running))
    return out


def registry(source: Source, *extra: Any) -> CollectorRegistry:
    """A registry holding only the qtasks metrics of `source` (and the `extra`
    collectors)."""
    reg: CollectorRegistry = _prometheus().CollectorRegistry(auto_describe=False)
    reg.register(TaskCollector(source))
    for collector in extra:
        reg.register(collector)
    return reg


def asgi_app(
    source: Source,
    *,
    app: Any = None,
    queues: tuple[str, ...] = ("default",),
    counts: Counts | None = None,
) -> Any:
    """An ASGI app answering any GET with the metrics of `source`: mount it at `/metrics`
    in Starlette/FastAPI or a dashboard. With `app` (an async qtasks app in this event
    loop) and a `TaskMetrics` source, each scrape first reads the depth of `queues` from
    the app's backend. With `counts` (an async function giving `{queue: {status: n}}`,
    `app.count_tasks` or the dashboard's cached counts), each scrape also serves them as
    `qtasks_task_records`. Raises `ConfigError` without prometheus-client."""
    records = [RecordsCollector(counts)] if counts is not None else []
    inner = _prometheus().make_asgi_app(registry(source, *records))
    depth_of = source if app is not None and isinstance(source, TaskMetrics) else None
    if depth_of is None and not records:
        return inner

    async def scrape(scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            if depth_of is not None:
                await _read_depths(app, depth_of, queues)
            for collector in records:
                await collector.refresh()
        await inner(scope, receive, send)

    return scrape


async def _read_depths(app: Any, plugin: TaskMetrics, queues: tuple[str, ...]) -> None:
    for queue in queues:
        try:
            await plugin.read_depth(app.backend, queue)
        except Exception as exc:  # the counters are still worth serving
            app.log.warning("Metrics: reading the depth of %r failed: %r", queue, exc)


def wsgi_app(source: Source) -> Any:
    """A WSGI app answering with the metrics of `source` (Flask, Django's WSGI
    middleware...). Raises `ConfigError` without prometheus-client."""
    return _prometheus().make_wsgi_app(registry(source))


def start_http_server(source: Source, port: int, addr: str = "127.0.0.1") -> Any:
    """Serve the metrics of `source` at http://addr:port/ (any path) from a daemon
    thread; returns the server (`.shutdown()` stops it, `.server_port` is the port,
    useful with port 0). Raises `ConfigError` without prometheus-client and OSError
    when the port is taken."""
    server, _thread = _prometheus().start_http_server(port, addr=addr, registry=registry(source))
    return server


__all__ = [
    "INSTALL_HINT",
    "RecordsCollector",
    "TaskCollector",
    "asgi_app",
    "read_directory",
    "registry",
    "start_http_server",
    "wsgi_app",
]
