"""QTasks 1.7's documented call forms that no other test file exercises.

Each test names the form it keeps working; the forms already covered elsewhere (the
decorator options, routers, shared tasks, the test cases, Depends, Pydantic, State,
chains, stats, plugins and events) are tested in the files for those features. Both
facades run on the in-memory backend here: these tests are about the call, not the
storage.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import threading
import uuid as uuid_mod
from pathlib import Path
from typing import Any

import pytest

from qtasks.configs import QueueConfig
from qtasks.events import AsyncEvents, SyncEvents
from qtasks.exc import TaskPluginTriggerError
from qtasks.logs import Logger
from qtasks.plugins.base import BasePlugin

pytestmark = pytest.mark.anyio

LIMIT = 10.0


@pytest.fixture
def backend_kind() -> str:
    return "memory"


# --- §2.1 the constructor -----------------------------------------------------------------


async def test_constructor_takes_log_config_and_events(h: Any) -> None:
    """`QueueTasks(name, broker_url=, log=, config=, events=)`: all five are used."""
    events = AsyncEvents() if h.is_async else SyncEvents()
    seen: list[str] = []

    @events.on.starting()
    def starting(**kwargs: Any) -> None:
        seen.append("starting")

    log = Logger(h.name("log"), subname="mine")
    app = h.cls(
        name=h.name(),
        broker_url=h.url,
        log=log,
        config=QueueConfig(task_default_priority=4),
        events=events,
    )
    h.apps.append(app)
    assert app.events is events
    assert app.log.name == log.name  # the app logs through the logger it was given
    assert app.config.task_default_priority == 4

    @app.task
    def one() -> int:
        return 1

    assert one.priority == 4
    async with h.serving(app):
        done = await h.call(one.add_task, timeout=LIMIT)
    assert done is not None and done.returning == 1
    assert seen == ["starting"]


# --- §2.2 the app's internal-but-used methods ---------------------------------------------


async def test_registry_tasks_update_logs_and_update_configs(h: Any) -> None:
    """`app._registry_tasks()`, `app._update_logs(**kw)` and `app._update_configs(...)`
    are called by 1.7 code; the app keeps working and its logger changes."""
    app = h.app()
    assert app._registry_tasks() is None
    app._update_logs(subname="Renamed", default_level=logging.WARNING)
    assert app.log.subname == "Renamed"
    assert app.log.logger.level == logging.WARNING
    app._update_configs(app.config, "logs_default_level_server", logging.ERROR)
    assert app.log.logger.level == logging.ERROR


# --- §3.2 task handles built by hand, pre-built calls -----------------------------------------


async def test_task_handle_built_by_hand_enqueues_by_name(h: Any) -> None:
    """`AsyncTask(task_name=..., priority=..., app=app)` / `SyncTask(...)`: a handle for a
    task registered in another process, as QTasks 1.7 allowed."""
    from qtasks.registries import AsyncTask, SyncTask

    worker_app = h.app(h.name("svc"))

    @worker_app.task
    def remote(x: int) -> int:
        return x * 3

    client = h.app(h.name("svc"))
    cls = AsyncTask if h.is_async else SyncTask
    handle = cls(task_name="remote", priority=2, tags=["x"], extra={"k": 1}, app=client)
    assert (handle.task_name, handle.priority, handle.tags, handle.extra) == (
        "remote",
        2,
        ["x"],
        {"k": 1},
    )
    async with h.serving(worker_app):
        done = await h.call(handle.add_task, 5, timeout=LIMIT)
        prebuilt = await h.call(handle(7, timeout=LIMIT).add_task)
    assert done is not None and done.returning == 15 and done.priority == 2
    assert prebuilt is not None and prebuilt.returning == 21

    nameless = cls(app=client)
    with pytest.raises(ValueError, match="task_name"):
        await h.call(nameless.add_task, 1)
    with pytest.raises(TypeError, match="colour"):
        cls(task_name="remote", colour="red")


async def test_prebuilt_call_carries_the_task_priority(h: Any) -> None:
    """`task(*args)` builds an `(A)syncTaskCls` whose priority is the task's own unless
    given, as 1.7 printed it (`priority=0`, not `None`)."""
    app = h.app()

    @app.task(priority=3)
    def high(x: int) -> int:
        return x

    @app.task
    def plain(x: int) -> int:
        return x

    assert high(1).priority == 3
    assert high(1, priority=0).priority == 0
    assert plain(1).priority == 0
    assert "priority=0" in repr(plain(1))


# --- §3.3 / §3.5 waiting for results ---------------------------------------------------------


async def test_result_classes_with_and_without_an_app(h: Any) -> None:
    """`(A)syncResult(uuid=, app=, log=).result(timeout=)`; without `app` the process's
    last app is used; an unknown uuid gives None."""
    from qtasks.results import AsyncResult, SyncResult

    app = h.app()

    @app.task
    def add(a: int, b: int) -> int:
        return a + b

    cls = AsyncResult if h.is_async else SyncResult
    async with h.serving(app):
        queued = await h.call(add.add_task, 2, 3)
        given = await h.call(cls(uuid=queued.uuid, app=app, log=app.log).result, timeout=LIMIT)
        app._set_state()
        default = await h.call(cls(uuid=str(queued.uuid)).result, LIMIT)
        unknown = await h.call(cls(uuid=uuid_mod.uuid4(), app=app).result, timeout=0.5)
    assert given is not None and given.returning == 5
    assert default is not None and default.uuid == given.uuid
    assert unknown is None


async def test_task_wait_result_forms(h: Any) -> None:
    """`task.wait_result(timeout=)` (sync) and `await task.wait_result_async(timeout=)`."""
    app = h.app()

    @app.task
    def echo(x: str) -> str:
        return x

    async with h.serving(app):
        queued = await h.call(echo.add_task, "hi")
        app._set_state()
        if h.is_async:
            done = await queued.wait_result_async(timeout=LIMIT)
        else:
            done = queued.wait_result(timeout=LIMIT)
    assert done is not None and done.returning == "hi"


# --- §3.1 decode, as 1.7 callers wrote it -------------------------------------------------


async def test_decode_json_dumps_stores_the_value_not_the_text(h: Any) -> None:
    """`@app.task(decode=json.dumps)`: 1.7 stored the decoder's JSON text and parsed it
    on read, so `returning` is the value. Text that is not JSON stays a string (1.7's
    reads failed on it)."""
    app = h.app()

    @app.task(decode=json.dumps)
    def greet(name: str) -> str:
        return f"Hello, {name}!"

    @app.task(decode=json.dumps)
    def numbers() -> dict[str, list[int]]:
        return {"n": [1, 2]}

    @app.task(decode=str)
    def shout() -> str:
        return "HEY"

    async with h.serving(app):
        hello = await h.call(greet.add_task, "Ann", timeout=LIMIT)
        nums = await h.call(numbers.add_task, timeout=LIMIT)
        hey = await h.call(shout.add_task, timeout=LIMIT)
    assert hello is not None and hello.returning == "Hello, Ann!"
    assert nums is not None and nums.returning == {"n": [1, 2]}
    assert hey is not None and hey.returning == "HEY"


# --- §4.1 context methods, §4.12 plugin errors ---------------------------------------------


async def test_every_context_method_in_an_echo_task(h: Any) -> None:
    """`self.ctx`: get_logger(name=), get_config(), get_metadata(cache=), get_task(uuid),
    get_component(name), sleep(s) — all usable in an echo task (1.7 lost its app)."""
    app = h.app()
    found: dict[str, Any] = {}

    if h.is_async:

        @app.task(echo=True)
        async def inspect_ctx(self: Any) -> str:
            ctx = self.ctx
            found["logger"] = ctx.get_logger(name="Named").subname
            found["config"] = ctx.get_config() is app.config
            meta = await ctx.get_metadata(cache=True)
            found["meta"] = meta.task_name
            found["cached"] = (await ctx.get_metadata()) is meta
            found["task"] = (await ctx.get_task(meta.uuid)).status
            found["worker"] = ctx.get_component("worker") is app.worker
            await ctx.sleep(0.01)
            return str(ctx.task_uuid)

    else:

        @app.task(echo=True)
        def inspect_ctx(self: Any) -> str:
            ctx = self.ctx
            found["logger"] = ctx.get_logger(name="Named").subname
            found["config"] = ctx.get_config() is app.config
            meta = ctx.get_metadata(cache=True)
            found["meta"] = meta.task_name
            found["cached"] = ctx.get_metadata() is meta
            found["task"] = ctx.get_task(meta.uuid).status
            found["worker"] = ctx.get_component("worker") is app.worker
            ctx.sleep(0.01)
            return str(ctx.task_uuid)

    async with h.serving(app):
        done = await h.call(inspect_ctx.add_task, timeout=LIMIT)
    assert done is not None and done.status == "success", done and done.traceback
    assert done.returning == str(done.uuid)
    assert found == {
        "logger": "Named",
        "config": True,
        "meta": "inspect_ctx",
        "cached": True,
        "task": "process",
        "worker": True,
    }


async def test_plugin_error_and_its_exception_forms(h: Any) -> None:
    """`self.ctx.plugin_error(**kw)` and `raise TaskPluginTriggerError("reason")` (both
    in 1.7's examples) reach `task_executor_run_task_trigger_error`; a plugin's
    `{"result": ...}` becomes the task's result, no result leaves the task an error."""
    app = h.app()
    received: list[dict[str, Any]] = []

    class Rescue(BasePlugin):
        def start(self, *args: Any, **kwargs: Any) -> None: ...

        def stop(self, *args: Any, **kwargs: Any) -> None: ...

        def trigger(self, name: str, **kwargs: Any) -> dict[str, Any] | None:
            error = kwargs["e"]
            received.append({"args": error.args, "kwargs": error.kwargs})
            if error.kwargs.get("rescue"):
                return {"result": "rescued"}
            return None

    app.add_plugin(
        Rescue(), trigger_names=["task_executor_run_task_trigger_error"], component="worker"
    )

    @app.task(echo=True)
    def by_ctx(self: Any, rescue: bool) -> None:
        self.ctx.plugin_error(rescue=rescue)

    @app.task
    def by_raise() -> None:
        raise TaskPluginTriggerError("Test error")

    async with h.serving(app):
        rescued = await h.call(by_ctx.add_task, True, timeout=LIMIT)
        failed = await h.call(by_ctx.add_task, False, timeout=LIMIT)
        raised = await h.call(by_raise.add_task, timeout=LIMIT)
    assert rescued is not None and rescued.status == "success" and rescued.returning == "rescued"
    assert failed is not None and failed.status == "error"
    assert raised is not None and raised.status == "error" and "Test error" in raised.traceback
    assert {"args": ("Test error",), "kwargs": {}} in received
    assert TaskPluginTriggerError(reason="r").kwargs == {"reason": "r"}
    assert str(TaskPluginTriggerError(reason="r")) == "r"


# --- §2.2 run_forever, §7 the test cases --------------------------------------------------


async def test_run_forever_takes_num_workers_and_reset_config(h: Any, helpers: Any) -> None:
    """`app.run_forever(num_workers=10)` (the examples' form) and `reset_config=`."""
    app = h.app()

    @app.task
    def ok() -> str:
        return "ok"

    finished = threading.Event()

    def serve() -> None:
        try:
            app.run_forever(num_workers=3, reset_config=True)
        finally:
            finished.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        await helpers.eventually(lambda: h.call(app.ping), what="the worker to register")
        assert app.starter.num_workers == 3  # consumer loops of the running server
        done = await h.call(ok.add_task, timeout=LIMIT)
        assert done is not None and done.returning == "ok"
    finally:
        await h.stop(app)
    await helpers.wait_thread_event(finished)
    thread.join(LIMIT)


async def test_test_case_keyword_forms(h: Any) -> None:
    """`settings(test_config, awaiting=True)`, `start_in_background(starter=None,
    num_workers=2, reset_config=True)`, `add_task(name, *args, priority=, timeout=, **kw)`."""
    from qtasks.schemas.test import TestConfig
    from qtasks.tests import AsyncTestCase, SyncTestCase

    app = h.app()

    @app.task
    def scale(x: int, *, factor: int = 1) -> int:
        return x * factor

    case = (AsyncTestCase if h.is_async else SyncTestCase)(app, name="forms")
    case.settings(test_config=TestConfig.only_worker(plugins=True), awaiting=True)
    case.start_in_background(starter=None, num_workers=2, reset_config=True)
    try:
        done = await h.call(case.add_task, "scale", 4, priority=2, timeout=LIMIT, factor=5)
    finally:
        await h.call(case.stop)
    assert done is not None and done.returning == 20 and done.priority == 2


# --- §6 the CLI's stats command -----------------------------------------------------------


def test_stats_command_with_a_stats_app_of_ones_own(tmp_path: Path) -> None:
    """`qtasks -A module:app stats --stats-app module:obj inspect tasks`: the given stats
    object (sync or async, or a function making one) is inspected."""
    (tmp_path / "statsown.py").write_text(
        textwrap.dedent(
            """
            from qtasks.asyncio import QueueTasks
            from qtasks.stats import AsyncStats, SyncStats

            app = QueueTasks("stats-own", broker_url="memory://stats-own")

            @app.task(tags=["t"])
            async def mine() -> None: ...

            class Loud(SyncStats):
                def inspect(self):
                    print("inspected by Loud")
                    return super().inspect()

            loud = Loud(app)
            quiet = AsyncStats(app)

            def make():
                return Loud(app)
            """
        )
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "qtasks", "-A", "statsown:app", "stats", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    for target in ("statsown:loud", "statsown:make"):
        done = cli("--stats-app", target, "inspect", "tasks")
        assert done.returncode == 0, done.stderr
        assert "inspected by Loud" in done.stdout and "mine" in done.stdout
    done = cli("--stats-app", "statsown:quiet", "inspect", "tasks", "json=true")
    assert done.returncode == 0, done.stderr
    assert [t["name"] for t in json.loads(done.stdout)] == ["mine"]
    done = cli("--stats-app", "statsown:nothing", "inspect", "app")
    assert done.returncode != 0 and "nothing" in done.stderr


async def test_async_test_case_start_takes_the_1_7_keywords(url: str) -> None:
    """`await AsyncTestCase(app).start(loop=None, starter=None, num_workers=1,
    reset_config=True)` starts the worker in the running loop."""
    import qtasks.asyncio
    from qtasks.schemas.test import TestConfig
    from qtasks.tests import AsyncTestCase

    app = qtasks.asyncio.QueueTasks("case-start", broker_url=url)

    @app.task
    async def hello() -> str:
        return "hello"

    case = AsyncTestCase(app)
    case.settings(TestConfig.only_worker())
    await case.start(loop=None, starter=None, num_workers=1, reset_config=True)
    try:
        done = await case.add_task("hello", timeout=LIMIT)
    finally:
        await case.stop()
    assert done is not None and done.returning == "hello"


@pytest.mark.parametrize("facade", ["sync", "async"])
async def test_waiting_reads_through_the_get_hooks_and_the_end_statuses(facade: str) -> None:
    """QTasks 1.7's waiting read through `app.get` (so `qtasks_get` plugins changed what
    a waiter got) and stopped at the config's `result_statuses_end`."""
    import time as time_mod

    import qtasks
    import qtasks.asyncio
    from qtasks.plugins.base import BasePlugin

    class Replace(BasePlugin):
        def trigger(self, name: str, *args: Any, **kwargs: Any) -> Any:
            task = kwargs.get("task")
            if task is not None:
                task.returning = "replaced"
                return {"task": task}
            return None

    cls = qtasks.asyncio.QueueTasks if facade == "async" else qtasks.QueueTasks
    app = cls(f"wait-hooks-{facade}", broker_url=f"memory://wait-hooks-{facade}")
    app.add_plugin(Replace(), trigger_names=["qtasks_get"])

    @app.task
    def orig() -> str:
        return "orig"

    @app.task
    def slow() -> str:
        time_mod.sleep(2)
        return "late"

    if facade == "async":
        async with app.serve():
            done = await app.add_task("orig", timeout=10)
            app.config.result_statuses_end = ["success", "error", "cancel", "process"]
            started = time_mod.monotonic()
            early = await app.add_task("slow", timeout=10)
            waited = time_mod.monotonic() - started
    else:
        with app.serve():
            done = app.add_task("orig", timeout=10)
            app.config.result_statuses_end = ["success", "error", "cancel", "process"]
            started = time_mod.monotonic()
            early = app.add_task("slow", timeout=10)
            waited = time_mod.monotonic() - started
    assert done.returning == "replaced"
    assert early is not None and early.status == "process" and waited < 1.8
