"""Sending tasks and reading them back: add_task, pre-built calls, enqueue by name,
get(), the Task fields and statuses, waiting with a timeout."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid as uuid_mod
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest

from qtasks.app.task import Task
from qtasks.enums import TaskStatusEnum
from qtasks.enums.task_status import TaskStatusEnum as TaskStatusEnumDeep
from qtasks.registries.task import AsyncTaskCls, SyncTaskCls

pytestmark = pytest.mark.anyio

LIMIT = 10.0

TASK_FIELDS = [
    "status",
    "uuid",
    "priority",
    "task_name",
    "args",
    "kwargs",
    "created_at",
    "updated_at",
    "returning",
    "traceback",
    "retry",
    "retry_child_uuid",
    "retry_parent_uuid",
]


def test_task_schema_fields_in_reference_order() -> None:
    names = [f.name for f in dataclasses.fields(Task)]
    assert names[: len(TASK_FIELDS)] == TASK_FIELDS
    assert TaskStatusEnum is TaskStatusEnumDeep
    assert {s.value for s in TaskStatusEnum} == {"new", "process", "success", "error", "cancel"}


async def test_add_task_without_timeout_returns_new_task(h: Any) -> None:
    app = h.app()

    @app.task(priority=4)
    def echo_args(*args: Any, **kwargs: Any) -> Any:
        return [list(args), kwargs]

    before = datetime.now()
    task = await h.call(echo_args.add_task, 1, "two", flag=True)
    assert isinstance(task, Task)
    assert task.status == "new"
    assert isinstance(task.uuid, UUID)
    assert task.priority == 4
    assert task.task_name == "echo_args"
    assert list(task.args) == [1, "two"]
    assert task.kwargs == {"flag": True}
    assert isinstance(task.created_at, datetime) and isinstance(task.updated_at, datetime)
    assert abs((task.created_at - before).total_seconds()) < 5
    assert task.returning is None and task.traceback is None
    # the stored record says the same (no worker running)
    stored = await h.call(app.get, task.uuid)
    assert stored is not None and stored.status == "new" and stored.uuid == task.uuid
    assert stored.args == [1, "two"] and stored.kwargs == {"flag": True}


async def test_add_task_priority_timeout_and_kwargs(h: Any) -> None:
    app = h.app()

    @app.task(priority=5)
    def combine(a: int, b: int, *, scale: int = 1) -> int:
        return (a + b) * scale

    queued = await h.call(combine.add_task, 1, 2, priority=1, scale=10)
    assert queued.priority == 1  # explicit priority beats the task's
    assert queued.kwargs == {"scale": 10}
    async with h.serving(app):
        done = await h.call(combine.add_task, 3, 4, priority=0, timeout=LIMIT, scale=2)
        first = await h.call(app.wait, queued.uuid, LIMIT)
    assert done is not None
    assert done.status == "success" and done.returning == 14 and done.priority == 0
    assert done.args == [3, 4] and done.kwargs == {"scale": 2}
    assert first is not None and first.returning == 30


async def test_app_add_task_uses_registered_priority(h: Any) -> None:
    app = h.app(task_default_priority=9)

    @app.task(priority=2)
    def with_prio() -> None:
        return None

    assert (await h.call(app.add_task, "with_prio")).priority == 2
    # an unknown name gets the config default
    assert (await h.call(app.add_task, "not_here")).priority == 9


async def test_prebuilt_call(h: Any) -> None:
    app = h.app()

    @app.task
    def mul(a: int, b: int, *, plus: int = 0) -> int:
        return a * b + plus

    call = mul(6, 7, plus=1)
    assert isinstance(call, AsyncTaskCls if h.is_async else SyncTaskCls)
    assert call.task_name == "mul" and call.args == (6, 7) and call.kwargs == {"plus": 1}
    # building the call does not send anything
    async with h.serving(app):
        result = await h.call(call.add_task, timeout=LIMIT)
        sent = await h.call(mul(2, 3, priority=1, timeout=LIMIT).add_task)
    assert result is not None and result.status == "success" and result.returning == 43
    assert sent is not None and sent.returning == 6 and sent.priority == 1


async def test_prebuilt_call_without_task_is_an_error(h: Any) -> None:
    cls = AsyncTaskCls if h.is_async else SyncTaskCls
    unbound = cls(task_name="x", args=(1,))
    with pytest.raises(RuntimeError):
        await h.call(unbound.add_task)


async def test_enqueue_by_name_from_a_client_app_without_tasks(h: Any) -> None:
    """A client app with the worker's name and URL but no tasks enqueues by name."""
    name = h.name("svc")
    worker_app = h.app(name)

    @worker_app.task
    def remote_only(x: int) -> dict[str, int]:
        return {"double": x * 2}

    client = h.app(name)
    assert client.tasks == {}
    async with h.serving(worker_app):
        task = await h.call(client.add_task, "remote_only", 21, timeout=LIMIT)
        queued = await h.call(client.add_task, "remote_only", 1)
        assert queued.status == "new"
        done = await h.call(client.wait, queued.uuid, LIMIT)
    assert task is not None and task.status == "success" and task.returning == {"double": 42}
    assert done is not None and done.returning == {"double": 2}
    # the worker's app sees the same record
    again = await h.call(worker_app.get, task.uuid)
    assert again is not None and again.returning == {"double": 42}


async def test_get_by_uuid_and_str_and_unknown(h: Any) -> None:
    app = h.app()

    @app.task
    def ident(x: Any) -> Any:
        return x

    async with h.serving(app):
        task = await h.call(ident.add_task, {"k": [1, 2]}, timeout=LIMIT)
    assert task is not None
    by_uuid = await h.call(app.get, task.uuid)
    by_str = await h.call(app.get, str(task.uuid))
    assert isinstance(by_uuid, Task) and isinstance(by_str, Task)
    for got in (by_uuid, by_str):
        assert got.uuid == task.uuid and isinstance(got.uuid, UUID)
        assert got.status == "success"
        assert got.task_name == "ident"
        assert got.priority == 0
        assert got.args == [{"k": [1, 2]}]
        assert got.kwargs == {}
        assert got.returning == {"k": [1, 2]}
        assert got.traceback is None
        assert got.retry is None
        assert got.retry_child_uuid is None and got.retry_parent_uuid is None
        assert isinstance(got.created_at, datetime) and isinstance(got.updated_at, datetime)
        assert got.updated_at >= got.created_at
    assert await h.call(app.get, uuid_mod.uuid4()) is None
    assert await h.call(app.get, str(uuid_mod.uuid4())) is None
    with pytest.raises(ValueError, match="uuid"):
        await h.call(app.get, "not-a-uuid")


async def test_statuses_new_process_success_error_cancel(h: Any, helpers: Any) -> None:
    app = h.app()
    started, release = threading.Event(), threading.Event()

    @app.task
    def blocker() -> str:
        started.set()
        assert release.wait(LIMIT)
        return "released"

    @app.task
    def boom() -> None:
        raise RuntimeError("kaboom 42")

    waiting = await h.call(app.add_task, "blocker")
    assert (await h.call(app.get, waiting.uuid)).status == TaskStatusEnum.NEW
    cancelled_src = await h.call(app.add_task, "boom")
    cancelled = await h.call(app.cancel, cancelled_src.uuid, "not needed")
    assert cancelled is not None and cancelled.status == "cancel"
    assert cancelled.cancel_reason == "not needed"
    stored = await h.call(app.get, cancelled_src.uuid)
    assert stored.status == TaskStatusEnum.CANCEL and stored.cancel_reason == "not needed"
    try:
        async with h.serving(app):
            await helpers.wait_thread_event(started)
            running = await h.call(app.get, waiting.uuid)
            assert running.status == TaskStatusEnum.PROCESS
            release.set()
            done = await h.call(app.wait, waiting.uuid, LIMIT)
            failed = await h.call(app.add_task, "boom", timeout=LIMIT)
    finally:
        release.set()
    assert done.status == TaskStatusEnum.SUCCESS and done.returning == "released"
    assert failed.status == TaskStatusEnum.ERROR
    assert "RuntimeError: kaboom 42" in failed.traceback
    assert failed.returning is None
    # the cancelled task never ran
    assert (await h.call(app.get, cancelled_src.uuid)).status == "cancel"


async def test_retry_status_and_waiting_follows_the_retry(h: Any) -> None:
    app = h.app(retry_backoff=0.0)
    attempts: list[int] = []

    @app.task(retry=2, retry_on_exc=[ValueError])
    def flaky(n: int) -> int:
        attempts.append(n)
        if len(attempts) < 2:
            raise ValueError("first attempt fails")
        return n * 3

    async with h.serving(app):
        first = await h.call(flaky.add_task, 5)
        final = await h.call(app.wait, first.uuid, LIMIT)
    assert final is not None and final.status == "success" and final.returning == 15
    assert attempts == [5, 5]
    original = await h.call(app.get, first.uuid)
    assert original.status == "retry"
    assert original.retry == 2
    assert original.retry_child_uuid == str(final.uuid)
    assert "ValueError: first attempt fails" in original.traceback
    assert final.retry_parent_uuid == str(first.uuid)
    assert final.uuid != first.uuid


async def test_add_task_timeout_returns_none_once_it_passes(h: Any, helpers: Any) -> None:
    app = h.app()
    release = threading.Event()

    @app.task
    async def sleepy() -> str:
        await helpers.gate(release)
        return "late"

    try:
        async with h.serving(app):
            t0 = time.monotonic()
            result = await h.call(sleepy.add_task, timeout=0.3)
            elapsed = time.monotonic() - t0
            assert result is None
            assert 0.25 <= elapsed < 2.0, elapsed
            release.set()
    finally:
        release.set()


async def test_waiting_is_woken_not_polled(h: Any) -> None:
    """The original polled once a second; a round trip must be far below that."""
    app = h.app()

    @app.task
    def noop(i: int) -> int:
        return i

    @app.task
    async def anoop(i: int) -> int:
        return i

    async with h.serving(app):
        await h.call(noop.add_task, -1, timeout=LIMIT)  # warm up connections and threads
        timings = []
        for i in range(10):
            t0 = time.perf_counter()
            task = await h.call((noop if i % 2 else anoop).add_task, i, timeout=LIMIT)
            timings.append(time.perf_counter() - t0)
            assert task is not None and task.returning == i
    timings.sort()
    median = timings[len(timings) // 2]
    assert median < 0.1, timings
    assert timings[-1] < 1.0, timings  # not even the slowest waits out a 1 s poll


async def test_task_wait_result_uses_the_default_app(h: Any) -> None:
    app = h.app()

    @app.task
    def square(x: int) -> int:
        return x * x

    async with h.serving(app):
        queued = await h.call(square.add_task, 9)
        if h.is_async:
            done = await queued.wait_result_async(timeout=LIMIT)
        else:
            done = queued.wait_result(timeout=LIMIT)
    assert done is not None and done.status == "success" and done.returning == 81


async def test_wait_and_ping_edges(h: Any) -> None:
    app = h.app()
    t0 = time.monotonic()
    assert await h.call(app.wait, uuid_mod.uuid4(), LIMIT) is None  # unknown: no waiting
    assert time.monotonic() - t0 < 1.0
    assert await h.call(app.ping) is False  # no worker
    assert await h.call(app.ping, server=False) is True
