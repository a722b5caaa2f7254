"""The NATS backend's inspection (`core.ports.Inspection`) over the results bucket.

A key-value bucket has no secondary index: listing, counting and purging read the last
value of every key in one pass of an ordered consumer (`watchall`), so their cost grows
with the bucket (the other backends read an index). Paused queues are keys
`paused.<queue>` of the workers bucket.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import nats.errors
import nats.js.errors

from qtasks.backends.nats import codec
from qtasks.core.inspection import TaskPage, TaskQuery, add_count, page_of
from qtasks.core.models import TaskRecord

if TYPE_CHECKING:
    from nats.js.kv import KeyValue

PAUSED = "paused."


#: Seconds a listing waits for the next value before it takes the pass as done (only
#: reached when the bucket's last message was removed after the pass began).
_QUIET = 5.0


async def records(kv: KeyValue) -> AsyncIterator[tuple[str, TaskRecord]]:
    """(key, record) of every live record of the bucket, in one pass.

    The pass ends at the bucket's last message when it began (its stream sequence),
    not at the library's "initial values delivered" marker: that marker is queued
    before values the server already sent whenever they arrive while the watch is set
    up, and a listing would then miss them all."""
    state = (await kv.status()).stream_info.state
    if not state.messages:
        return
    watcher = await kv.watchall()  # deletes too: the last message may be one
    try:
        while True:
            try:
                entry = await watcher.updates(timeout=_QUIET)  # type: ignore[no-untyped-call]
            except nats.errors.TimeoutError:
                return
            if entry is None:
                continue  # the marker (see above)
            if entry.operation is None:  # a value, not a delete or purge
                try:
                    record = codec.record(entry.value or b"")
                except (ValueError, TypeError):
                    record = None  # a fetch dead-letters it
                if record is not None:
                    yield entry.key, record
            if entry.revision >= state.last_seq:
                return
    finally:
        await watcher.stop()  # type: ignore[no-untyped-call]


async def list_tasks(kv: KeyValue, query: TaskQuery) -> TaskPage:
    return page_of([r async for _, r in records(kv) if query.matches(r)], query)


async def count_tasks(kv: KeyValue) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    async for _, r in records(kv):
        add_count(counts, r.queue, r.status, 1)
    return counts


async def chosen(kv: KeyValue, queue: str | None, status: str | None) -> list[TaskRecord]:
    return [
        r
        async for _, r in records(kv)
        if (queue is None or r.queue == queue) and (status is None or r.status == status)
    ]


def paused_key(queue: str) -> str:
    return PAUSED + base64.b32encode(queue.encode()).decode().rstrip("=")


async def paused_queues(kv: KeyValue) -> list[str]:
    try:
        keys = await kv.keys()
    except nats.js.errors.NoKeysError:
        return []
    out = []
    for k in keys:
        if k.startswith(PAUSED):
            text = k[len(PAUSED) :]
            out.append(base64.b32decode(text + "=" * (-len(text) % 8)).decode())
    return sorted(out)


__all__ = ["PAUSED", "chosen", "count_tasks", "list_tasks", "paused_key", "paused_queues"]
