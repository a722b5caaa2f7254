"""SQLite specifics of decode-first: a row that cannot be decoded never blocks its
queue, whatever its place, and reading it names the fault."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from qtasks.backends.sqlite import SqliteBackend
from qtasks.configs import QueueConfig
from qtasks.core.models import TaskRecord
from qtasks.core.status import ERROR, NEW
from qtasks.exc import SerializationError
from qtasks.logs import Logger

pytestmark = pytest.mark.anyio


def record(*args: object) -> TaskRecord:
    now = time.time()
    return TaskRecord(str(uuid.uuid4()), "t", 0, list(args), {}, NEW, now, now)


@pytest.fixture
async def backend(tmp_path: Path) -> SqliteBackend:
    return SqliteBackend(
        f"sqlite:///{tmp_path}/q.db", namespace="ns", config=QueueConfig(), log=Logger("t")
    )


def corrupt(backend: SqliteBackend, task_uuid: str, column: str, text: str) -> None:
    with sqlite3.connect(backend.path) as conn:
        conn.execute(f"UPDATE qtasks_tasks SET {column}=? WHERE uuid=?", (text, task_uuid))


async def test_a_bad_row_at_the_head_of_the_queue_does_not_stop_a_fetch_of_one(
    backend: SqliteBackend,
) -> None:
    bad, good = record("bad"), record("good")
    await backend.enqueue([bad, good])
    corrupt(backend, bad.uuid, "args", '{"not": "a list"}')  # JSON, but not an array
    (d,) = await backend.fetch("default", 1, 30, "w", 0)
    assert d.record.uuid == good.uuid
    (letter,) = await backend.dead_letters()
    assert letter.uuid == bad.uuid and "args" in letter.reason and "array" in letter.reason
    assert letter.raw is not None and '"args":"{\\"not\\": \\"a list\\"}"' in letter.raw
    stored = await backend.get(bad.uuid)
    assert stored is not None and stored.status == ERROR
    assert stored.extra["dead_letter"] == letter.reason
    await backend.close()


async def test_reading_an_undecodable_row_names_the_fault(backend: SqliteBackend) -> None:
    bad = record("bad")
    await backend.enqueue([bad])
    corrupt(backend, bad.uuid, "kwargs", "[1, 2")
    with pytest.raises(SerializationError, match=f"{bad.uuid}.*kwargs"):
        await backend.get(bad.uuid)
    await backend.close()
