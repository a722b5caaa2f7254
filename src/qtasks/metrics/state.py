"""What the metrics count, as plain numbers (no I/O, no prometheus-client): one process's
tallies, their JSON snapshot, and the sum of several processes' snapshots.

Counters and histograms are keyed by (task name, queue); the gauges by queue. A
histogram is a list: one count per bucket of `RUN_BUCKETS` / `WAIT_BUCKETS` (upper
bounds in seconds, inclusive, as Prometheus reads `le`), one for +Inf, then the sum of
the observed values. Keeping plain ints and lists instead of prometheus-client's
objects is what keeps the per-task cost near zero: no lock, no label lookup.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

#: Run-time buckets (seconds): sub-millisecond tasks up to five minutes.
RUN_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5)
RUN_BUCKETS += (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
#: Queue-wait buckets (seconds): from enqueue (or eta) until a worker leased the task.
WAIT_BUCKETS: tuple[float, ...] = (
    0.001,
    0.005,
    0.01,
    0.05,
    0.1,
    0.5,
    1.0,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    3600.0,
)

#: The task counters, by what happened to a task.
COUNTERS = ("enqueued", "started", "succeeded", "failed", "retried", "cancelled", "dead")

Key = tuple[str, str]  # (task name, queue)


def new_histogram(bounds: tuple[float, ...]) -> list[float]:
    return [0] * (len(bounds) + 1) + [0.0]


def observe(histogram: list[float], bounds: tuple[float, ...], value: float) -> None:
    """Count `value` (seconds) in its bucket and add it to the sum."""
    histogram[bisect_left(bounds, value)] += 1
    histogram[-1] += value


class Tallies:
    """One process's metrics. Written by the worker's event loop (and producers' enqueue
    hooks), read by the exporter's thread: a reader copies each dict first
    (`dict.copy()` is atomic under the GIL), so it never sees one change size."""

    def __init__(self) -> None:
        self.counters: dict[str, dict[Key, int]] = {name: {} for name in COUNTERS}
        self.run: dict[Key, list[float]] = {}
        self.wait: dict[Key, list[float]] = {}
        #: queue -> tasks leased by this process's workers and not yet acknowledged.
        self.busy: dict[str, int] = {}
        #: queue -> task slots of this process's workers (their concurrency).
        self.slots: dict[str, int] = {}
        #: queue -> (queued, leased, epoch seconds read), from the backend's `stats`.
        self.depth: dict[str, tuple[int, int, float]] = {}

    def count(self, name: str, key: Key, n: int = 1) -> None:
        table = self.counters[name]
        table[key] = table.get(key, 0) + n

    def observe_run(self, key: Key, seconds: float) -> None:
        histogram = self.run.get(key)
        if histogram is None:
            histogram = self.run[key] = new_histogram(RUN_BUCKETS)
        observe(histogram, RUN_BUCKETS, max(seconds, 0.0))

    def observe_wait(self, key: Key, seconds: float) -> None:
        histogram = self.wait.get(key)
        if histogram is None:
            histogram = self.wait[key] = new_histogram(WAIT_BUCKETS)
        observe(histogram, WAIT_BUCKETS, max(seconds, 0.0))

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able copy: keys become [task, queue] pairs."""
        return {
            "counters": {
                name: [[*k, v] for k, v in table.copy().items()]
                for name, table in self.counters.items()
            },
            "run": [[*k, list(h)] for k, h in self.run.copy().items()],
            "wait": [[*k, list(h)] for k, h in self.wait.copy().items()],
            "busy": self.busy.copy(),
            "slots": self.slots.copy(),
            "depth": {q: list(v) for q, v in self.depth.copy().items()},
            "at": time.time(),
        }


def merge(snapshots: Iterable[tuple[dict[str, Any], bool]]) -> Tallies:
    """The sum of several processes' snapshots, each given with whether its process is
    alive. Counters and histograms add up whatever the process (a dead worker's tasks
    happened); busy and slots count only live processes; a queue's depth is the most
    recent reading."""
    total = Tallies()
    for snap, alive in snapshots:
        for name, rows in snap.get("counters", {}).items():
            if name in total.counters:
                for task, queue, n in rows:
                    total.count(name, (task, queue), int(n))
        for field, bounds in (("run", RUN_BUCKETS), ("wait", WAIT_BUCKETS)):
            table: dict[Key, list[float]] = getattr(total, field)
            for task, queue, histogram in snap.get(field, []):
                if len(histogram) != len(bounds) + 2:
                    continue  # written with other buckets: not comparable
                into = table.setdefault((task, queue), new_histogram(bounds))
                for i, value in enumerate(histogram):
                    into[i] += value
        if alive:
            for field in ("busy", "slots"):
                gauges: dict[str, int] = getattr(total, field)
                for queue, n in snap.get(field, {}).items():
                    gauges[queue] = gauges.get(queue, 0) + int(n)
        for queue, (queued, leased, at) in snap.get("depth", {}).items():
            seen = total.depth.get(queue)
            if seen is None or at > seen[2]:
                total.depth[queue] = (int(queued), int(leased), float(at))
    return total


__all__ = ["COUNTERS", "RUN_BUCKETS", "WAIT_BUCKETS", "Tallies", "merge", "observe"]
