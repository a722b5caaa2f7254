"""The Redis backend's inspection (`core.ports.Inspection`), as flows like `flows.py`.

The scripts keep listing indexes (`scripts/_ix.lua`): per queue a sorted set of the
tasks not settled yet and one per settled status, and one per task name, each holding
uuids scored by creation time; only enqueueing and settling touch them. A listing
merges the sets the query names (one, or one per queue) newest first, a batch at a
time, reads the candidates' records with one MGET per batch and keeps those that match
every filter: it reads about as many records as it returns when the filters are those
of one index (for `new`, plus the running tasks it skips), never the whole keyspace.
Running tasks are listed from the leases (as many as the workers' slots). Members whose
record has expired are dropped on the way (and by the workers' upkeep).
"""

from __future__ import annotations

from typing import Any

from qtasks.backends.redis import codec
from qtasks.backends.redis import scripts as lua
from qtasks.backends.redis.commands import Flow
from qtasks.core.inspection import TaskQuery, add_count, page_from, page_of
from qtasks.core.models import TaskRecord
from qtasks.core.status import NEW, PROCESS

#: The index sets of each queue: one for tasks not settled, one per settled status.
_INDEXES = ["pending", "success", "error", "cancel", "retry"]
_PURGE_BATCH = 1000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _queues(prefix: str, query: TaskQuery) -> Flow:
    if query.queue is not None:
        return [query.queue]
    seen = [_text(s) for s in (yield ("SMEMBERS", prefix + "xs"))]
    return sorted(s[2:] for s in seen if s.startswith("q:"))


def _sources(prefix: str, query: TaskQuery) -> Flow:
    """The index keys (without the prefix) a listing merges."""
    if query.task_name is not None and query.status is None:
        return [f"xn:{query.task_name}"]
    queues = yield from _queues(prefix, query)
    if query.status == NEW:
        statuses = ["pending"]
    elif query.status == PROCESS:  # for a purge (a listing reads the leases)
        statuses = ["pending", "process"]
    elif query.status is not None:
        statuses = [query.status]
    else:
        statuses = _INDEXES
    return [f"x:{s}:{q}" for s in statuses for q in queues]


def _running(prefix: str, query: TaskQuery) -> Flow:
    """Running tasks: the leases of the queues (as many as the workers' slots), read
    whole and filtered here."""
    uuids: list[str] = []
    for queue in (yield from _queues(prefix, query)):
        for key in ("l:" + queue, f"x:process:{queue}"):  # leased; stored by `put` alone
            uuids += [_text(u) for u in (yield ("ZRANGE", prefix + key, 0, -1))]
    found: list[TaskRecord] = []
    for i in range(0, len(uuids), 500):
        chunk = uuids[i : i + 500]
        raws = yield ("MGET", *(prefix + "t:" + u for u in chunk))
        for uuid, raw in zip(chunk, raws, strict=True):
            try:
                record = codec.record(uuid, raw) if raw is not None else None
            except codec.Undecodable:
                record = None
            if record is not None:
                found.append(record)
    return page_of(found, query)


class _Source:
    """One index read newest first, `batch` members at a time, from the cursor on."""

    def __init__(self, key: str, top: str, batch: int) -> None:
        self.key, self.top, self.batch = key, top, batch
        self.offset = 0
        self.buffer: list[tuple[float, str]] = []
        self.done = False

    def read(self, prefix: str) -> Flow:
        got = yield (
            "ZRANGE", prefix + self.key, self.top, "-inf", "BYSCORE", "REV",
            "LIMIT", self.offset, self.batch, "WITHSCORES",
        )  # fmt: skip
        if got and isinstance(got[0], (list, tuple)):  # RESP3: [member, score] pairs
            pairs = [(float(score), _text(m)) for m, score in got]
        else:
            pairs = [(float(got[i + 1]), _text(got[i])) for i in range(0, len(got), 2)]
        self.offset += len(pairs)
        self.done = len(pairs) < self.batch
        self.buffer += pairs


def list_tasks(prefix: str, query: TaskQuery) -> Flow:
    if query.status == PROCESS:
        return (yield from _running(prefix, query))
    after = query.after
    top = "+inf" if after is None else repr(after[0])
    batch = min(query.limit + 1, 500)
    sources = [_Source(k, top, batch) for k in (yield from _sources(prefix, query))]
    found: list[TaskRecord] = []
    while len(found) <= query.limit:
        for source in sources:
            if not source.buffer and not source.done:
                yield from source.read(prefix)
        live = [s for s in sources if s.buffer]
        if not live:
            break
        # The next `batch` candidates in listing order, merged from every source.
        picked: list[tuple[_Source, str]] = []
        while live and len(picked) < batch:
            best = max(live, key=lambda s: s.buffer[0])
            score, uuid = best.buffer.pop(0)
            if after is None or (score, uuid) < after:
                picked.append((best, uuid))
            if not best.buffer:
                if not best.done:
                    break  # read it on before merging further
                live.remove(best)
        if not picked:
            continue
        raws = yield ("MGET", *(prefix + "t:" + uuid for _, uuid in picked))
        stale: dict[str, list[str]] = {}
        for (source, uuid), raw in zip(picked, raws, strict=True):
            if raw is None:
                stale.setdefault(source.key, []).append(uuid)
                continue
            try:
                record = codec.record(uuid, raw)
            except codec.Undecodable:
                continue
            if query.matches(record):
                found.append(record)
        for key, uuids in stale.items():  # expired records: their members go too
            yield ("ZREM", prefix + key, *uuids)
    return page_from(found, query.limit)


def count_tasks() -> Flow:
    out = yield (lua.COUNT_TASKS,)
    counts: dict[str, dict[str, int]] = {}
    for i in range(0, len(out), 3):
        add_count(counts, _text(out[i]), _text(out[i + 1]), int(out[i + 2]))
    return counts


def purge_tasks(prefix: str, queue: str | None, status: str | None) -> Flow:
    keys = yield from _sources(prefix, TaskQuery(status=status, queue=queue))
    deleted = 0
    for key in keys:
        offset = 0
        while True:
            got, kept, read = yield (
                lua.PURGE_TASKS,
                key,
                offset,
                _PURGE_BATCH,
                status or "",
                queue or "",
            )
            deleted += int(got)
            offset += int(kept)
            if int(read) < _PURGE_BATCH:
                break
    return deleted


def pause(prefix: str, queue: str, paused: bool) -> Flow:
    yield ("SADD" if paused else "SREM", prefix + "paused", queue)


def paused_queues(prefix: str) -> Flow:
    return sorted(_text(q) for q in (yield ("SMEMBERS", prefix + "paused")))


__all__ = ["count_tasks", "list_tasks", "pause", "paused_queues", "purge_tasks"]
