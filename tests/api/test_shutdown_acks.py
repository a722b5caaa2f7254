"""Shutdown while results are being stored: a finished task is never released back
to the queue (which would run it twice), even when storing takes a network round
trip. A backend with a slow `complete()` stands in for a remote server."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Sequence
from typing import Any

import anyio
import pytest

import qtasks
import qtasks.asyncio
from qtasks.backends.base import Completion
from qtasks.backends.memory import MemoryBackend
from qtasks.configs import QueueConfig
from qtasks.logs import Logger

pytestmark = pytest.mark.anyio

LIMIT = 10.0


class SlowCompleteBackend(MemoryBackend):
    """memory:// whose `complete()` awaits like a network call before storing."""

    delay = 0.2

    async def complete(self, completions: Sequence[Completion]) -> None:
        await asyncio.sleep(self.delay)
        await super().complete(completions)


@pytest.mark.parametrize("facade", ["sync", "async"])
async def test_stop_during_a_slow_ack_keeps_the_result(facade: str) -> None:
    name = f"slow-ack-{uuid.uuid4().hex[:8]}"
    config = QueueConfig(shutdown_grace=LIMIT)
    backend = SlowCompleteBackend(
        f"memory://{name}", namespace=name, config=config, log=Logger(name)
    )
    cls: Any = qtasks.asyncio.QueueTasks if facade == "async" else qtasks.QueueTasks
    app = cls(name, broker=backend, config=config)
    started, release = threading.Event(), threading.Event()
    runs: list[int] = []

    @app.task
    def once() -> str:
        runs.append(1)
        started.set()
        assert release.wait(LIMIT)
        return "stored"

    async def stop() -> None:
        if facade == "async":
            await app.stop()
        else:
            await anyio.to_thread.run_sync(app.stop)

    if facade == "async":
        await app.start()
        queued = await app.add_task("once")
    else:
        app.start_in_background()
        queued = app.add_task("once")
    assert await anyio.to_thread.run_sync(started.wait, LIMIT)
    async with anyio.create_task_group() as tg:
        tg.start_soon(stop)
        await anyio.sleep(0.05)
        release.set()  # the task finishes while the worker is stopping
    record = await backend.get(str(queued.uuid))
    assert record is not None
    assert record.status == "success" and record.returning == "stored", record
    # and it is not queued again: a new worker finds nothing to run
    if facade == "async":
        async with app.serve():
            await asyncio.sleep(0.3)
    else:
        with app.serve():
            await anyio.sleep(0.3)
    assert runs == [1]
    assert (await backend.get(str(queued.uuid))).status == "success"
