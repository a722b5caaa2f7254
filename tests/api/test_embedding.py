"""Embedding a worker in another program: start/stop, serve(), background threads,
a FastAPI lifespan, two apps in one process, graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

import qtasks
import qtasks.asyncio

pytestmark = pytest.mark.anyio

LIMIT = 10.0


async def test_start_and_stop(h: Any) -> None:
    app = h.app()

    @app.task
    def hello(name: str) -> str:
        return f"hello {name}"

    if h.is_async:
        await app.start()
        try:
            with pytest.raises(RuntimeError, match="already running"):
                await app.start()
            assert await app.ping() is True
            done = await hello.add_task("async", timeout=LIMIT)
        finally:
            await app.stop()
        assert await app.ping() is False
    else:
        app.start_in_background()
        try:
            with pytest.raises(RuntimeError, match="already running"):
                app.start_in_background()
            assert app.ping() is True
            done = hello.add_task("sync", timeout=LIMIT)
        finally:
            app.stop()
        assert app.ping() is False
    assert done.status == "success" and done.returning.startswith("hello ")
    # stopping again is harmless, and the app can be started again
    await h.stop(app)
    async with h.serving(app):
        again = await h.call(hello.add_task, "again", timeout=LIMIT)
    assert again.returning == "hello again"


async def test_serve_context_manager(h: Any) -> None:
    app = h.app()

    @app.task
    async def double(x: int) -> int:
        return 2 * x

    if h.is_async:
        async with app.serve() as served:
            assert served is app
            done = await double.add_task(4, timeout=LIMIT)
            assert await app.ping()
        assert not await app.ping()
    else:
        with app.serve() as served:
            assert served is app
            done = double.add_task(4, timeout=LIMIT)
            assert app.ping()
        assert not app.ping()
    assert done.returning == 8
    # tasks sent after the block wait in the queue
    queued = await h.call(double.add_task, 5)
    assert (await h.call(app.get, queued.uuid)).status == "new"


async def test_async_app_on_a_background_thread(url: str, adopt: Any) -> None:
    app = adopt(qtasks.asyncio.QueueTasks(f"bg-{time.monotonic_ns()}", broker_url=url))
    loop_threads: list[str] = []

    @app.task
    async def where() -> str:
        loop_threads.append(threading.current_thread().name)
        return "done"

    app.start_in_background()
    try:
        done = await where.add_task(timeout=LIMIT)
    finally:
        await app.stop()
    assert done.returning == "done"
    assert loop_threads and loop_threads[0] != threading.current_thread().name


async def test_stop_lets_a_running_task_finish(h: Any, helpers: Any) -> None:
    app = h.app(shutdown_grace=LIMIT)
    started, release = threading.Event(), threading.Event()

    @app.task
    def in_flight() -> str:
        started.set()
        assert release.wait(LIMIT)
        return "finished"

    await h.start(app)
    queued = await h.call(in_flight.add_task)
    await helpers.wait_thread_event(started)
    async with anyio.create_task_group() as tg:
        stopped = anyio.Event()

        async def stopper() -> None:
            if h.is_async:
                await app.stop()
            else:
                await anyio.to_thread.run_sync(app.stop)
            stopped.set()

        tg.start_soon(stopper)
        await anyio.sleep(0.1)
        assert not stopped.is_set()  # stop waits for the running task
        release.set()
        with anyio.fail_after(LIMIT):
            await stopped.wait()
    done = await h.call(app.get, queued.uuid)
    assert done.status == "success" and done.returning == "finished"


async def test_stop_releases_a_task_that_outlives_the_grace(h: Any, helpers: Any) -> None:
    app = h.app(shutdown_grace=0.1)
    started = threading.Event()
    runs: list[int] = []

    @app.task
    async def long_one() -> str:
        runs.append(1)
        started.set()
        if len(runs) == 1:
            await asyncio.sleep(LIMIT)
        return "second run"

    queued = await h.call(long_one.add_task)
    async with h.serving(app):
        await helpers.wait_thread_event(started)
    released = await h.call(app.get, queued.uuid)
    assert released.status == "new"  # back in the queue, not lost
    async with h.serving(app):
        done = await h.call(app.wait, queued.uuid, LIMIT)
    assert done.status == "success" and done.returning == "second run"
    assert len(runs) == 2


async def test_sync_and_async_apps_started_in_one_process(url: str, adopt: Any) -> None:
    stamp = time.monotonic_ns()
    sync_app = adopt(qtasks.QueueTasks(f"s-{stamp}", broker_url=url))
    async_app = adopt(qtasks.asyncio.QueueTasks(f"a-{stamp}", broker_url=url))

    @sync_app.task(name="who")
    def who_sync() -> str:
        return "sync app"

    @async_app.task(name="who")
    async def who_async() -> str:
        return "async app"

    sync_app.start_in_background()
    try:
        async with async_app.serve():
            a = await who_async.add_task(timeout=LIMIT)
            s = await anyio.to_thread.run_sync(lambda: who_sync.add_task(timeout=LIMIT))
            cross = await async_app.add_task("who", timeout=LIMIT)
    finally:
        sync_app.stop()
    assert a.returning == "async app" and cross.returning == "async app"
    assert s.returning == "sync app"


# --- FastAPI ----------------------------------------------------------------------------------


def _fastapi_app(h: Any, qapp: Any) -> Any:
    from fastapi import FastAPI

    @qapp.task
    async def add(a: int, b: int) -> int:
        return a + b

    if h.is_async:

        @contextlib.asynccontextmanager
        async def lifespan(_: Any) -> AsyncIterator[None]:
            async with qapp.serve():
                yield

        api = FastAPI(lifespan=lifespan)

        @api.get("/add/{a}/{b}")
        async def add_route(a: int, b: int) -> dict[str, Any]:
            task = await add.add_task(a, b, timeout=LIMIT)
            return {"status": task.status, "result": task.returning, "uuid": str(task.uuid)}

    else:

        @contextlib.asynccontextmanager
        async def lifespan(_: Any) -> AsyncIterator[None]:
            with qapp.serve():
                yield

        api = FastAPI(lifespan=lifespan)

        @api.get("/add/{a}/{b}")
        def add_route(a: int, b: int) -> dict[str, Any]:  # sync route: runs in a thread
            task = add.add_task(a, b, timeout=LIMIT)
            return {"status": task.status, "result": task.returning, "uuid": str(task.uuid)}

    return api


async def test_fastapi_lifespan_with_httpx(h: Any) -> None:
    import httpx

    qapp = h.app()
    api = _fastapi_app(h, qapp)
    async with api.router.lifespan_context(api):
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            t0 = time.monotonic()
            replies = [await client.get(f"/add/{i}/{i}") for i in range(5)]
            elapsed = time.monotonic() - t0
    for i, reply in enumerate(replies):
        assert reply.status_code == 200
        assert reply.json()["status"] == "success" and reply.json()["result"] == 2 * i
    assert elapsed < 3.0
    # the lifespan stopped the worker
    assert await h.call(qapp.ping) is False


def _test_client_round_trip(api: Any) -> Iterator[dict[str, Any]]:
    from fastapi.testclient import TestClient

    with TestClient(api) as client:
        for i in range(3):
            reply = client.get(f"/add/{i}/10")
            assert reply.status_code == 200
            yield reply.json()


# starlette warns that TestClient will move to `httpx2`: not ours to fix
@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated")
async def test_fastapi_lifespan_with_test_client(h: Any) -> None:
    qapp = h.app()
    api = _fastapi_app(h, qapp)
    bodies = await anyio.to_thread.run_sync(lambda: list(_test_client_round_trip(api)))
    assert [b["result"] for b in bodies] == [10, 11, 12]
    assert all(b["status"] == "success" for b in bodies)
    stored = await h.call(qapp.get, bodies[0]["uuid"])
    assert stored.returning == 10


async def test_repeated_start_stop_never_strands_a_task(h: Any) -> None:
    """Stopping interrupts a fetch in flight; nothing it leased may be stranded until the
    (default, 30 s) lease expires: every task finishes well within LIMIT."""
    app = h.app()

    @app.task
    async def ident(i: int) -> int:
        return i

    queued = []
    for round_ in range(20):
        await h.start(app)
        queued += [await h.call(ident.add_task, round_ * 10 + i) for i in range(8)]
        await h.stop(app)
    async with h.serving(app):
        results = [await h.call(app.wait, t.uuid, LIMIT) for t in queued]
    assert [r.status for r in results] == ["success"] * len(queued)
    assert [r.returning for r in results] == [t.args[0] for t in queued]


async def test_run_forever_blocks_until_stop(h: Any, helpers: Any) -> None:
    """The standalone position (what the CLI runs), here on a thread of this process."""
    app = h.app()

    @app.task
    def pid_of_worker() -> str:
        return threading.current_thread().name

    finished = threading.Event()

    def serve() -> None:
        try:
            app.run_forever(concurrency=2)  # not a coroutine, in both facades
        finally:
            finished.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        await helpers.eventually(lambda: h.call(app.ping), what="the worker to register")
        assert app.worker.concurrency == 2
        done = await h.call(pid_of_worker.add_task, timeout=LIMIT)
        assert done.status == "success"
        assert not finished.is_set()
    finally:
        await h.stop(app)  # app.stop() reaches a run_forever() of another thread
    await helpers.wait_thread_event(finished)
    thread.join(LIMIT)
    assert not thread.is_alive()


async def test_sync_test_case_start_blocks_until_stop(url: str, helpers: Any, adopt: Any) -> None:
    from qtasks.schemas.test import TestConfig
    from qtasks.tests import SyncTestCase

    app = adopt(qtasks.QueueTasks(f"tc-start-{time.monotonic_ns()}", broker_url=url))

    @app.task
    def one() -> int:
        return 1

    case = SyncTestCase(app)
    case.settings(TestConfig.full())
    thread = threading.Thread(target=case.start, daemon=True)
    thread.start()
    try:
        await helpers.eventually(
            lambda: anyio.to_thread.run_sync(app.ping), what="the worker to register"
        )
        done = await anyio.to_thread.run_sync(lambda: case.add_task("one", timeout=LIMIT))
        assert done.returning == 1
    finally:
        case.stop()
    thread.join(LIMIT)
    assert not thread.is_alive()
