"""The NATS backend against a nats-server of its own, restarted mid-run: workers and
producers reconnect and nothing that was confirmed is lost."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from qtasks.asyncio import QueueTasks
from qtasks.backends import Completion, Delivery, TaskRecord
from qtasks.backends.nats import NatsBackend
from qtasks.configs import QueueConfig
from qtasks.exc import BackendUnavailableError
from qtasks.logs import Logger

from .nats_server import BINARY, PrivateNats

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not os.path.exists(BINARY), reason="no nats-server binary"),
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrivateNats]:
    srv = PrivateNats(tmp_path / "store")
    srv.start()
    yield srv
    srv.kill()


def make(url: str, **config: object) -> NatsBackend:
    cfg = QueueConfig()
    for key, value in config.items():
        setattr(cfg, key, value)
    return NatsBackend(url, namespace="private", config=cfg, log=Logger("nats-test"))


def rec(i: int, queue: str = "default") -> TaskRecord:
    now = time.time()
    return TaskRecord(str(uuid.uuid4()), "t", 0, [i], {}, "new", now, now, queue=queue)


def done(d: Delivery) -> Completion:
    r = d.record
    r.status, r.returning, r.updated_at = "success", r.args[0], time.time()
    return Completion(d, r)


async def test_restart_loses_nothing_and_a_waiting_fetch_resumes(server: PrivateNats) -> None:
    backend = make(server.url, lease_timeout=1.0)
    try:
        records = [rec(i) for i in range(50)]
        await backend.enqueue(records)
        leased = await backend.fetch("default", 20, 1.0, "w1", 0)  # short lease: "dies"
        assert len(leased) == 20
        await backend.complete([done(d) for d in leased[:10]])

        # A worker waiting on an empty queue while the server goes away and comes back.
        waiting = asyncio.create_task(backend.fetch("later", 5, 1.0, "w2", 20.0))
        await asyncio.sleep(0.1)
        await asyncio.to_thread(server.restart)
        late = rec(99, queue="later")
        await backend.enqueue([late])  # the producer's connection came back on its own
        got = await asyncio.wait_for(waiting, 15)
        assert [d.record.uuid for d in got] == [late.uuid]
        await backend.complete([done(d) for d in got])

        # Nothing lost: 10 final, 10 leased by the "dead" worker, 30 still queued; the
        # dead worker's leases run out and another worker gets them.
        rest: list[Delivery] = []
        deadline = time.monotonic() + 15
        while len(rest) < 40 and time.monotonic() < deadline:
            rest += await backend.fetch("default", 100, 30, "w3", 0.5)
        assert len(rest) == 40
        assert sorted(d.record.attempts for d in rest) == [1] * 30 + [2] * 10
        await backend.complete([done(d) for d in rest])
        finals = [await backend.get(r.uuid) for r in records]
        assert all(f is not None and f.status == "success" for f in finals)
        assert sorted(f.returning for f in finals if f) == list(range(50))
        assert (await backend.stats())["leased"] == 0
    finally:
        await backend.close()


async def test_workers_and_producers_reconnect_through_a_restart(server: PrivateNats) -> None:
    """An app serving tasks while the server restarts twice: every task whose add_task
    returned ends `success`, once."""
    app = QueueTasks(name=f"restart-{uuid.uuid4().hex[:6]}", broker_url=server.url)
    runs: dict[int, int] = {}

    @app.task
    async def square(x: int) -> int:
        runs[x] = runs.get(x, 0) + 1
        return x * x

    confirmed: dict[int, str] = {}
    async with app.serve():
        for i in range(120):
            if i in (40, 80):
                await asyncio.to_thread(server.restart)
            try:
                task = await square.add_task(i)
            except BackendUnavailableError:  # not confirmed: the caller knows
                continue
            confirmed[i] = str(task.uuid)
        assert len(confirmed) >= 100  # a publish waits for the reconnection
        for i, task_id in confirmed.items():
            result = await app.get(task_id)
            deadline = time.monotonic() + 30
            while (result is None or result.status != "success") and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                result = await app.get(task_id)
            assert result is not None and result.status == "success", (i, result)
            assert result.returning == i * i
    assert all(runs[i] == 1 for i in confirmed)


def test_a_wrong_port_is_a_clear_error_without_the_password(server: PrivateNats) -> None:
    backend = make(f"nats://user:secret@127.0.0.1:{server.port + 1}")
    with pytest.raises(BackendUnavailableError) as err:
        backend.get_sync("x")
    assert "***" in str(err.value) and "secret" not in str(err.value)
