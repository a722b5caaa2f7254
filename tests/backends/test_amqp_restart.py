"""RabbitMQ stopped and started again (`rabbitmqctl stop_app` / `start_app`) under a
running app: producers and the worker reconnect, and every task whose enqueue returned
(the broker confirmed it) finishes. This is the one test that stops the shared local
RabbitMQ, for a few seconds; `-m "not amqp_restart"` leaves it out."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid

import pytest

import qtasks.asyncio
from qtasks.exc import BackendUnavailableError

REDIS_URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

pytestmark = [pytest.mark.anyio, pytest.mark.amqp_restart]


def _ctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


async def test_a_broker_restart_loses_no_confirmed_task(amqp_url: str) -> None:
    app = qtasks.asyncio.QueueTasks(
        f"restart-{uuid.uuid4().hex[:8]}", broker_url=amqp_url, storage_url=REDIS_URL
    )
    ran: list[int] = []

    @app.task
    async def double(x: int) -> int:
        await asyncio.sleep(0.02)  # some are running when the broker goes
        ran.append(x)
        return 2 * x

    confirmed: dict[str, int] = {}
    refused = 0

    async def produce(stop: asyncio.Event) -> None:
        nonlocal refused
        i = 0
        while not stop.is_set() or i < 200:
            try:
                task = await double.add_task(i)
            except BackendUnavailableError:
                refused += 1  # not confirmed: the caller knows it was not queued
                await asyncio.sleep(0.1)
                continue
            confirmed[task.uuid] = i
            i += 1
            await asyncio.sleep(0.002)

    try:
        async with app.serve():
            stop = asyncio.Event()
            producer = asyncio.create_task(produce(stop))
            await asyncio.sleep(0.5)
            before = len(confirmed)
            await asyncio.to_thread(_ctl, "stop_app")
            try:
                await asyncio.sleep(1.0)
            finally:
                await asyncio.to_thread(_ctl, "start_app")
            stop.set()
            await asyncio.wait_for(producer, 30)
            deadline = time.monotonic() + 30
            for task_uuid, x in confirmed.items():
                done = await app.wait(task_uuid, timeout=max(0.1, deadline - time.monotonic()))
                assert done is not None and done.status == "success", (x, done)
                assert done.returning == 2 * x
        assert before > 0 and len(confirmed) > before  # produced on both sides of it
        assert set(ran) >= set(confirmed.values())
    finally:
        await app.flush_all()
        await app.backend.close()
