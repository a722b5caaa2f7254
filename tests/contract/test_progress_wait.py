"""wait_progress: a waiter for a running task's progress is woken by the record's write
(not by reading it now and then), stops at the end of the task, on every backend."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

import pytest

from qtasks.backends import Backend, Completion, TaskRecord
from qtasks.core.status import NEW, SUCCESS

pytestmark = pytest.mark.anyio


def record() -> TaskRecord:
    now = time.time()
    return TaskRecord(str(uuid.uuid4()), "t", 0, [], {}, NEW, now, now)


async def running(backend: Backend) -> TaskRecord:
    r = record()
    await backend.enqueue([r])
    (d,) = await backend.fetch("default", 1, 30, "w", 0)
    return d.record


async def report(backend: Backend, uuid_: str, value: float) -> dict[str, object]:
    """What `ctx.set_progress` writes: the running record with its progress."""
    got = await backend.get(uuid_)
    assert got is not None
    progress = {"value": value, "message": f"{value:.0%}", "at": time.time()}
    got.extra["progress"] = progress
    await backend.put([got])
    return progress


async def test_each_progress_write_wakes_the_waiter(backend: Backend) -> None:
    task = await running(backend)
    seen = None
    delays = []
    for value in (0.25, 0.5, 0.75):
        waiter = asyncio.create_task(backend.wait_progress(task.uuid, seen, 10))
        await asyncio.sleep(0.05)  # the waiter blocks before the write
        written = time.monotonic()
        progress = await report(backend, task.uuid, value)
        got = await waiter
        delays.append(time.monotonic() - written)
        assert got is not None and got.status == "process"
        assert got.extra["progress"] == progress
        seen = progress
    # Woken by the write: reading every half second would take ~0.45 s here.
    assert statistics.median(delays) < 0.3, delays


async def test_a_waiter_returns_at_once_on_progress_it_has_not_seen(backend: Backend) -> None:
    task = await running(backend)
    progress = await report(backend, task.uuid, 0.1)
    got = await backend.wait_progress(task.uuid, None, 5)
    assert got is not None and got.extra["progress"] == progress
    start = time.monotonic()
    assert await backend.wait_progress(task.uuid, progress, 0.3) is None  # nothing new
    assert time.monotonic() - start < 2.0


async def test_a_settled_record_ends_the_wait(backend: Backend) -> None:
    task = await running(backend)
    progress = await report(backend, task.uuid, 0.5)
    waiter = asyncio.create_task(backend.wait_progress(task.uuid, progress, 10))
    await asyncio.sleep(0.05)
    r = await backend.get(task.uuid)
    assert r is not None
    r.status, r.returning, r.updated_at = SUCCESS, 3, time.time()
    await backend.put([r])
    got = await asyncio.wait_for(waiter, 5)
    assert got is not None and got.status == SUCCESS and got.returning == 3


async def test_completion_ends_the_wait(backend: Backend) -> None:
    r = record()
    await backend.enqueue([r])
    (d,) = await backend.fetch("default", 1, 30, "w", 0)
    waiter = asyncio.create_task(backend.wait_progress(r.uuid, None, 10))
    await asyncio.sleep(0.05)
    d.record.status, d.record.returning = SUCCESS, 9
    await backend.complete([Completion(d, d.record)])
    got = await asyncio.wait_for(waiter, 5)
    assert got is not None and got.status == SUCCESS and got.returning == 9


async def test_unknown_task_and_timeout(backend: Backend) -> None:
    start = time.monotonic()
    assert await backend.wait_progress(str(uuid.uuid4()), None, 5) is None
    assert time.monotonic() - start < 1.0
    task = await running(backend)
    start = time.monotonic()
    assert await backend.wait_progress(task.uuid, None, 0.2) is None
    assert time.monotonic() - start < 1.5


async def test_sync_twin(backend: Backend) -> None:
    task = await running(backend)

    def wait() -> TaskRecord | None:
        return backend.wait_progress_sync(task.uuid, None, 10)

    waiter = asyncio.create_task(asyncio.to_thread(wait))
    await asyncio.sleep(0.1)
    progress = await report(backend, task.uuid, 0.3)
    got = await asyncio.wait_for(waiter, 10)
    assert got is not None and got.extra["progress"] == progress


async def test_the_ports_default_reads_the_record(backend: Backend) -> None:
    """A result store without its own `wait_progress` (a third-party one) still works:
    the port's default reads the record every half second, waiting for its end between."""
    from qtasks.core.ports import ResultStore

    task = await running(backend)
    waiter = asyncio.create_task(ResultStore.wait_progress(backend, task.uuid, None, 10))
    await asyncio.sleep(0.05)
    progress = await report(backend, task.uuid, 0.4)
    got = await asyncio.wait_for(waiter, 5)
    assert got is not None and got.extra["progress"] == progress
    start = time.monotonic()
    assert await ResultStore.wait_progress(backend, task.uuid, progress, 0.3) is None
    assert time.monotonic() - start < 2.0
    await asyncio.to_thread(ResultStore.wait_progress_sync, backend, task.uuid, progress, 0.2)
    assert ResultStore.wait_progress_sync(backend, str(uuid.uuid4()), None, 5) is None
