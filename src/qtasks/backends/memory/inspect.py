"""The memory backend's inspection (`core.ports.Inspection`): plain code over a
`MemoryStore`, under its lock. Listing filters the namespace's records in memory (no
index: the memory backend holds one process's tasks, for tests and embedding)."""

from __future__ import annotations

import heapq
import time
from typing import Any

from qtasks.backends.memory.store import MemoryStore, copy_record
from qtasks.core.inspection import TaskPage, TaskQuery, add_count, page_of


def list_tasks(store: MemoryStore, ns: str, query: TaskQuery) -> TaskPage:
    with store.lock:
        now = time.time()
        records = [
            r
            for key, r in store.records.items()
            if key[0] == ns and store.expires.get(key, now + 1) > now and query.matches(r)
        ]
        page = page_of(records, query)
        page.records = [copy_record(r) for r in page.records]
        return page


def count_tasks(store: MemoryStore, ns: str) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    with store.lock:
        now = time.time()
        for key, r in store.records.items():
            if key[0] == ns and store.expires.get(key, now + 1) > now:
                add_count(counts, r.queue, r.status, 1)
    return counts


def purge_tasks(store: MemoryStore, ns: str, queue: str | None, status: str | None) -> int:
    with store.lock:
        chosen = [
            key
            for key, r in store.records.items()
            if key[0] == ns
            and (queue is None or r.queue == queue)
            and (status is None or r.status == status)
        ]
        gone: dict[str, set[str]] = {}  # queue -> uuids, to rebuild each heap once
        for key in chosen:
            record = store.records.pop(key)
            store.expires.pop(key, None)
            store.leases.pop(key, None)
            store.lapsed.pop(key, None)
            gone.setdefault(record.queue, set()).add(record.uuid)
        for queue, uuids in gone.items():
            for heaps in (store.ready, store.delayed):
                heap: list[Any] | None = heaps.get((ns, queue))
                if heap:
                    heap[:] = [entry for entry in heap if entry[-1] not in uuids]
                    heapq.heapify(heap)
        return len(chosen)


def pause(store: MemoryStore, ns: str, queue: str, paused: bool) -> None:
    with store.lock:
        queues = store.paused.setdefault(ns, set())
        if paused:
            queues.add(queue)
        else:
            queues.discard(queue)


def paused_queues(store: MemoryStore, ns: str) -> list[str]:
    with store.lock:
        return sorted(store.paused.get(ns, ()))


__all__ = ["count_tasks", "list_tasks", "pause", "paused_queues", "purge_tasks"]
