"""Decode before you take (`qtasks.core.ports`): a stored task that cannot be decoded is
dead-lettered with its stored text, and the good tasks around it are delivered.

Each case corrupts one stored entry the way a bad writer would, in the backend's own
format. The memory backend keeps Python objects that went through JSON on the way in:
nothing a writer can leave there is undecodable, so it has no case here. A pair (memory
broker, SQLite store) has its own test: its broker's copy of the task survives.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable

import pytest

from qtasks.backends import Backend, TaskRecord
from qtasks.core import ports
from qtasks.core.status import ERROR, NEW

from .conftest import REDIS_URL

pytestmark = pytest.mark.anyio

BAD = "{not json"  # what the bad writer leaves (no character JSON would escape)


def _sqlite_column(column: str) -> Callable[[Backend, str], None]:
    def corrupt(backend: Backend, task_uuid: str) -> None:
        store = getattr(backend, "store", backend)  # a pair's records are in its store
        with sqlite3.connect(store.path) as conn:  # type: ignore[attr-defined]
            changed = conn.execute(
                f"UPDATE qtasks_tasks SET {column}=? WHERE ns=? AND uuid=?",
                (BAD, backend.namespace, task_uuid),
            ).rowcount
        assert changed == 1

    return corrupt


def _redis_part(part: str) -> Callable[[Backend, str], None]:
    """A Redis task is `<JSON header>\\n<JSON body>` (backends/redis/codec.py)."""

    def corrupt(backend: Backend, task_uuid: str) -> None:
        import redis

        key = backend.prefix + "t:" + task_uuid  # type: ignore[attr-defined]
        client = redis.Redis.from_url(REDIS_URL)
        try:
            value = client.get(key)
            assert value is not None
            head, body = value.split(b"\n", 1)
            bad = BAD.encode()
            client.set(key, bad + b"\n" + body if part == "header" else head + b"\n" + bad)
        finally:
            client.close()

    return corrupt


CASES: dict[str, tuple[str, Callable[[Backend, str], None]]] = {
    "sqlite-args": ("sqlite", _sqlite_column("args")),
    "sqlite-kwargs": ("sqlite", _sqlite_column("kwargs")),
    "sqlite-extra": ("sqlite", _sqlite_column("extra")),
    "redis-header": ("redis", _redis_part("header")),
    "redis-body": ("redis", _redis_part("body")),
}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def backend_kind(case: str) -> str:
    """Overrides the contract fixture: the backends these cases corrupt."""
    return CASES[case][0]


def record(*args: object) -> TaskRecord:
    now = time.time()
    return TaskRecord(str(uuid.uuid4()), "t", 0, list(args), {}, NEW, now, now)


async def test_an_undecodable_task_is_dead_lettered_and_the_rest_delivered(
    backend: Backend, case: str
) -> None:
    assert isinstance(backend, ports.DeadLetters)
    good = [record("first"), record("second"), record("third")]
    bad = record("bad")
    await backend.enqueue([good[0], bad, good[1], good[2]])
    CASES[case][1](backend, bad.uuid)

    got = await backend.fetch("default", 10, 30, "w", 0)
    assert sorted(d.record.uuid for d in got) == sorted(r.uuid for r in good)
    assert sorted(d.record.args[0] for d in got) == ["first", "second", "third"]

    (letter,) = await backend.dead_letters()
    assert letter.uuid == bad.uuid and letter.queue == "default"
    assert letter.record is None and letter.raw is not None and BAD in letter.raw
    assert letter.reason
    stored = await backend.get(bad.uuid)
    assert stored is not None and stored.status == ERROR and stored.traceback
    assert "decod" in stored.traceback.lower()  # decode, decoding, undecodable...

    await backend.recover_expired("default")
    assert await backend.fetch("default", 10, 30, "w", 0) == []
    assert (await backend.stats())["queued"] == 0
    # no record to run: a requeue leaves it listed, a purge forgets it
    assert await backend.requeue_dead_letters([bad.uuid]) == 0
    assert [x.uuid for x in await backend.dead_letters()] == [bad.uuid]
    assert await backend.purge_dead_letters([bad.uuid]) == 1


async def test_a_pair_dead_letters_a_record_its_store_cannot_decode(tmp_path: object) -> None:
    """memory broker + SQLite store: the broker's copy of the task is what is kept (the
    store's text cannot be read through the result-store port), so it can be requeued."""
    from qtasks.backends import create_backend
    from qtasks.configs import QueueConfig
    from qtasks.logs import Logger

    pair = create_backend(
        f"memory://decode-{uuid.uuid4().hex[:8]}",
        namespace="decode",
        config=QueueConfig(),
        log=Logger("contract"),
        storage_url=f"sqlite:///{tmp_path}/store.db",
    )
    assert isinstance(pair, ports.DeadLetters)
    try:
        good = [record("first"), record("second"), record("third")]
        bad = record("bad")
        await pair.enqueue([good[0], bad, good[1], good[2]])
        _sqlite_column("args")(pair, bad.uuid)

        got = await pair.fetch("default", 10, 30, "w", 0)
        assert sorted(d.record.args[0] for d in got) == ["first", "second", "third"]
        (letter,) = await pair.dead_letters()
        assert letter.uuid == bad.uuid and "decode" in letter.reason
        assert letter.record is not None and letter.record.args == ["bad"]
        stored = await pair.get(bad.uuid)
        assert stored is not None and stored.status == ERROR and stored.traceback
        assert "decode" in stored.traceback
        assert await pair.fetch("default", 10, 30, "w", 0) == []

        assert await pair.requeue_dead_letters() == 1
        (again,) = await pair.fetch("default", 10, 30, "w", 0)
        assert again.record.uuid == bad.uuid and again.record.args == ["bad"]
    finally:
        await pair.purge()
        await pair.close()
