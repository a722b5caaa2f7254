"""Operating an app, written once as flows (see `qtasks.core.steps`) for both facades:
list and count task records, the live workers, retry and cancel, purge part of the
records, pause and resume queues. The backend's `Inspection` port does the reading and
writing; these flows check arguments and turn records into `Task`s.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from qtasks.app.client import ClientOperations
from qtasks.app.task import Task
from qtasks.core.inspection import TaskPage, TaskQuery, moment
from qtasks.core.models import TaskRecord
from qtasks.core.status import FINAL_STATUSES, NEW, PROCESS, SETTLED_STATUSES
from qtasks.core.steps import Call, Flow
from qtasks.exc import ArgumentTypeError, ConfigError

#: Records read per page while cancelling a filtered set.
_CANCEL_PAGE = 500


@dataclasses.dataclass
class TaskList:
    """One page of `app.list_tasks()`: `tasks` newest first, and `cursor` to pass back
    as `list_tasks(cursor=...)` for the next page (None when this page is the last)."""

    tasks: list[Task]
    cursor: str | None = None

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks)

    def __len__(self) -> int:
        return len(self.tasks)


class InspectionOperations(ClientOperations):
    """The operating half of an app (a base of `BaseQueueTasks`)."""

    def _query(
        self,
        status: Any,
        task_name: str | None,
        queue: str | None,
        since: Any,
        until: Any,
        limit: int,
        cursor: str | None,
    ) -> TaskQuery:
        self.backend.capabilities.require("inspection", self.backend)
        now = time.time()
        for name, value in (("task_name", task_name), ("queue", queue), ("cursor", cursor)):
            if value is not None and not isinstance(value, str):
                raise ArgumentTypeError(f"{name} must be a str, got {value!r}")
        return TaskQuery(
            status=None if status is None else str(status),
            task_name=task_name,
            queue=queue,
            since=moment(since, now, "since"),
            until=moment(until, now, "until"),
            limit=limit,
            cursor=cursor,
        )

    def _list_tasks_flow(self, query: TaskQuery) -> Flow[TaskList]:
        page: TaskPage = yield Call("list_tasks", (query,))
        return TaskList([self._to_task(r) for r in page.records], page.cursor)

    def _count_tasks_flow(self) -> Flow[dict[str, dict[str, int]]]:
        self.backend.capabilities.require("inspection", self.backend)
        counts: dict[str, dict[str, int]] = yield Call("count_tasks", ())
        return counts

    def _workers_flow(self) -> Flow[list[dict[str, Any]]]:
        self.backend.capabilities.require("worker_registry", self.backend)
        workers: list[dict[str, Any]] = yield Call("live_workers", ())
        for worker in workers:
            worker.setdefault("running", [])  # registered, no heartbeat since
        return sorted(workers, key=lambda w: str(w.get("worker_id")))

    def _retry_flow(self, uuid: UUID | str) -> Flow[Task | None]:
        text = self._uuid_str(uuid)
        record: TaskRecord | None = yield Call("get", (text,))
        if record is None:
            return None
        if record.status not in FINAL_STATUSES:
            raise ConfigError(
                f"Task {text} is {record.status}: only a finished task (success, error, "
                "cancel) can be retried"
            )
        copy = self._new_record(
            record.task_name, record.args, record.kwargs, record.priority, queue=record.queue
        )
        copy.extra["retry_of"] = text
        yield Call("enqueue", ([copy],))
        record.extra["retried_as"] = copy.uuid
        yield Call("put", ([record],))
        return self._to_task(copy)

    def _cancel_tasks_flow(self, query: TaskQuery, reason: str) -> Flow[int]:
        if query.status is not None and query.status not in (NEW, PROCESS):
            raise ConfigError(f"Only new or running tasks can be cancelled, not {query.status}")
        count = 0
        for status in [query.status] if query.status else [NEW, PROCESS]:
            page_query = dataclasses.replace(query, status=status, limit=_CANCEL_PAGE)
            while True:
                page: TaskPage = yield Call("list_tasks", (page_query,))
                for record in page.records:
                    got = yield Call("cancel", (record.uuid, reason or "cancelled"))
                    count += got is not None
                if page.cursor is None:
                    break
                page_query = dataclasses.replace(page_query, cursor=page.cursor)
        return count

    def _purge_tasks_flow(self, queue: str | None, status: str | None) -> Flow[int]:
        self.backend.capabilities.require("inspection", self.backend)
        TaskQuery(status=status)  # checks the status
        count: int = yield Call("purge_tasks", (queue, status))
        return count

    def _pause_flow(self, queue: str, paused: bool) -> Flow[None]:
        self.backend.capabilities.require("inspection", self.backend)
        if not isinstance(queue, str) or not queue:
            raise ArgumentTypeError(f"queue must be a non-empty str, got {queue!r}")
        yield Call("pause_queue" if paused else "resume_queue", (queue,))

    def _paused_flow(self) -> Flow[list[str]]:
        self.backend.capabilities.require("inspection", self.backend)
        queues: list[str] = yield Call("paused_queues", ())
        return queues

    # --- progress -----------------------------------------------------------------------
    def _progress_flow(self, uuid: str, progress: dict[str, Any]) -> Flow[None]:
        """Store a running task's progress on its record (read fresh, so what others
        wrote meanwhile, a cancel request say, is kept); nothing once it has settled."""
        record: TaskRecord | None = yield Call("get", (uuid,))
        if record is None or record.status != PROCESS:
            return
        record.extra["progress"] = progress
        yield Call("put", ([record],))

    def _watch_flow(
        self, uuid: UUID | str, timeout: float, on_progress: Callable[[Task], Any]
    ) -> Flow[Task | None]:
        """`wait()` that also calls `on_progress(task)` each time the running task's
        progress changes, woken by the backend when the record is written (the
        `wait_progress` of the store), following retries."""
        deadline = time.monotonic() + timeout
        current: str | None = self._uuid_str(uuid)
        seen: Any = None
        while current is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            record = yield Call("wait_progress", (current, seen, remaining))
            if record is None:
                return None  # unknown, or the time is up
            if record.status in SETTLED_STATUSES:
                nxt = self._next_in_chain(record)
                if nxt is None:
                    return (yield from self._read_flow(record))
                current = nxt
                continue
            seen = record.extra.get("progress")
            if seen is not None:  # None: a retry attempt that has not reported yet
                on_progress(self._to_task(record))
        return None


__all__ = ["InspectionOperations", "TaskList"]
