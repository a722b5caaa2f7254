"""`extend_sync` and `register_worker_sync`: what the worker's lease thread calls, on a
thread, while the event loop that uses the backend may be blocked."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest

from qtasks.backends import Backend, TaskRecord

from .conftest import lease_expiry

pytestmark = pytest.mark.anyio


def record(name: str = "t") -> TaskRecord:
    now = time.time()
    return TaskRecord(
        uuid=str(uuid.uuid4()),
        task_name=name,
        priority=0,
        args=[],
        kwargs={},
        status="new",
        created_at=now,
        updated_at=now,
    )


async def test_extend_sync_from_a_thread_keeps_the_lease_while_the_loop_is_blocked(
    backend: Backend,
) -> None:
    await backend.enqueue([record()])
    (d,) = await backend.fetch("default", 1, 0.5, "w1", 0)
    stop = threading.Event()
    errors: list[BaseException] = []

    def renew() -> None:
        while not stop.wait(0.15):
            try:
                backend.extend_sync([d], 0.5)
            except BaseException as exc:  # reported below
                errors.append(exc)

    thread = threading.Thread(target=renew)
    thread.start()
    try:
        time.sleep(1.2)  # the loop is blocked: only the thread renews
    finally:
        stop.set()
        thread.join()
    assert errors == []
    await backend.recover_expired("default")
    assert await backend.fetch("default", 1, 30, "w2", 0) == []


async def test_extend_sync_is_fenced_by_the_lease_token(backend: Backend) -> None:
    lease_expiry(backend)
    r = record()
    await backend.enqueue([r])
    (stale,) = await backend.fetch("default", 1, 0.2, "w1", 0)
    await asyncio.sleep(0.3)
    await backend.recover_expired("default")
    (taken,) = await backend.fetch("default", 1, 0.3, "w2", 1.0)
    assert taken.record.uuid == r.uuid
    await asyncio.to_thread(backend.extend_sync, [stale], 30)  # the first holder, too late
    await asyncio.sleep(0.4)
    await backend.recover_expired("default")
    again = await backend.fetch("default", 1, 30, "w3", 1.0)
    assert [x.record.uuid for x in again] == [r.uuid]  # w2's lease ran out as it should


async def test_register_worker_sync_from_a_thread(backend: Backend) -> None:
    assert backend.capabilities.worker_registry
    info = {"pid": 1, "queue": "default"}
    await asyncio.to_thread(backend.register_worker_sync, "w-sync", info, 5.0)
    live = await backend.live_workers()
    assert any(w.get("pid") == 1 for w in live), live
