"""Several apps in one process (issue point 4): two apps with different names on the
same backend URL, both workers running, each isolated from the other."""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest

from qtasks.plugins.base import BasePlugin

pytestmark = pytest.mark.anyio

LIMIT = 10.0


class RecordingPlugin(BasePlugin):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.started_with: list[Any] = []
        self.stopped_with: list[Any] = []

    def start(self, *args: Any, **kwargs: Any) -> None:
        self.started_with.append(kwargs.get("app"))

    def stop(self, *args: Any, **kwargs: Any) -> None:
        self.stopped_with.append(kwargs.get("app"))


async def test_two_apps_same_url_run_only_their_own_tasks(h: Any) -> None:
    one = h.app(h.name("one"))
    two = h.app(h.name("two"))
    assert one.backend.url == two.backend.url
    ran: dict[str, list[int]] = {"one": [], "two": []}

    @one.task(name="same")
    def same_one(i: int) -> str:
        ran["one"].append(i)
        return f"one:{os.getpid()}"

    @two.task(name="same")
    async def same_two(i: int) -> str:
        ran["two"].append(i)
        return f"two:{os.getpid()}"

    @one.task
    def only_in_one() -> str:
        return "one only"

    async with h.serving(one, two):
        results_one = [await h.call(same_one.add_task, i, timeout=LIMIT) for i in range(5)]
        results_two = [await h.call(two.add_task, "same", i, timeout=LIMIT) for i in range(5)]
        by_name_one = await h.call(one.add_task, "same", 99, timeout=LIMIT)
        # app two does not know app one's task, even on the same URL
        missing = await h.call(two.add_task, "only_in_one", timeout=LIMIT)
        present = await h.call(one.add_task, "only_in_one", timeout=LIMIT)
    assert [r.returning for r in results_one] == [f"one:{os.getpid()}"] * 5
    assert [r.returning for r in results_two] == [f"two:{os.getpid()}"] * 5
    assert by_name_one.returning.startswith("one:")
    assert ran == {"one": [0, 1, 2, 3, 4, 99], "two": [0, 1, 2, 3, 4]}
    assert missing.status == "error" and "only_in_one" in missing.traceback
    assert present.status == "success"
    # each app's records live in its own namespace
    assert await h.call(two.get, results_one[0].uuid) is None
    assert await h.call(one.get, results_two[0].uuid) is None


async def test_two_apps_queues_are_independent(h: Any) -> None:
    one = h.app(h.name("q1"))
    two = h.app(h.name("q2"))

    @one.task(name="job")
    def job_one() -> str:
        return "one"

    @two.task(name="job")
    def job_two() -> str:
        return "two"

    # queued for app one while only app two's worker runs: two must not take it
    queued = await h.call(one.add_task, "job")
    async with h.serving(two):
        done_two = await h.call(two.add_task, "job", timeout=LIMIT)
        assert done_two.returning == "two"
        still = await h.call(one.get, queued.uuid)
        assert still.status == "new"
    async with h.serving(one):
        done_one = await h.call(one.wait, queued.uuid, LIMIT)
    assert done_one.status == "success" and done_one.returning == "one"


async def test_two_apps_configs_loggers_plugins_are_independent(h: Any) -> None:
    one = h.app(h.name("c1"), max_tasks_process=3)
    two = h.app(h.name("c2"), max_tasks_process=7)
    assert one.config is not two.config
    one.config.task_default_priority = 11
    one.config.my_dynamic = "only one"
    assert two.config.task_default_priority == 0
    assert not hasattr(two.config, "my_dynamic")

    # loggers: distinct stdlib loggers, levels set per app
    assert one.log.logger is not two.log.logger
    one.config.logs_default_level_server = logging.DEBUG
    two.config.logs_default_level_server = logging.ERROR
    assert one.log.logger.level == logging.DEBUG
    assert two.log.logger.level == logging.ERROR
    assert one.log.logger.isEnabledFor(logging.DEBUG)
    assert not two.log.logger.isEnabledFor(logging.WARNING)
    h.app(h.name("c3"))  # a third app does not re-level the others
    assert one.log.logger.level == logging.DEBUG and two.log.logger.level == logging.ERROR

    # plugins
    p1, p2 = RecordingPlugin("p1"), RecordingPlugin("p2")
    one.add_plugin(p1)
    two.add_plugin(p2, component="worker")
    assert p1 in one.plugins["Globals"] and one._component_plugins["worker"] == {}
    assert two.plugins == {} and p2 in two._component_plugins["worker"]["Globals"]

    @one.task
    def conc_one() -> None:
        return None

    @two.task
    def conc_two() -> None:
        return None

    async with h.serving(one, two):
        assert one.worker is not None and two.worker is not None
        assert one.worker is not two.worker
        assert one.worker.concurrency == 3 and two.worker.concurrency == 7
        assert one.worker.config is one.config and two.worker.config is two.config
        assert (await h.call(conc_one.add_task, timeout=LIMIT)).status == "success"
        assert (await h.call(conc_two.add_task, timeout=LIMIT)).status == "success"
        workers_one = await one.backend.live_workers()
        workers_two = await two.backend.live_workers()
        assert [w["app"] for w in workers_one] == [one.name]
        assert [w["app"] for w in workers_two] == [two.name]
    assert p1.started_with == [one] and p1.stopped_with == [one]
    assert p2.started_with == [two] and p2.stopped_with == [two]
    # tasks registered afterwards took their own app's default priority
    assert conc_one.priority == 11 and conc_two.priority == 0
    assert (await h.call(one.add_task, "unknown_here")).priority == 11
    assert (await h.call(two.add_task, "unknown_here")).priority == 0


async def test_flush_all_empties_only_its_own_app(h: Any) -> None:
    one = h.app(h.name("f1"))
    two = h.app(h.name("f2"))

    @two.task
    def kept() -> str:
        return "kept"

    gone = [await h.call(one.add_task, "anything", i) for i in range(3)]
    stays = await h.call(two.add_task, "kept")
    await h.call(one.flush_all)
    for task in gone:
        assert await h.call(one.get, task.uuid) is None
    assert (await h.call(two.get, stays.uuid)).status == "new"
    async with h.serving(one, two):
        done = await h.call(two.wait, stays.uuid, LIMIT)
        # nothing of app one is left to run
        assert one.worker.executed == 0
    assert done.returning == "kept"


async def test_sync_client_and_async_worker_meet_by_name(url: str, adopt: Any) -> None:
    """The infrastructure position: one facade enqueues by name, the other runs it."""
    import time

    import anyio

    import qtasks
    import qtasks.asyncio

    name = f"cross-{time.monotonic_ns()}"
    worker_app = adopt(qtasks.asyncio.QueueTasks(name, broker_url=url))
    client = adopt(qtasks.QueueTasks(name, broker_url=url))

    @worker_app.task
    async def shout(text: str) -> str:
        return text.upper()

    async with worker_app.serve():
        done = await anyio.to_thread.run_sync(lambda: client.add_task("shout", "hi", timeout=LIMIT))
        back = await worker_app.add_task("shout", "ho", timeout=LIMIT)
    assert done.status == "success" and done.returning == "HI"
    assert back.returning == "HO"
    assert client.get(back.uuid).returning == "HO"
