"""The call patterns of QTasks 1.7's example programs, in programs of our own.

`test_original_examples.py` runs the original programs when a mirror of that
repository is at hand; these run everywhere. Each facade gets one app module written
the way the examples write theirs (settings assigned on `app.config`, a router and
shared tasks imported before the app, echo tasks that enqueue other tasks, generators
with a handler, Pydantic with `decode=json.dumps`, State, Depends, a worker plugin), a
worker started with `python -m qtasks -A module:app run`, and a client script in
another process that meets it through the default `./qtasks.db`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

LIMIT = 60.0

ROUTER_ASYNC = """
from qtasks import AsyncRouter

router = AsyncRouter()


@router.task(description="Router test task.")
async def router_test():
    return "router"
"""

SHARED = """
from qtasks import shared_task


def handler(item):
    return item * 10


@shared_task(echo=True, generate_handler=handler, description="shared generator")
def shared_gen(self, n: int):
    for i in range(n):
        yield i


@shared_task(awaiting=True)
async def shared_async():
    return "shared"
"""

ASYNC_APP = """
import json
import logging
from contextlib import asynccontextmanager
from typing import Annotated

import pydantic
import router_tasks
import shared_tasks

from qtasks.asyncio import QueueTasks
from qtasks.plugins import AsyncState
from qtasks.plugins.base import BasePlugin
from qtasks.plugins.depends import Depends, ScopeEnum
from qtasks.registries import AsyncTask
from qtasks.stats import AsyncStats

app = QueueTasks()
app.config.logs_default_level_server = logging.INFO
app.config.running_older_tasks = True
app.config.delete_finished_tasks = True
app.config.result_time_interval = 0.1

app.include_router(router_tasks.router)


class Rescue(BasePlugin):
    async def start(self, *args, **kwargs):
        return None

    async def stop(self, *args, **kwargs):
        return None

    async def trigger(self, name, **kwargs):
        return {"result": {"rescued": kwargs["e"].kwargs}}


app.add_plugin(Rescue(), trigger_names=["task_executor_run_task_trigger_error"], component="worker")


@app.task(name="test_num", description="Test task with a number")
def test_num(number: int):
    return number


@app.task(name="test_echo", echo=True)
async def test_echo(self: AsyncTask):
    task = await self.add_task(5, task_name="test_num", timeout=50)
    return task.returning * 2


async def plus_two(result):
    return result + 2


@app.task(echo=True, generate_handler=plus_two)
async def test_yield(self: AsyncTask, n: int):
    self.ctx.get_logger().info(self.ctx.task_uuid)
    for _ in range(n):
        n += 1
        yield n


class Item(pydantic.BaseModel):
    name: str
    value: int


@app.task(tags=["example"], decode=json.dumps)
async def example_pydantic(item: Item):
    return f"Hello, {item.name}! {item.value}"


class MyState(AsyncState):
    pass


@app.task
async def step1(state: MyState):
    await state.set("state", "await_phone")
    await state.update(step=1)
    return "ok"


@app.task(echo=True)
async def step2(self: AsyncTask, state: MyState):
    everything = await state.get_all()
    await state.clear()
    return everything


@asynccontextmanager
async def resource():
    yield 123


@app.task
async def with_dep(dep: Annotated[int, Depends(resource, scope=ScopeEnum.TASK)]):
    return dep


@app.task(echo=True, retry=3, retry_on_exc=[KeyError], decode=json.dumps, test="test")
async def test_echo_ctx(self: AsyncTask):
    self.ctx.get_logger().info(self.ctx.get_config())
    self.ctx.cancel("Test task cancelled")


@app.task(echo=True)
async def test_plugin(self: AsyncTask):
    self.ctx.plugin_error(why="asked")


@app.task
async def example_stats():
    inspect = await stats.inspect()
    return "example_pydantic" in inspect.tasks()


stats = AsyncStats(app=app)

if __name__ == "__main__":
    app.run_forever(num_workers=2)
"""

ASYNC_CLIENT = """
import asyncio
import json

import router_tasks
import shared_tasks
from based_app import (
    example_pydantic, example_stats, step1, step2, test_echo, test_echo_ctx, test_num,
    test_plugin, test_yield, with_dep,
)

from qtasks.utils.tasks.async_task_utils import AsyncTaskUtils


async def main():
    out = {}

    async def run(key, call):
        task = await call
        out[key] = [task.status, task.returning, getattr(task, "cancel_reason", None)]

    await run("num", test_num.add_task(5, timeout=50))
    await run("echo", test_echo.add_task(timeout=50))
    await run("yield", test_yield.add_task(5, timeout=50))
    await run("pyd_kw", example_pydantic.add_task("Test", value=42, timeout=50))
    await run("pyd_args", example_pydantic.add_task("Test", 42, timeout=50))
    await run("pyd_names", example_pydantic.add_task(name="Test", value=42, timeout=50))
    await run("step1", step1.add_task(timeout=50))
    await run("step2", step2.add_task(timeout=50))
    await run("dep", with_dep.add_task(timeout=50))
    await run("ctx", test_echo_ctx.add_task(timeout=50))
    await run("plugin", test_plugin.add_task(timeout=50))
    await run("stats", example_stats.add_task(timeout=50))
    await run("router", router_tasks.router_test.add_task(timeout=50))
    # a shared task without awaiting=True is a SyncTask: a plain call, even here
    task = shared_tasks.shared_gen.add_task(3, timeout=50)
    out["shared_gen"] = [task.status, task.returning, None]
    await run("shared_async", shared_tasks.shared_async.add_task(timeout=50))
    calls = [test_num(1, timeout=50), test_num(2, timeout=50)]
    out["gather"] = [t.returning for t in await asyncio.gather(*(c.add_task() for c in calls))]
    chain = AsyncTaskUtils.chain(test_num(7), test_num())
    out["chain"] = [t.returning for t in await chain.get(timeout=50)]
    print(json.dumps(out))


asyncio.run(main())
"""

SYNC_APP = """
import logging

import pydantic

from qtasks import QueueTasks, SyncRouter
from qtasks.plugins.testing.sync_test import SyncTestPlugin
from qtasks.registries import SyncTask

router = SyncRouter()


@router.task(description="Test router task.")
def router_test():
    return "router"


app = QueueTasks()
app.config.logs_default_level_server = logging.INFO
app.config.running_older_tasks = True

app.include_router(router)
app.add_plugin(
    SyncTestPlugin(),
    trigger_names=["worker_execute_before", "worker_remove_finished_task"],
    component="worker",
)


@app.task(name="test_num")
def test_num(number: int):
    return number


@app.task(name="test_echo", echo=True)
def test_echo(self: SyncTask):
    task = self.add_task(5, task_name="test_num", timeout=50)
    return task.returning + 1


@app.task(retry=2, retry_on_exc=[ZeroDivisionError])
def error_zero():
    return 1 / 0


def passthrough(result):
    return result


@app.task(generate_handler=passthrough, echo=True)
def test_yield(self: SyncTask, n: int):
    for _ in range(n):
        n += 1
        yield n


class Item(pydantic.BaseModel):
    name: str
    value: int


@app.task(echo=True, test=True)
def example_pydantic(self: SyncTask, item: Item):
    return f"Hello, {item.name}!"


@app.task(echo=True, max_time=1)
def example_error_timeout(self: SyncTask):
    self.ctx.sleep(3)
    return "This task took too long to complete."
"""

SYNC_CLIENT = """
import json

from based_app import app, error_zero, example_error_timeout, example_pydantic, test_yield

out = {}


def run(key, task):
    out[key] = [task.status, task.returning, getattr(task, "is_testing", None), task.retry]


run("num", app.add_task("test_num", 5, timeout=50))
run("echo", app.add_task("test_echo", timeout=50))
run("yield", test_yield.add_task(5, timeout=50))
run("pyd", example_pydantic.add_task("Test", 42, timeout=50))
run("pyd_kw", example_pydantic.add_task(name="Test", value=42, timeout=50))
run("timeout", example_error_timeout.add_task(timeout=50))
run("router", app.add_task("router_test", timeout=50))
run("retry", error_zero.add_task(timeout=50))
print(json.dumps(out))
"""


def _env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("QTASKS_BROKER_URL", None)  # ./qtasks.db, as the examples
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(workdir), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _run_program(workdir: Path, files: dict[str, str], worker_cmd: list[str]) -> dict[str, Any]:
    for name, source in files.items():
        (workdir / name).write_text(textwrap.dedent(source))
    log_path = workdir / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, *worker_cmd],
            cwd=workdir,
            env=_env(workdir),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + LIMIT
        while "Starting app" not in log_path.read_text(errors="replace"):
            assert worker.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.05)
        client = subprocess.run(
            [sys.executable, "client.py"],
            cwd=workdir,
            env=_env(workdir),
            capture_output=True,
            text=True,
            timeout=LIMIT * 2,
        )
        assert client.returncode == 0, client.stderr[-3000:]
        worker.send_signal(signal.SIGINT)
        assert worker.wait(LIMIT) == 0, log_path.read_text(errors="replace")[-3000:]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(LIMIT)
    result: dict[str, Any] = json.loads(client.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.timeout(240)
def test_async_example_patterns(tmp_path: Path) -> None:
    out = _run_program(
        tmp_path,
        {
            "router_tasks.py": ROUTER_ASYNC,
            "shared_tasks.py": SHARED,
            "based_app.py": ASYNC_APP,
            "client.py": ASYNC_CLIENT,
        },
        ["based_app.py"],  # the program's own __main__: app.run_forever(num_workers=2)
    )
    assert out["num"] == ["success", 5, None]
    assert out["echo"] == ["success", 10, None]
    assert out["yield"] == ["success", [8, 9, 10, 11, 12], None]
    for key in ("pyd_kw", "pyd_args", "pyd_names"):
        assert out[key] == ["success", "Hello, Test! 42", None], key
    assert out["step1"] == ["success", "ok", None]
    assert out["step2"] == ["success", {"state": "await_phone", "step": 1}, None]
    assert out["dep"] == ["success", 123, None]
    assert out["ctx"] == ["cancel", None, "Test task cancelled"]
    assert out["plugin"] == ["success", {"rescued": {"why": "asked"}}, None]
    assert out["stats"] == ["success", True, None]
    assert out["router"] == ["success", "router", None]
    assert out["shared_gen"] == ["success", [0, 10, 20], None]
    assert out["shared_async"] == ["success", "shared", None]
    assert out["gather"] == [1, 2]
    assert out["chain"] == [7, 7]


@pytest.mark.timeout(240)
def test_sync_example_patterns(tmp_path: Path) -> None:
    out = _run_program(
        tmp_path,
        {"based_app.py": SYNC_APP, "client.py": SYNC_CLIENT},
        ["-m", "qtasks", "-A", "based_app:app", "run"],
    )
    assert out["num"] == ["success", 5, None, None]
    assert out["echo"] == ["success", 6, None, None]
    assert out["yield"] == ["success", [6, 7, 8, 9, 10], None, None]
    # the test plugin marks the tasks declared with test=True
    assert out["pyd"] == ["success", "Hello, Test!", True, None]
    assert out["pyd_kw"] == ["success", "Hello, Test!", True, None]
    assert out["timeout"][0] == "error"
    assert out["router"] == ["success", "router", None, None]
    assert out["retry"][0] == "error" and out["retry"][3] == 0
