"""The sync app: `from qtasks import QueueTasks`. Client calls go straight to the
backend's sync driver (no event loop per call); the worker runs the async engine."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from qtasks.app.base import BaseQueueTasks
from qtasks.app.inspection import TaskList
from qtasks.app.lifecycle import BackgroundServer, make_server, run_blocking
from qtasks.app.schedules import SyncScheduleMethods
from qtasks.app.task import Task
from qtasks.core.models import DeadLetter
from qtasks.events import SyncEvents
from qtasks.exc import EngineError
from qtasks.registries.task import SyncTask


class QueueTasks(BaseQueueTasks, SyncScheduleMethods):
    """A task queue app whose client API is plain (blocking) calls."""

    _method = "sync"
    _task_class = SyncTask
    _events_class = SyncEvents

    _background: BackgroundServer | None = None

    def add_task(
        self,
        task_name: str,
        *args: Any,
        priority: int | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Task | None:
        """Enqueue `task_name(*args, **kwargs)`. Without `timeout` returns the new Task;
        with it, waits up to `timeout` seconds for the finished Task (None if not done)."""
        return self._add_task_sync(task_name, args, kwargs, priority=priority, timeout=timeout)

    def enqueue(
        self,
        task_name: str,
        args: tuple[Any, ...] | list[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        priority: int | None = None,
        delay: float | None = None,
        eta: datetime | float | None = None,
        queue: str | None = None,
        timeout: float | None = None,
        connection: Any = None,
    ) -> Task | None:
        """Enqueue with every option, leaving all keyword names to the task: `args` and
        `kwargs` are passed as they are; `delay` (seconds) or `eta` (datetime or epoch)
        holds the task back until then; `queue` routes it (default: the task's
        `queue=` option, else "default"); `connection` writes it inside that database
        connection's open transaction (see `in_transaction`)."""
        flow = self._enqueue_flow(task_name, args, kwargs, priority, delay, eta, queue, timeout)
        if connection is not None:
            with self.in_transaction(connection):
                return self._run_sync(flow)
        return self._run_sync(flow)

    def add_tasks(self, calls: Iterable[Any]) -> list[Task]:
        """Enqueue many tasks in one round trip: pre-built calls (`task(1, 2)`) or
        `(task_name, args, kwargs)` tuples. Returns the new Tasks, in order."""
        return self._run_sync(self._add_many_flow(calls))

    def get(self, uuid: UUID | str) -> Task | None:
        """The task's current record, or None if unknown or expired."""
        return self._get_sync(uuid)

    def wait(
        self,
        uuid: UUID | str,
        timeout: float = 100.0,
        *,
        on_progress: Callable[[Task], Any] | None = None,
    ) -> Task | None:
        """Wait for a task (following retries) to finish; None after `timeout`. With
        `on_progress`, call it with the Task each time the running task reports new
        progress (`self.ctx.set_progress`; `task.progress`), woken by the record's write; it
        is a plain function, called in the waiting thread."""
        if on_progress is not None:
            return self._run_sync(self._watch_flow(uuid, timeout, on_progress))
        return self._wait_sync(uuid, timeout)

    def cancel(self, uuid: UUID | str, reason: str = "") -> Task | None:
        """Cancel a task. A queued task ends at once (status `cancel`); a running async
        task is cancelled at its next await by its worker (within about 0.25 s). Returns
        the task as it stands (`cancel`, or still `process` for a running one), or None
        when it is unknown or already finished."""
        return self._run_sync(self._cancel_flow(uuid, reason))

    def ping(self, server: bool = True) -> bool:
        """True when a worker of this app is alive (or, with server=False, always)."""
        return self._run_sync(self._ping_flow(server))

    def flush_all(self) -> None:
        """Delete every queued task and stored record of this app."""
        self._run_sync(self._flush_flow())

    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        """Tasks taken out of delivery, newest first: `limit` (>= 1) of them from
        `offset`. Each `DeadLetter` has `uuid`, `queue`, `reason`, `dead_at` (epoch
        seconds) and either `record` (the task's final `error` record: a task delivered
        `max_deliveries` times without its worker reporting back) or `raw` (the stored
        text of an entry the backend could not decode). Raises `CapabilityError` when
        the backend keeps no dead letters."""
        return self._run_sync(self._dead_letters_flow(limit, offset))

    def requeue_dead_letters(self, uuids: Iterable[UUID | str] | None = None) -> int:
        """Queue these dead letters (uuids as UUID or str; None = all) again under their
        own uuid, as new tasks (status `new`, no delivery counted). Entries without a
        record (not decodable) stay listed. Returns how many were queued; unknown uuids
        are ignored. Raises `CapabilityError` when the backend keeps no dead letters."""
        return self._run_sync(self._requeue_dead_letters_flow(uuids))

    def purge_dead_letters(self, uuids: Iterable[UUID | str] | None = None) -> int:
        """Forget these dead letters (uuids as UUID or str; None = all); their records
        stay until they expire. Returns how many were removed; unknown uuids are ignored.
        Raises `CapabilityError` when the backend keeps no dead letters."""
        return self._run_sync(self._purge_dead_letters_flow(uuids))

    # --- operating: listing, counts, workers, retry, cancel, purge, pausing ---------------
    def list_tasks(
        self,
        *,
        status: str | None = None,
        task_name: str | None = None,
        queue: str | None = None,
        since: Any = None,
        until: Any = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> TaskList:
        """One page of this app's task records, newest first (by creation time), those
        matching every filter given: `status` ("new", "process", "success", "error",
        "cancel", "retry"), `task_name`, `queue`, and created within `since` (included)
        .. `until` (excluded), each epoch seconds, a datetime, a timedelta or a span like
        "1h" (that long ago). `limit` is 1..1000; pass the returned `TaskList.cursor` as
        `cursor` for the next page. Reads an index, never every record. Raises
        `ConfigError` for a bad filter, `CapabilityError` when the backend cannot list."""
        query = self._query(status, task_name, queue, since, until, limit, cursor)
        return self._run_sync(self._list_tasks_flow(query))

    def count_tasks(self) -> dict[str, dict[str, int]]:
        """How many task records there are, by queue then status:
        `{"default": {"new": 5, "error": 1}}` (statuses without records left out)."""
        return self._run_sync(self._count_tasks_flow())

    def live_workers(self) -> list[dict[str, Any]]:
        """The live workers of this app, each a dict: `worker_id`, `queue`, `pid`,
        `concurrency`, `started` (epoch seconds) and `running`: the tasks it runs (and has
        not acknowledged yet) as of its last heartbeat (every `lease_timeout / 3` s), each
        `{"uuid", "task_name", "started"}`."""
        return self._run_sync(self._workers_flow())

    def retry(self, uuid: UUID | str) -> Task | None:
        """Run a finished task (success, error or cancel) again: a copy with a new uuid,
        the same arguments, priority and queue, whose extra `retry_of` names the original;
        the original's extra `retried_as` names the copy. Returns the copy (status
        `new`), None when the uuid is unknown or expired; `ConfigError` when the task has
        not finished."""
        return self._run_sync(self._retry_flow(uuid))

    def cancel_tasks(
        self,
        *,
        status: str | None = None,
        task_name: str | None = None,
        queue: str | None = None,
        since: Any = None,
        until: Any = None,
        reason: str = "",
    ) -> int:
        """Cancel every new or running task matching the filters (as `list_tasks`;
        `status` may be "new" or "process" only), each as `cancel()` does. Returns how
        many were cancelled or asked to stop."""
        query = self._query(status, task_name, queue, since, until, 1, None)
        return self._run_sync(self._cancel_tasks_flow(query, reason))

    def purge_tasks(self, *, queue: str | None = None, status: str | None = None) -> int:
        """Delete the task records of `queue` and/or `status` (None: any; both None: all
        of them, as `flush_all` does for records) with their queue entries and leases.
        Returns how many records were deleted."""
        return self._run_sync(self._purge_tasks_flow(queue, status))

    def pause_queue(self, queue: str) -> None:
        """Stop every worker of `queue`, in any process, from fetching (within about a
        second; running tasks finish). Stays paused, across restarts, until
        `resume_queue`."""
        self._run_sync(self._pause_flow(queue, True))

    def resume_queue(self, queue: str) -> None:
        """Let the workers of `queue` fetch again."""
        self._run_sync(self._pause_flow(queue, False))

    def paused_queues(self) -> list[str]:
        """The paused queues of this app, sorted."""
        return self._run_sync(self._paused_flow())

    # --- running --------------------------------------------------------------------------
    def run_forever(
        self,
        num_workers: int | None = None,
        *,
        queues: list[str] | None = None,
        concurrency: int | None = None,
        starter: Any = None,
        reset_config: bool = True,
        scheduler: bool | None = None,
    ) -> None:
        """Run a worker in this process until SIGINT/SIGTERM (blocks).

        QTasks 1.7's keywords are accepted: `starter` (an `SyncStarter`, which holds
        settings), `reset_config` (every component always reads the app's one config).
        `scheduler`: whether this worker runs the scheduler (default: `config.scheduler`)."""
        num_workers = self._run_options(num_workers, starter)
        self._set_state()
        self._server = make_server(
            self, num_workers, scheduler, queues=queues, concurrency=concurrency
        )
        run_blocking(self._server)

    def start(
        self,
        num_workers: int | None = None,
        *,
        queues: list[str] | None = None,
        concurrency: int | None = None,
    ) -> None:
        """Start a worker on a background thread; returns once it is fetching."""
        if self._background is not None and self._background.alive:
            raise EngineError(f"App {self.name!r} is already running")
        self._server = make_server(self, num_workers, queues=queues, concurrency=concurrency)
        self._background = BackgroundServer(self._server)
        self._background.start()

    start_in_background = start

    def stop(self, timeout: float | None = None) -> None:
        """Stop the background worker: running tasks finish (within shutdown_grace)."""
        self._run_sync(self._stop_flow())
        if self._background is not None:
            background, self._background = self._background, None
            background.stop(timeout)
        elif self._server is not None:
            self._server.stop()

    @contextlib.contextmanager
    def serve(
        self,
        num_workers: int | None = None,
        *,
        queues: list[str] | None = None,
        concurrency: int | None = None,
    ) -> Iterator[QueueTasks]:
        """`with app.serve():` runs a worker for the duration of the block."""
        self.start(num_workers, queues=queues, concurrency=concurrency)
        try:
            yield self
        finally:
            self.stop()


__all__ = ["QueueTasks"]
