"""The Redis backend's inspection (`core.ports.Inspection`), as flows like `flows.py`.

The scripts keep listing indexes (`scripts/_ix.lua`): a sorted set per status and
queue, and one per task name, each holding uuids scored by creation time. A listing
merges the sets the query names (one, or one per queue for a status alone) newest
first, a batch at a time, reads the candidates' records with one MGET per batch and
keeps those that match every filter: it reads about as many records as it returns when
the filters are those of one index, never the whole keyspace. Members whose record has
expired are dropped on the way (and by the workers' upkeep).
"""

from __future__ import annotations

from typing import Any

from qtasks.backends.redis import codec
from qtasks.backends.redis import scripts as lua
from qtasks.backends.redis.commands import Flow
from qtasks.core.inspection import TaskQuery, add_count, page_from
from qtasks.core.models import TaskRecord
from qtasks.core.status import TaskStatus

_STATUSES = [s.value for s in TaskStatus]
_PURGE_BATCH = 1000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _sources(prefix: str, query: TaskQuery) -> Flow:
    """The index keys (without the prefix) a listing merges."""
    if query.task_name is not None and query.status is None:
        return [f"xn:{query.task_name}"]
    if query.queue is not None:
        queues = [query.queue]
    else:
        queues = sorted(_text(q) for q in (yield ("SMEMBERS", prefix + "xq")))
    statuses = [query.status] if query.status is not None else _STATUSES
    return [f"x:{s}:{q}" for s in statuses for q in queues]


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
    while True:
        got, left = yield (lua.PURGE_TASKS, _PURGE_BATCH, status or "", queue or "", *keys)
        deleted += int(got)
        if int(left) == 0:
            return deleted


def pause(prefix: str, queue: str, paused: bool) -> Flow:
    yield ("SADD" if paused else "SREM", prefix + "paused", queue)


def paused_queues(prefix: str) -> Flow:
    return sorted(_text(q) for q in (yield ("SMEMBERS", prefix + "paused")))


__all__ = ["count_tasks", "list_tasks", "pause", "paused_queues", "purge_tasks"]
