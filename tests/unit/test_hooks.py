"""Typed hooks and their runner: who listens is known without calling anything, typed and
QTasks 1.7 plugins both work, a failing plugin is isolated, `HookAbort` fails the task."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest

import qtasks
from qtasks.core.hooks import GLOBAL_TRIGGER, HOOK_NAMES, HookRunner, Hooks, PluginTable
from qtasks.exc import HookAbort
from qtasks.logs import Logger
from qtasks.plugins.base import BasePlugin


def runner(**tables: PluginTable) -> HookRunner:
    names = ("app", "worker", "broker", "storage", "global_config", "starter")
    return HookRunner({n: tables.get(n, PluginTable()) for n in names}, Logger("hooks-test"))


class Typed(Hooks):
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def worker_execute_before(self, **kw: Any) -> dict[str, Any]:
        self.seen.append(kw)
        return {"model": "changed"}


def test_every_trigger_name_of_the_original_is_a_hook() -> None:
    for name in (
        "qtasks_add_task_before_broker",
        "broker_remove_finished_task",
        "storage_add_process",
        "global_config_set_status",
        "starter_start",
        "worker_task_error_retry",
        "task_executor_after_execute_result_replace",
        "stats_inspect",
    ):
        assert name in HOOK_NAMES


def test_nobody_listens_until_a_plugin_is_added_and_after_it_is_removed() -> None:
    worker = PluginTable()
    hooks = runner(worker=worker)
    assert hooks.active == frozenset()
    worker.add(Typed(), ["worker_execute_before"])
    assert hooks.listens("worker_execute_before") and not hooks.listens("worker_start")
    worker.add(BasePlugin(), [GLOBAL_TRIGGER])
    assert hooks.listens("worker_start") and hooks.listens("task_executor_decode")
    assert not hooks.listens("broker_start")  # "Globals" covers its own component only
    worker.clear()
    assert hooks.active == frozenset()


def test_typed_and_original_plugins_change_what_later_ones_see() -> None:
    class Original(BasePlugin):
        def trigger(self, name: str, **kw: Any) -> dict[str, Any]:
            return {"model": kw["model"] + "+original"}

    typed = Typed()
    worker = PluginTable()
    worker.add(typed, ["worker_execute_before"])
    worker.add(Original(), ["worker_execute_before"])
    changes = asyncio.run(runner(worker=worker).run("worker_execute_before", model="m"))
    assert typed.seen == [{"model": "m"}]
    assert changes == {"model": "changed+original"}


def test_a_failing_plugin_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Hooks):
        def worker_execute_before(self, **kw: Any) -> None:
            raise RuntimeError("boom")

    worker = PluginTable()
    worker.add(Broken(), ["worker_execute_before"])
    worker.add(Typed(), ["worker_execute_before"])
    with caplog.at_level(logging.ERROR):
        changes = runner(worker=worker).run_sync("worker_execute_before", model="m")
    assert changes == {"model": "changed"}
    assert "Broken" in caplog.text and "worker_execute_before" in caplog.text


def test_hook_abort_propagates() -> None:
    class Abort(Hooks):
        def worker_execute_before(self, **kw: Any) -> None:
            raise HookAbort("no") from ValueError("bad input")

    worker = PluginTable()
    worker.add(Abort(), ["worker_execute_before"])
    with pytest.raises(HookAbort):
        runner(worker=worker).run_sync("worker_execute_before")


def test_a_typed_plugin_listens_to_the_hooks_it_overrides() -> None:
    name = f"hooks-{uuid.uuid4().hex[:8]}"
    app = qtasks.QueueTasks(name, broker_url=f"memory://{name}")
    seen: list[str] = []

    class Audit(BasePlugin):
        def qtasks_add_task_before_broker(self, **kw: Any) -> dict[str, Any]:
            seen.append(kw["task_name"])
            return {"priority": 7}

        def worker_execute_after(self, **kw: Any) -> None:
            seen.append(f"done {kw['model'].status}")

    app.add_plugin(Audit())

    @app.task
    def add(a: int, b: int) -> int:
        return a + b

    with app.serve():
        task = add.add_task(1, 2, timeout=10)
    assert task is not None and task.returning == 3 and task.priority == 7
    assert seen == ["add", "done success"]
    assert app.hooks.listens("worker_execute_after")
    assert not app.hooks.listens("worker_execute_before")


def test_an_injector_failure_fails_only_that_task() -> None:
    """A plugin that aborts in `task_executor_args_replace` fails the task with its cause."""
    name = f"hooks-{uuid.uuid4().hex[:8]}"
    app = qtasks.QueueTasks(name, broker_url=f"memory://{name}")

    class Refuse(BasePlugin):
        def task_executor_args_replace(self, **kw: Any) -> None:
            if kw["args"] == [0]:
                raise HookAbort("refused") from ValueError("zero is not allowed")

    app.add_plugin(Refuse(), component="worker")

    @app.task
    def inverse(x: int) -> float:
        return 1 / x

    with app.serve():
        bad = inverse.add_task(0, timeout=10)
        good = inverse.add_task(4, timeout=10)
    assert bad is not None and bad.status == "error"
    assert "ValueError: zero is not allowed" in bad.traceback
    assert "ZeroDivisionError" not in bad.traceback
    assert good is not None and good.returning == 0.25


@pytest.mark.parametrize(
    ("hook", "status"),
    [
        ("worker_execute_before", "error"),
        ("worker_run_task_before", "error"),
        ("task_executor_args_replace", "error"),
        ("task_executor_decode", "error"),
        ("broker_add_worker", "success"),
        ("worker_add", "success"),
        ("task_executor_task_close", "success"),
        ("worker_remove_finished_task", "success"),
        ("worker_execute_after", "success"),
    ],
)
def test_hook_abort_fails_the_task_only_before_its_outcome(hook: str, status: str) -> None:
    """Before the outcome, a `HookAbort` fails that task with its cause; anywhere else it
    is logged like any plugin error. The worker never stops over it."""
    name = f"abort-{uuid.uuid4().hex[:8]}"
    app = qtasks.QueueTasks(name, broker_url=f"memory://{name}")

    def abort(self: Any, **kw: Any) -> None:
        raise HookAbort("refused") from LookupError("no such thing")

    app.add_plugin(type("Abort", (BasePlugin,), {hook: abort})())

    @app.task
    def job() -> str:
        return "ran"

    with app.serve():
        first = job.add_task(timeout=10)
        second = job.add_task(timeout=10)
    for task in (first, second):
        assert task is not None and task.status == status
        if status == "error":
            assert "LookupError: no such thing" in task.traceback


def test_a_plugin_cache_is_given_back_on_the_next_call() -> None:
    """QTasks 1.7's plugin_cache: a plugin returns {"plugin_cache": value} and receives
    `plugin_cache=value` the next time; the key itself is not a change."""
    from qtasks.core.hooks import HookRunner, PluginTable
    from qtasks.plugins.base import BasePlugin

    seen: list[Any] = []

    class Counter(BasePlugin):
        def trigger(self, name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
            seen.append(kwargs.get("plugin_cache"))
            return {"plugin_cache": (kwargs.get("plugin_cache") or 0) + 1}

    table = PluginTable()
    table["worker_execute_after"] = [Counter()]
    runner = HookRunner({"worker": table}, None)
    for _ in range(3):
        changes = runner.run_sync("worker_execute_after", model=None)
        assert "plugin_cache" not in changes
    assert seen == [None, 1, 2]
