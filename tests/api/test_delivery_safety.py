"""The worker's safety net and redeliveries, through both facades on every backend:
whatever a task raises (any BaseException, an exception that cannot be printed) or
whatever fails around it (hooks, events, middlewares, encoding) ends that task with a
final record and the worker runs on; a task delivered past `max_deliveries` is
dead-lettered without running; a redelivery runs apart; a cancel request outlives the
worker that had the task.

A worker that "died" is played by a second app on the same URL that fetches with a
short lease and never reports back.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import threading
import time
import weakref
from typing import Any

import anyio
import pytest

import qtasks.asyncio
from qtasks.core.hooks import Hooks
from qtasks.exc import ConfigError

pytestmark = pytest.mark.anyio

LIMIT = 10.0
LEASE = 0.4


class Halt(BaseException):
    """A custom BaseException subclass, as some libraries define."""


class Unprintable(Exception):
    def __repr__(self) -> str:
        raise ValueError("repr is broken")

    def __str__(self) -> str:
        raise ValueError("str is broken")


class Unformattable(Exception):
    @property
    def __notes__(self) -> Any:  # read by traceback.format_exception
        raise RuntimeError("notes are broken")


async def die_with(h: Any, adopt: Any, app: Any, times: int = 1) -> int:
    """`times` workers in turn fetch every due task of `app` and die with it: their
    leases run out, so the next fetch of those tasks is a redelivery. Returns how many
    tasks the last one fetched."""
    corpse = adopt(qtasks.asyncio.QueueTasks(app.name, broker_url=h.url))
    got: list[Any] = []
    for _ in range(times):
        got = []
        deadline = time.monotonic() + LIMIT
        while not got:
            assert time.monotonic() < deadline, "nothing to fetch"
            got = await corpse.backend.fetch("default", 100, LEASE, "dead-worker", 0.5)
        await anyio.sleep(LEASE * 1.5)
    return len(got)


# --- the safety net ---------------------------------------------------------------------------


async def test_base_exceptions_end_their_task_and_the_worker_runs_on(h: Any) -> None:
    app = h.app()

    @app.task
    def argparse_exit() -> None:
        argparse.ArgumentParser(prog="tool").parse_args(["--no-such-option"])

    @app.task
    async def interrupted_async() -> None:
        raise KeyboardInterrupt("pressed inside the task")

    @app.task
    def interrupted_sync() -> None:
        raise KeyboardInterrupt("pressed inside the sync task")

    @app.task
    async def halted() -> None:
        raise Halt("custom base exception")

    @app.task
    def exits_sync() -> None:
        raise SystemExit(3)

    @app.task
    async def cancels_itself() -> None:
        raise asyncio.CancelledError("the task's own")

    @app.task
    def cancels_itself_sync() -> None:
        raise asyncio.CancelledError("the sync task's own")

    @app.task
    async def cancels_its_asyncio_task() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(1)

    @app.task
    def fine(x: int) -> int:
        return x

    failing = {
        argparse_exit: "SystemExit: 2",
        interrupted_async: "KeyboardInterrupt: pressed inside the task",
        interrupted_sync: "KeyboardInterrupt: pressed inside the sync task",
        halted: "Halt: custom base exception",
        exits_sync: "SystemExit: 3",
        cancels_itself: "CancelledError: the task's own",
        cancels_itself_sync: "CancelledError: the sync task's own",
        cancels_its_asyncio_task: "CancelledError",
    }
    async with h.serving(app):
        queued = {task: await h.call(task.add_task) for task in failing}
        done = {task: await h.call(app.wait, q.uuid, LIMIT) for task, q in queued.items()}
        after = [await h.call(fine.add_task, i, timeout=LIMIT) for i in range(3)]
        assert app.worker.executed == len(failing) + 3
    for task, text in failing.items():
        record = done[task]
        assert record is not None and record.status == "error", (task, record)
        assert text in record.traceback, (task, record.traceback)
        assert (await h.call(app.get, record.uuid)).status == "error"
    assert [t.status for t in after] == ["success"] * 3


async def test_an_exception_that_cannot_be_printed_still_ends_its_task(
    h: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = h.app()

    @app.task
    async def unprintable() -> None:
        raise Unprintable()

    @app.task
    def unprintable_sync() -> None:
        raise Unprintable()

    @app.task
    def unformattable() -> None:
        raise Unformattable("x")

    async with h.serving(app):
        a = await h.call(unprintable.add_task, timeout=LIMIT)
        s = await h.call(unprintable_sync.add_task, timeout=LIMIT)
        f = await h.call(unformattable.add_task, timeout=LIMIT)
    for task in (a, s):
        assert task is not None and task.status == "error"
        assert task.traceback.startswith("Traceback") and "Unprintable" in task.traceback
    assert f is not None and f.status == "error"
    assert "<unprintable Unformattable: formatting the exception failed with RuntimeError>" in (
        f.traceback
    )
    assert "in unformattable" in f.traceback  # the frames that could be had
    assert "<unprintable Unprintable: repr failed with ValueError>" in caplog.text


class FailingHooks(Hooks):
    """Fails the finishing hooks of the tasks named after them."""

    def worker_remove_finished_task(self, **kw: Any) -> Any:
        name = kw["task_broker"].task_name
        if name == "hook_interrupts":
            raise KeyboardInterrupt("from a hook")
        if name == "unstorable":
            return {"model": {"extra": {"handle": object()}}}
        return None

    def worker_add(self, **kw: Any) -> Any:
        if kw["task_name"] == "fetch_hook_halts":
            raise Halt("from a fetch hook")
        return None

    def broker_remove_finished_task(self, **kw: Any) -> Any:
        if kw["model"].task_name == "store_hook_halts":
            raise Halt("from a store hook")
        return None


class ExitingMiddleware:
    def __init__(self, executor: Any) -> None:
        self.executor = executor

    def __call__(self) -> None:
        raise SystemExit("from a middleware")


async def test_failures_around_a_task_end_only_that_task(h: Any) -> None:
    app = h.app()
    app.add_plugin(FailingHooks())

    @app.events.on.task_success()
    def on_success(**kw: Any) -> None:
        if kw["task_func"].name == "event_halts":
            raise Halt("from an event handler")

    def define(name: str, **options: Any) -> Any:
        def body() -> str:
            return name

        return app.task(name=name, **options)(body)

    names = ["hook_interrupts", "unstorable", "store_hook_halts", "event_halts", "fetch_hook_halts"]
    tasks = {name: define(name) for name in names}
    tasks["middleware_exits"] = define("middleware_exits", middlewares_before=[ExitingMiddleware])
    fine = define("fine")
    async with h.serving(app):
        queued = {name: await h.call(t.add_task) for name, t in tasks.items()}
        queued["fine"] = await h.call(fine.add_task)
        done = {name: await h.call(app.wait, q.uuid, LIMIT) for name, q in queued.items()}
    assert done["fine"].status == "success" and done["fine"].returning == "fine"
    expected = {
        "hook_interrupts": "KeyboardInterrupt: from a hook",
        "unstorable": "could not be stored",
        "store_hook_halts": "Halt: from a store hook",
        "event_halts": "Halt: from an event handler",
        "fetch_hook_halts": "Halt: from a fetch hook",
        "middleware_exits": "SystemExit: from a middleware",
    }
    for name, text in expected.items():
        record = done[name]
        assert record is not None and record.status == "error", (name, record)
        assert text in record.traceback, (name, record.traceback)
        assert record.returning is None


async def test_a_failed_task_does_not_keep_its_locals_alive(h: Any) -> None:
    app = h.app(max_tasks_process=1)
    refs: list[weakref.ref[Any]] = []

    class Big:
        def __init__(self) -> None:
            self.payload = bytearray(1 << 20)

    @app.task
    def fails_holding_a_megabyte() -> None:
        big = Big()
        refs.append(weakref.ref(big))
        raise ValueError("failed with a large local")

    async with h.serving(app):
        for _ in range(3):
            done = await h.call(fails_holding_a_megabyte.add_task, timeout=LIMIT)
            assert done.status == "error" and "large local" in done.traceback
        gc.collect()
        assert [ref() for ref in refs] == [None, None, None]


# --- max_deliveries ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, "3", 1.5, True, None])
def test_max_deliveries_is_checked_at_decoration(bad: Any) -> None:
    app = qtasks.QueueTasks("md", broker_url="memory://md-check")
    with pytest.raises(ConfigError, match=r"max_deliveries must be an int >= 1.*max_deliveries=3"):

        @app.task(max_deliveries=bad)
        def task() -> None: ...

    @app.task(max_deliveries=1)
    def ok() -> None: ...


async def test_a_task_delivered_past_max_deliveries_is_dead_lettered(h: Any, adopt: Any) -> None:
    app = h.app(lease_timeout=5)
    ran: list[str] = []

    @app.task(max_deliveries=2)
    def fragile(tag: str) -> str:
        ran.append(tag)
        return tag

    @app.task
    def sturdy(tag: str) -> str:  # the config's max_deliveries (5)
        ran.append(tag)
        return tag

    doomed = await h.call(fragile.add_task, "doomed")
    survivor = await h.call(sturdy.add_task, "survivor")
    assert await die_with(h, adopt, app, times=2) == 2
    async with h.serving(app):
        dead = await h.call(app.wait, doomed.uuid, LIMIT)
        alive = await h.call(app.wait, survivor.uuid, LIMIT)
    reason = (
        "delivered 3 times without its worker reporting back "
        "(the worker died or lost its lease each time); max_deliveries=2"
    )
    assert dead.status == "error" and dead.traceback == reason
    assert dead.dead_letter == reason and dead.returning is None
    assert alive.status == "success" and ran == ["survivor"]  # the doomed body never ran
    stored = await h.call(app.get, doomed.uuid)
    assert stored.status == "error" and stored.extra["dead_letter"] == reason


# --- redeliveries run apart -------------------------------------------------------------------


async def test_redeliveries_run_alone_and_first_deliveries_around_them(h: Any, adopt: Any) -> None:
    app = h.app(max_tasks_process=4, lease_timeout=5)
    lock = threading.Lock()
    spans: dict[str, list[tuple[float, float]]] = {}

    @app.task
    def work(tag: str) -> str:
        start = time.monotonic()
        time.sleep(0.15)
        with lock:
            spans.setdefault(tag, []).append((start, time.monotonic()))
        return tag

    redelivered = [await h.call(work.add_task, f"again{i}") for i in range(2)]
    assert await die_with(h, adopt, app) == 2
    first = [await h.call(work.add_task, f"first{i}") for i in range(4)]
    async with h.serving(app):
        done = [await h.call(app.wait, t.uuid, LIMIT) for t in redelivered + first]
        late = await h.call(work.add_task, "late", timeout=LIMIT)
    assert [d.status for d in done] == ["success"] * 6 and late.status == "success"
    assert all(len(runs) == 1 for runs in spans.values()), spans  # each ran once here
    for tag in ("again0", "again1"):
        (alone,) = spans[tag]
        for other, runs in spans.items():
            if other != tag:
                (span,) = runs
                assert span[1] <= alone[0] or span[0] >= alone[1], (tag, other, spans)
    firsts = [spans[f"first{i}"][0] for i in range(4)]
    assert max(s for s, _ in firsts) < min(e for _, e in firsts)  # these ran together


# --- cancel outlives the worker ---------------------------------------------------------------


async def test_a_cancel_requested_before_the_worker_died_is_honoured(h: Any, adopt: Any) -> None:
    app = h.app(lease_timeout=5)
    ran: list[str] = []

    @app.task
    def work(tag: str) -> str:
        ran.append(tag)
        return tag

    queued = await h.call(work.add_task, "cancelled")
    corpse = adopt(qtasks.asyncio.QueueTasks(app.name, broker_url=h.url))
    got = await corpse.backend.fetch("default", 10, LEASE, "dying-worker", 1.0)
    assert [d.record.uuid for d in got] == [str(queued.uuid)]
    asked = await h.call(app.cancel, queued.uuid, "not needed any more")
    assert asked is not None and asked.status == "process"  # a request for its worker
    await anyio.sleep(LEASE * 1.5)  # ...which died without acting on it
    async with h.serving(app):
        done = await h.call(app.wait, queued.uuid, LIMIT)
        other = await h.call(work.add_task, "other", timeout=LIMIT)
    assert done.status == "cancel" and done.cancel_reason == "not needed any more"
    assert other.status == "success" and ran == ["other"]


async def test_a_cancel_requested_while_a_redelivery_waits_is_honoured(
    h: Any, adopt: Any, helpers: Any
) -> None:
    app = h.app(lease_timeout=5)
    ran: list[str] = []
    started, release = threading.Event(), threading.Event()

    @app.task
    def work(tag: str) -> str:
        ran.append(tag)
        return tag

    @app.task
    def blocker() -> str:
        started.set()
        release.wait(LIMIT)
        return "released"

    queued = await h.call(work.add_task, "waiting")
    assert await die_with(h, adopt, app) == 1
    block = await h.call(blocker.add_task, priority=-1)  # fetched first: it runs first
    try:
        async with h.serving(app):
            await helpers.wait_thread_event(started)
            deadline = time.monotonic() + LIMIT
            while app.worker._apart is None:  # the redelivery was fetched and waits apart
                assert time.monotonic() < deadline
                await anyio.sleep(0.01)
            asked = await h.call(app.cancel, queued.uuid, "changed my mind")
            assert asked is not None and asked.status == "process"
            release.set()
            done = await h.call(app.wait, queued.uuid, LIMIT)
            blocked = await h.call(app.wait, block.uuid, LIMIT)
    finally:
        release.set()
    assert blocked.status == "success"
    assert done.status == "cancel" and done.cancel_reason == "changed my mind"
    assert ran == []


async def test_a_stop_while_a_redelivery_runs_apart_keeps_the_grace_period(
    h: Any, adopt: Any, helpers: Any
) -> None:
    app = h.app(lease_timeout=5, shutdown_grace=0.3)
    started = threading.Event()

    @app.task
    async def long_job() -> str:
        started.set()
        await asyncio.sleep(30)
        return "never"

    queued = await h.call(long_job.add_task)
    assert await die_with(h, adopt, app) == 1
    async with h.serving(app):
        await helpers.wait_thread_event(started)
        t0 = time.monotonic()
    assert time.monotonic() - t0 < 5  # the grace period, not the task's 30 s
    record = await h.call(app.get, queued.uuid)
    assert record.status == "new"  # given back to the queue
