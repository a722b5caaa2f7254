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
        #: uuid -> (epoch seconds leased, queue) of tasks fetched and not yet acknowledged.
        self._leased: dict[str, tuple[float, str]] = {}
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
        for uuid in [u for u, (_, q) in self._leased.items() if q == queue]:
            del self._leased[uuid]
        self.tallies.busy[queue] = 0
        self.write(force=True)

    # The two batch hooks are the plugin's whole cost per task: plain dict and list
    # updates inlined (no method call per task), a few hundred nanoseconds each.
    def worker_tasks_fetched(self, **kw: Any) -> None:
        now = time.time()
        tallies, leased, busy = self.tallies, self._leased, self.tallies.busy
        started, waits = tallies.counters["started"], tallies.wait
        for delivery in kw["deliveries"]:
            record = delivery.record
            key = (record.task_name, record.queue)
            started[key] = started.get(key, 0) + 1
            eta = record.eta
            waited = now - (
                eta if eta is not None and eta > record.created_at else record.created_at
            )
            histogram = waits.get(key) or waits.setdefault(key, new_histogram(WAIT_BUCKETS))
            waited = waited if waited > 0.0 else 0.0
            histogram[bisect_left(WAIT_BUCKETS, waited)] += 1
            histogram[-1] += waited
            leased[record.uuid] = (now, record.queue)
            busy[record.queue] = busy.get(record.queue, 0) + 1

    def worker_tasks_acked(self, **kw: Any) -> None:
        tallies, leased, busy = self.tallies, self._leased, self.tallies.busy
        counters, runs = tallies.counters, tallies.run
        for completion in kw["completions"]:
            record = completion.delivery.record
            key = (record.task_name, record.queue)
            held = leased.pop(record.uuid, None)
            if held is not None:
                busy[held[1]] = max(0, busy.get(held[1], 0) - 1)
            table = counters[
                "dead"
                if completion.dead_letter is not None
                else _OUTCOME.get(completion.record.status, "failed")
            ]
            table[key] = table.get(key, 0) + 1
            if held is None or completion.dead_letter is not None:
                continue
            took = completion.record.updated_at - held[0]
            took = took if took > 0.0 else 0.0
            histogram = runs.get(key) or runs.setdefault(key, new_histogram(RUN_BUCKETS))
            histogram[bisect_left(RUN_BUCKETS, took)] += 1
            histogram[-1] += took
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
