"""What the pages show, read through the app's public API and shaped for the templates:
tasks as plain dicts of display strings, a task's retry chain, the queues' counts."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from qtasks.web.dashboard.client import AppClient

STATUSES = ("new", "process", "success", "error", "cancel", "retry")
#: Statuses a task can still be cancelled in; and finished ones, which can be retried.
CANCELLABLE = ("new", "process")
RETRYABLE = ("success", "error", "cancel")
#: Links followed at most, each way, when reading a retry chain.
CHAIN_LIMIT = 50


def when(value: Any) -> str:
    """A moment (datetime or epoch seconds) as `YYYY-MM-DD HH:MM:SS` in local time, ""
    for None."""
    if value is None:
        return ""
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value)
    if isinstance(value, datetime):
        moment: datetime = value
        if moment.tzinfo is not None:  # an aware one (UTC, say): in local time as the others
            moment = moment.astimezone()
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


#: Longest JSON text shown on one line; longer values are indented.
ONE_LINE = 80


def pretty(value: Any) -> str:
    """A value as JSON, on one line when short, indented otherwise (anything JSON cannot
    hold shown by its repr)."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr, sort_keys=True)
        if len(text) <= ONE_LINE:
            return text
        return json.dumps(value, indent=2, ensure_ascii=False, default=repr, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def progress_of(task: Any) -> dict[str, Any] | None:
    """`{"percent": 0..100, "message": str}` of a task's last progress report, or None."""
    p = getattr(task, "progress", None)
    if not p:
        return None
    try:
        percent = max(0.0, min(100.0, float(p.get("value", 0.0)) * 100))
    except (TypeError, ValueError):
        percent = 0.0
    return {
        "percent": round(percent, 1),
        "message": p.get("message") or "",
        "at": when(p.get("at")),
    }


def task_row(task: Any) -> dict[str, Any]:
    """One task of a listing."""
    return {
        "uuid": str(task.uuid),
        "task_name": task.task_name,
        "status": task.status,
        "queue": task.queue,
        "created": when(task.created_at),
        "updated": when(task.updated_at),
        "attempts": task.attempts,
        "progress": progress_of(task),
        "retryable": task.status in RETRYABLE,
        "cancellable": task.status in CANCELLABLE,
    }


def task_detail(task: Any) -> dict[str, Any]:
    """One task in full: its row, and arguments, result, traceback, extra fields."""
    extra = {k: v for k, v in sorted(task.extra.items()) if k != "progress"}
    return {
        **task_row(task),
        "priority": task.priority,
        "args": pretty(list(task.args)),
        "kwargs": pretty(task.kwargs),
        "result": None if task.returning is None else pretty(task.returning),
        "traceback": task.traceback,
        "extra": {k: pretty(v) if not isinstance(v, str) else v for k, v in extra.items()},
    }


async def retry_chain(client: AppClient, task: Any) -> list[Any]:
    """The task's retry chain, first attempt to last: automatic retries
    (`retry_parent_uuid`/`retry_child_uuid`) and copies made by `retry` (`retry_of`/
    `retried_as`); the task itself included."""
    back: list[Any] = []
    current = task
    while len(back) < CHAIN_LIMIT:
        parent = current.retry_parent_uuid or current.extra.get("retry_of")
        found = None if parent is None else await client.call("get", str(parent))
        if found is None:
            break
        back.insert(0, found)
        current = found
    forward: list[Any] = []
    current = task
    while len(forward) < CHAIN_LIMIT:
        child = current.retry_child_uuid or current.extra.get("retried_as")
        found = None if child is None else await client.call("get", str(child))
        if found is None:
            break
        forward.append(found)
        current = found
    return [*back, task, *forward]


@dataclasses.dataclass
class QueueRow:
    """One queue of the overview: counts by status, paused or not."""

    name: str
    counts: dict[str, int]
    paused: bool

    @property
    def depth(self) -> int:
        """Tasks waiting or running."""
        return self.counts.get("new", 0) + self.counts.get("process", 0)


def queue_rows(counts: dict[str, dict[str, int]], paused: list[str]) -> list[QueueRow]:
    """The queues of `count_tasks()` and the paused ones (a paused queue without records
    is listed too), by name."""
    names = sorted(set(counts) | set(paused))
    return [QueueRow(n, dict(counts.get(n, {})), n in paused) for n in names]


def worker_rows(workers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The live workers with what each runs, for display."""
    rows = []
    for w in workers:
        running = [
            {
                "uuid": str(r.get("uuid")),
                "task_name": r.get("task_name", ""),
                "started": when(r.get("started")),
            }
            for r in w.get("running") or []
        ]
        rows.append(
            {
                "worker_id": str(w.get("worker_id", "")),
                "queue": w.get("queue", ""),
                "pid": w.get("pid", ""),
                "concurrency": w.get("concurrency", ""),
                "started": when(w.get("started")),
                "running": running,
            }
        )
    return rows


#: The schedules table's first columns, in this order (those of `app.schedules()`'s
#: `ScheduleInfo`); any other field follows, by name.
SCHEDULE_COLUMNS = (
    "id",
    "name",
    "task_name",
    "timing",
    "paused",
    "next_run",
    "args",
    "kwargs",
    "overlap",
    "catch_up",
    "jitter",
    "owner",
)


def schedule_rows(schedules: Any) -> list[dict[str, str]]:
    """The app's schedules (whatever shape `schedules()` returns: a list or a dict of
    objects or dicts) as rows of display strings."""
    if isinstance(schedules, dict):
        items = [
            {"name": k, **(v if isinstance(v, dict) else fields_of(v))}
            for k, v in schedules.items()
        ]
    else:
        items = [s if isinstance(s, dict) else fields_of(s) for s in schedules or []]
    return [{str(k): display(v) for k, v in item.items()} for item in items]


def fields_of(obj: Any) -> dict[str, Any]:
    """The public fields of a schedule object (a dataclass, or its attributes)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    names = getattr(obj, "__dict__", None) or {}
    found = {k: v for k, v in names.items() if not k.startswith("_")}
    return found or {"schedule": obj}


def display(value: Any) -> str:
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, str | int | float) or value is None:
        return "" if value is None else str(value)
    return pretty(value) if isinstance(value, dict | list | tuple) else str(value)


__all__ = [
    "CANCELLABLE",
    "RETRYABLE",
    "SCHEDULE_COLUMNS",
    "STATUSES",
    "QueueRow",
    "pretty",
    "progress_of",
    "queue_rows",
    "retry_chain",
    "schedule_rows",
    "task_detail",
    "task_row",
    "when",
    "worker_rows",
]
