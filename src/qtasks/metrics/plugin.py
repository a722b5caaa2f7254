"""`TaskMetrics`: the plugin that counts what happens to tasks, over the typed hooks.

It listens to the enqueue hook (`broker_add_after`) in producers and, in workers, to
the once-per-batch hooks `worker_tasks_fetched` and `worker_tasks_acked`, the worker's
start and stop, and its periodic upkeep (`broker_running_older_tasks`, where it reads
the queue's depth from the backend's `stats`). No per-task hook: a worker pays one
call per fetched batch and one per acknowledged batch, plus a few dict updates per task.

In a process of its own (one worker, or a producer), an exporter reads the plugin's
`tallies` directly. Several worker processes each write a snapshot to a shared
directory (`directory=`, a file per process, replaced at most every `write_interval`
seconds and when the worker stops); the exporter sums them (`qtasks.metrics.state.merge`).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from bisect import bisect_left
from pathlib import Path
from typing import Any

from qtasks.core.hooks import Hooks
from qtasks.core.status import CANCEL, RETRY, SUCCESS
from qtasks.metrics.state import RUN_BUCKETS, WAIT_BUCKETS, Tallies, new_histogram

#: The counter a final status adds to (anything else counts as `failed`).
_OUTCOME = {SUCCESS: "succeeded", RETRY: "retried", CANCEL: "cancelled"}
#: Snapshot files: `<prefix><pid>.json` in the shared directory.
SNAPSHOT_PREFIX = "qtasks-metrics-"


class TaskMetrics(Hooks):
    """Counts enqueues, starts and outcomes by task and queue, run time and queue wait,
    busy slots and queue depth (see the module docs).

    `directory`: where this process writes its snapshot for a multi-process exporter
    (None: nowhere; the exporter of this process reads `tallies` itself).
    `write_interval`: seconds between two snapshot writes at most.
    """

    name = "qtasks-metrics"

    def __init__(
        self, directory: str | os.PathLike[str] | None = None, *, write_interval: float = 1.0
    ) -> None:
        self.tallies = Tallies()
        self.directory = Path(directory) if directory is not None else None
        self.write_interval = write_interval
        #: uuid -> epoch seconds leased, of tasks fetched and not yet acknowledged.
        self._leased: dict[str, float] = {}
        self._written = 0.0

    # --- producers -----------------------------------------------------------------------
    def broker_add_after(self, **kw: Any) -> None:
        record = kw["model"]
        self.tallies.count("enqueued", (record.task_name, record.queue))

    # --- workers -------------------------------------------------------------------------
    def worker_start(self, **kw: Any) -> None:
        worker = kw["worker"]
        slots, busy = self.tallies.slots, self.tallies.busy
        slots[worker.queue] = slots.get(worker.queue, 0) + int(worker.concurrency)
        busy.setdefault(worker.queue, 0)

    def worker_stop(self, **kw: Any) -> None:
        worker = kw["worker"]
        queue, slots = worker.queue, self.tallies.slots
        slots[queue] = max(0, slots.get(queue, 0) - int(worker.concurrency))
        # Tasks it still held were released on the way out: nobody runs them here now.
        # (Workers of a process stop together; the last one forgets what all held.)
        if not any(slots.values()):
            self._leased.clear()
        self.tallies.busy[queue] = 0
        self.write(force=True)

    # The two batch hooks are the plugin's whole cost per task, so each does per task only
    # what must be per task (a time, a bucket) and the rest once per task name per batch:
    # a fetch leases from one queue, and a batch holds few task names.
    def worker_tasks_fetched(self, **kw: Any) -> None:
        deliveries = kw["deliveries"]
        if not deliveries:
            return
        now = time.time()
        leased = self._leased
        waited_by_name: dict[str, list[float]] = {}
        for delivery in deliveries:
            record = delivery.record
            leased[record.uuid] = now
            eta, created = record.eta, record.created_at
            waited = now - (eta if eta is not None and eta > created else created)
            waits = waited_by_name.get(record.task_name)
            if waits is None:
                waits = waited_by_name[record.task_name] = []
            waits.append(waited if waited > 0.0 else 0.0)
        queue = deliveries[0].record.queue
        tallies = self.tallies
        started, histograms = tallies.counters["started"], tallies.wait
        for name, waits in waited_by_name.items():
            key = (name, queue)
            started[key] = started.get(key, 0) + len(waits)
            histogram = histograms.get(key) or histograms.setdefault(
                key, new_histogram(WAIT_BUCKETS)
            )
            for waited in waits:
                histogram[bisect_left(WAIT_BUCKETS, waited)] += 1
            histogram[-1] += sum(waits)
        tallies.busy[queue] = tallies.busy.get(queue, 0) + len(deliveries)

    def worker_tasks_acked(self, **kw: Any) -> None:
        completions = kw["completions"]
        if not completions:
            return
        leased = self._leased
        # (task name, outcome counter) -> run times (None: not run here, no time)
        seen: dict[tuple[str, str], list[float | None]] = {}
        held = 0
        for completion in completions:
            record, final = completion.delivery.record, completion.record
            at = leased.pop(record.uuid, None)
            if at is not None:
                held += 1
            if completion.dead_letter is not None:
                outcome, took = "dead", None
            else:
                outcome = _OUTCOME.get(final.status, "failed")
                took = None if at is None else final.updated_at - at
            group = seen.get((record.task_name, outcome))
            if group is None:
                group = seen[(record.task_name, outcome)] = []
            group.append(took)
        queue = completions[0].delivery.record.queue
        tallies = self.tallies
        counters, histograms = tallies.counters, tallies.run
        for (name, outcome), times in seen.items():
            key = (name, queue)
            table = counters[outcome]
            table[key] = table.get(key, 0) + len(times)
            histogram = None
            for took in times:
                if took is None:
                    continue
                if histogram is None:
                    histogram = histograms.get(key) or histograms.setdefault(
                        key, new_histogram(RUN_BUCKETS)
                    )
                took = took if took > 0.0 else 0.0
                histogram[bisect_left(RUN_BUCKETS, took)] += 1
                histogram[-1] += took
        busy = tallies.busy
        busy[queue] = max(0, busy.get(queue, 0) - held)
        if self.directory is not None:
            self.write()

    async def broker_running_older_tasks(self, **kw: Any) -> None:
        await self.read_depth(kw["broker"], kw["worker"].queue)
        self.write()

    async def read_depth(self, backend: Any, queue: str) -> None:
        """Read `queue`'s queued and leased counts from `backend.stats` (no-op for a
        backend without stats)."""
        stats = await backend.stats(queue)
        if stats:
            self.tallies.depth[queue] = (
                int(stats.get("queued", 0)),
                int(stats.get("leased", 0)),
                time.time(),
            )

    def stop(self, **kw: Any) -> None:
        """The app's server stopped: the last snapshot."""
        self.write(force=True)

    # --- snapshots -----------------------------------------------------------------------
    def write(self, force: bool = False) -> None:
        """Replace this process's snapshot file (when a directory is set and
        `write_interval` passed, or `force`). Raises OSError when the directory cannot
        be written (the hook runner logs it)."""
        if self.directory is None:
            return
        now = time.monotonic()
        if not force and now - self._written < self.write_interval:
            return
        self._written = now
        data = json.dumps(self.tallies.snapshot()).encode()
        target = self.directory / f"{SNAPSHOT_PREFIX}{os.getpid()}.json"
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)  # a reader sees the old file or the new one, whole
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


__all__ = ["SNAPSHOT_PREFIX", "TaskMetrics"]
