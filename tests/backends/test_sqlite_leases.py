"""SQLite leases are counted from when the fetch or the renewal holds the write lock:
a worker that waited for another writer must still get its whole lease, or a second
worker could take its tasks while it runs them."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from pathlib import Path

import pytest

from qtasks.backends.sqlite import SqliteBackend
from qtasks.configs import QueueConfig
from qtasks.core.models import TaskRecord
from qtasks.core.status import NEW
from qtasks.logs import Logger

pytestmark = pytest.mark.anyio

LOCK_SECONDS = 1.5
LEASE = 1.0


def record() -> TaskRecord:
    now = time.time()
    return TaskRecord(str(uuid.uuid4()), "t", 0, [], {}, NEW, now, now)


def hold_the_write_lock(path: Path, held: threading.Event) -> None:
    other = sqlite3.connect(path, isolation_level=None, timeout=30)
    other.execute("BEGIN IMMEDIATE")
    held.set()
    time.sleep(LOCK_SECONDS)
    other.execute("COMMIT")
    other.close()


def lease_left(path: Path, task_uuid: str) -> float:
    conn = sqlite3.connect(path)
    (until,) = conn.execute(
        "SELECT lease_until FROM qtasks_queue WHERE uuid=?", (task_uuid,)
    ).fetchone()
    conn.close()
    return float(until) - time.time()


async def test_a_lease_is_counted_from_when_the_write_lock_is_held(tmp_path: Path) -> None:
    path = tmp_path / "leases.db"
    backend = SqliteBackend(
        f"sqlite:///{path}", namespace="leases", config=QueueConfig(), log=Logger("t")
    )
    try:
        r = record()
        await backend.enqueue([r])
        held = threading.Event()
        locker = threading.Thread(target=hold_the_write_lock, args=(path, held))
        locker.start()
        held.wait()
        (d,) = await backend.fetch("default", 1, LEASE, "w", 0)  # waits for the lock
        assert lease_left(path, r.uuid) > LEASE / 2  # not already spent on the wait
        locker.join()

        held.clear()
        locker = threading.Thread(target=hold_the_write_lock, args=(path, held))
        locker.start()
        held.wait()
        await backend.extend([d], LEASE)
        assert lease_left(path, r.uuid) > LEASE / 2
        locker.join()
    finally:
        await backend.close()
