"""The inspection port (`Inspection`, also `qtasks.core.ports.Inspection`) and what it
takes and gives: a query for task records (`TaskQuery`), a page of them (`TaskPage`) and
its cursor, and the pure parts every backend shares (matching, ordering, paging).

Listing order is newest first: `created_at` descending, then `uuid` descending, so a
page boundary is a stable point (`created_at`, `uuid`) that new tasks never move. The
time range is on `created_at` (epoch seconds): `since <= created_at < until`.
"""

from __future__ import annotations

import dataclasses
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from qtasks.core.models import TaskRecord
from qtasks.core.status import TaskStatus
from qtasks.exc import ConfigError

#: Most records one page may hold.
MAX_PAGE = 1000

_STATUSES = frozenset(s.value for s in TaskStatus)


@dataclasses.dataclass(frozen=True, slots=True)
class TaskQuery:
    """Which task records to list, and one page of them.

    Every filter left None matches everything; `since`/`until` bound `created_at`
    (epoch seconds, `since` included, `until` excluded). `limit` is the page size
    (1..`MAX_PAGE`); `cursor` is the `TaskPage.cursor` of the previous page.
    Raises `ConfigError` for an unknown status, a bad limit or cursor."""

    status: str | None = None
    task_name: str | None = None
    queue: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 50
    cursor: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in _STATUSES:
            known = ", ".join(sorted(_STATUSES))
            raise ConfigError(f"Unknown task status {self.status!r} (known: {known})")
        if isinstance(self.limit, bool) or not isinstance(self.limit, int):
            raise ConfigError(f"limit must be an int, got {self.limit!r}")
        if not 1 <= self.limit <= MAX_PAGE:
            raise ConfigError(f"limit must be within 1..{MAX_PAGE}, got {self.limit}")
        if self.cursor is not None:
            decode_cursor(self.cursor)

    @property
    def after(self) -> tuple[float, str] | None:
        """The (created_at, uuid) the page starts after, None for the first page."""
        return None if self.cursor is None else decode_cursor(self.cursor)

    def matches(self, record: TaskRecord) -> bool:
        """Whether `record` passes every filter and lies after the cursor."""
        if self.status is not None and record.status != self.status:
            return False
        if self.task_name is not None and record.task_name != self.task_name:
            return False
        if self.queue is not None and record.queue != self.queue:
            return False
        if self.since is not None and record.created_at < self.since:
            return False
        if self.until is not None and record.created_at >= self.until:
            return False
        after = self.after
        return after is None or (record.created_at, record.uuid) < after


@dataclasses.dataclass(slots=True)
class TaskPage:
    """Records newest first, and `cursor`: pass it as `TaskQuery.cursor` for the next
    page (None when this page is the last)."""

    records: list[TaskRecord]
    cursor: str | None = None


def encode_cursor(record: TaskRecord) -> str:
    """The cursor of a page that ends with `record`."""
    return f"{record.created_at!r}/{record.uuid}"


def decode_cursor(cursor: str) -> tuple[float, str]:
    """(created_at, uuid) of a cursor; `ConfigError` when it is not one."""
    stamp, sep, uuid = str(cursor).partition("/")
    try:
        if not sep or not uuid:
            raise ValueError
        return float(stamp), uuid
    except ValueError:
        raise ConfigError(f"Not a listing cursor: {cursor!r}") from None


def order_key(record: TaskRecord) -> tuple[float, str]:
    """Sort key of the listing order (use with `reverse=True`)."""
    return (record.created_at, record.uuid)


def page_of(records: Iterable[TaskRecord], query: TaskQuery) -> TaskPage:
    """The page `query` asks for out of `records` (any order; filtered here): for a
    backend that reads candidates and filters them itself."""
    chosen = sorted((r for r in records if query.matches(r)), key=order_key, reverse=True)
    return page_from(chosen, query.limit)


def page_from(ordered: list[TaskRecord], limit: int) -> TaskPage:
    """A page of matching records already in listing order, `limit + 1` of them read
    to know whether another page follows."""
    records = ordered[:limit]
    more = len(ordered) > limit
    return TaskPage(records, encode_cursor(records[-1]) if more and records else None)


def add_count(counts: dict[str, dict[str, int]], queue: str, status: str, n: int) -> None:
    """Add `n` to `counts[queue][status]` (the shape of `Inspection.count_tasks`)."""
    if n:
        by_status = counts.setdefault(queue, {})
        by_status[status] = by_status.get(status, 0) + n


_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def moment(value: Any, now: float, what: str = "since") -> float | None:
    """Epoch seconds from a bound of a time range: None, epoch seconds, a `datetime`,
    a `timedelta` (that long before `now`) or a span such as "90s", "15m", "1h", "2d",
    "1w" (that long before `now`). `ConfigError` for anything else."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be a time, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, timedelta):
        return now - value.total_seconds()
    if isinstance(value, str):
        found = _SPAN.match(value)
        if found:
            return now - float(found.group(1)) * _UNIT[found.group(2)]
    raise ConfigError(
        f"{what} must be epoch seconds, a datetime, a timedelta or a span like '1h', got {value!r}"
    )


class Inspection(ABC):
    """Operating an app: list and count its task records, purge part of them, and pause
    queues for every worker.

    Listing reads an index (or a set kept per status), never every record: newest
    first by (`created_at`, `uuid`), one page at a time (see `qtasks.core.inspection`).
    Records whose time to live is over are not listed nor counted."""

    @abstractmethod
    async def list_tasks(self, query: TaskQuery) -> TaskPage:
        """One page of the records matching `query`, newest first."""

    @abstractmethod
    async def count_tasks(self) -> dict[str, dict[str, int]]:
        """How many records there are, by queue then status (zero counts left out)."""

    @abstractmethod
    async def purge_tasks(self, queue: str | None = None, status: str | None = None) -> int:
        """Delete the records of `queue` and/or `status` (None: any) with their queue
        entries and leases; a worker running a purged task finds its lease gone and its
        result is not stored. Returns how many records were deleted."""

    @abstractmethod
    async def pause_queue(self, queue: str) -> None:
        """Ask every worker of `queue` to stop fetching from it (running tasks go on);
        it stays paused, across restarts, until `resume_queue`."""

    @abstractmethod
    async def resume_queue(self, queue: str) -> None:
        """Let the workers of `queue` fetch again."""

    @abstractmethod
    async def paused_queues(self) -> list[str]:
        """The paused queues, sorted."""

    async def queue_paused(self, queue: str) -> bool:
        """Whether `queue` is paused: what each worker asks every second (a backend
        overrides it where one key answers more cheaply than the whole list)."""
        return queue in await self.paused_queues()

    def list_tasks_sync(self, query: TaskQuery) -> TaskPage:
        raise NotImplementedError

    def count_tasks_sync(self) -> dict[str, dict[str, int]]:
        raise NotImplementedError

    def purge_tasks_sync(self, queue: str | None = None, status: str | None = None) -> int:
        raise NotImplementedError

    def pause_queue_sync(self, queue: str) -> None:
        raise NotImplementedError

    def resume_queue_sync(self, queue: str) -> None:
        raise NotImplementedError

    def paused_queues_sync(self) -> list[str]:
        raise NotImplementedError


__all__ = [
    "MAX_PAGE",
    "Inspection",
    "TaskPage",
    "TaskQuery",
    "add_count",
    "decode_cursor",
    "encode_cursor",
    "moment",
    "order_key",
    "page_from",
    "page_of",
]
