"""Plugins, middlewares and events, through both facades and every backend."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

import pytest

from qtasks.middlewares import TaskMiddleware
from qtasks.plugins.base import BasePlugin

pytestmark = pytest.mark.anyio

LIMIT = 10.0


class Recorder(BasePlugin):
    """Records every trigger it sees, with the keyword names it was given."""

    def __init__(self, name: str = "recorder") -> None:
        super().__init__(name)
        self.seen: list[tuple[str, frozenset[str]]] = []
        self.lock = threading.Lock()
        self.started = 0
        self.stopped = 0

    def trigger(self, name: str, *args: Any, **kwargs: Any) -> None:
        with self.lock:
            self.seen.append((name, frozenset(kwargs)))

    def start(self, *args: Any, **kwargs: Any) -> None:
        self.started += 1

    def stop(self, *args: Any, **kwargs: Any) -> None:
        self.stopped += 1

    def names(self) -> Counter[str]:
        return Counter(name for name, _ in self.seen)

    def keys(self, trigger_name: str) -> frozenset[str]:
        return next(keys for name, keys in self.seen if name == trigger_name)


async def test_plugins_fire_with_documented_arguments(h: Any) -> None:
    app = h.app()
    plugins = {c: Recorder(c) for c in ("app", "worker", "broker", "storage", "starter")}
    app.add_plugin(plugins["app"])
    for component in ("worker", "broker", "storage", "starter"):
        app.add_plugin(plugins[component], component=component)

    @app.task
    def add(a: int, b: int) -> int:
        return a + b

    @app.task(retry=1, retry_backoff=0)
    def fails() -> None:
        raise ValueError("x")

    async with h.serving(app):
        assert (await h.call(add.add_task, 1, 2, timeout=LIMIT)).returning == 3
        await h.call(fails.add_task, timeout=LIMIT)
        await h.call(app.get, (await h.call(add.add_task, 1, 1)).uuid)
        await h.call(app.ping)

    expected = {
        "app": {
            "qtasks_add_task_before_broker": {
                "qtasks",
                "broker",
                "task_name",
                "priority",
                "args",
                "kw",
            },
            "qtasks_add_task_after_broker": {
                "qtasks",
                "broker",
                "task_name",
                "priority",
                "args",
                "kwargs",
            },
            "qtasks_get": {"qtasks", "broker", "task"},
            "qtasks_stop": {"qtasks", "starter"},
            "qtasks_ping": {"qtasks", "global_config"},
        },
        "broker": {
            "broker_add_before": {"broker", "storage", "model"},
            "broker_add_after": {"broker", "storage", "model"},
            "broker_get": {"broker", "task"},
            "broker_start": {"broker", "worker"},
            "broker_stop": {"broker"},
            "broker_listen_start": {"broker", "worker"},
            "broker_add_worker": {
                "broker",
                "worker",
                "task_name",
                "uuid",
                "priority",
                "args",
                "kw",
                "created_at",
            },
            "broker_update": {"broker", "kw"},
            "broker_remove_finished_task": {"broker", "storage", "model"},
        },
        "storage": {
            "storage_add": {"storage", "uuid", "task_status"},
            "storage_get": {"storage", "result"},
            "storage_update": {"storage", "kw"},
            "storage_add_process": {"storage", "task_data", "priority"},
            "storage_remove_finished_task": {"storage", "task_broker", "model"},
            "storage_start": {"storage"},
            "storage_stop": {"storage"},
        },
        "worker": {
            "worker_start": {"worker"},
            "worker_stop": {"worker"},
            "worker_add": {"worker", "task_name", "uuid", "priority", "args", "kw", "created_at"},
            "worker_execute_before": {"worker", "task_broker", "task_func", "model"},
            "worker_run_task_before": {"worker", "task_func", "task_broker"},
            "worker_task_error_retry": {"broker", "task_func", "task_broker", "trace", "model"},
            "worker_remove_finished_task": {
                "worker",
                "broker",
                "task_func",
                "task_broker",
                "model",
            },
            "worker_execute_after": {"task_func", "task_broker", "model"},
            "task_executor_before_execute": {"task_executor"},
            "task_executor_args_replace": {"task_executor", "args", "kw", "args_info"},
            "task_executor_run_task": {"task_executor", "result"},
            "task_executor_after_execute": {"task_executor"},
            "task_executor_after_execute_result_replace": {"task_executor", "result"},
            "task_executor_decode": {"task_executor", "result"},
            "task_executor_task_close": {"task_executor", "task_func", "task_broker"},
        },
        "starter": {"starter_start": {"starter"}, "starter_stop": {"starter"}},
    }
    for component, triggers in expected.items():
        recorder = plugins[component]
        for name, keys in triggers.items():
            assert name in recorder.names(), f"{component}: {name} never fired"
            assert recorder.keys(name) == keys, (
                f"{component}: {name} got {set(recorder.keys(name))}"
            )
        assert recorder.started == 1 and recorder.stopped == 1, component


async def test_plugin_changes_only_what_it_returns_and_failures_are_isolated(h: Any) -> None:
    app = h.app()

    class Prioritise(BasePlugin):
        def trigger(self, name: str, **kwargs: Any) -> dict[str, Any]:
            return {"priority": 9}

    class Broken(BasePlugin):
        def trigger(self, name: str, **kwargs: Any) -> Any:
            raise RuntimeError("plugin bug")

    class NotADict(BasePlugin):
        def trigger(self, name: str, **kwargs: Any) -> Any:
            return 123

    class DoubleResult(BasePlugin):
        async def trigger(self, name: str, **kwargs: Any) -> dict[str, Any]:
            return {"result": kwargs["result"] * 2}

    app.add_plugin(Broken(), trigger_names=["qtasks_add_task_before_broker"])
    app.add_plugin(Prioritise(), trigger_names=["qtasks_add_task_before_broker"])
    app.add_plugin(NotADict(), trigger_names=["qtasks_add_task_before_broker"])
    app.add_plugin(DoubleResult(), trigger_names=["task_executor_run_task"], component="worker")
    app.add_plugin(Broken(), trigger_names=["task_executor_run_task"], component="worker")

    @app.task
    def echo(*args: Any, **kwargs: Any) -> Any:
        return [list(args), kwargs]

    @app.task
    def seven() -> int:
        return 7

    queued = await h.call(echo.add_task, 1, 2, key="v")
    assert queued.priority == 9 and queued.args == [1, 2] and queued.kwargs == {"key": "v"}
    async with h.serving(app):
        done = await h.call(app.wait, queued.uuid, LIMIT)
        assert done.returning == [[1, 2], {"key": "v"}] * 2
        assert (await h.call(seven.add_task, timeout=LIMIT)).returning == 14

    with pytest.raises(KeyError, match="Unable to get component"):
        app.add_plugin(Prioritise(), component="kitchen")


async def test_middlewares_order_changes_and_no_pile_up(h: Any) -> None:
    app = h.app()
    order: list[str] = []

    class AddOne(TaskMiddleware):
        def __call__(self) -> None:
            order.append("task-before")
            self.task_executor._args[0] += 1

    class AppBefore(TaskMiddleware):
        async def __call__(self) -> None:
            order.append("app-before")

    class Times100(TaskMiddleware):
        def __call__(self) -> None:
            order.append("task-after")
            self.task_executor._result *= 100

    class AppAfter(TaskMiddleware):
        def __call__(self) -> None:
            order.append("app-after")

    @app.task(middlewares_before=[AddOne], middlewares_after=[Times100])
    def ident(x: int) -> int:
        order.append("run")
        return x

    app.add_middleware(AppBefore)
    app.add_middleware(AppAfter, position="after")
    with pytest.raises(TypeError):
        app.add_middleware(AppAfter())
    with pytest.raises(ValueError):
        app.add_middleware(AppAfter, position="middle")

    async with h.serving(app):
        for _ in range(3):
            order.clear()
            assert (await h.call(ident.add_task, 1, timeout=LIMIT)).returning == 200
            assert order == ["task-before", "app-before", "run", "task-after", "app-after"]
    assert ident.middlewares_before == [AddOne]


async def test_every_event_fires_and_decorators_return_the_function(h: Any) -> None:
    app = h.app()
    fired: Counter[str] = Counter()
    on = app.events.on

    def make(name: str) -> Any:
        if name.startswith("task_"):

            async def handler(**kwargs: Any) -> None:
                await asyncio.sleep(0)
                fired[name] += 1

        else:

            def handler(**kwargs: Any) -> None:  # type: ignore[misc]
                fired[name] += 1

        return handler

    for name in (
        "starting",
        "stopping",
        "worker_running",
        "worker_stopping",
        "task_running",
        "task_success",
        "task_error",
        "task_cancel",
        "task_stopping",
    ):
        handler = make(name)
        assert getattr(on, name)()(handler) is handler

    @app.task
    def ok() -> int:
        return 1

    @app.task
    def bad() -> None:
        raise ValueError("no")

    @app.task(echo=True)
    def stop_me(self: Any) -> None:
        self.ctx.cancel("enough")

    async with h.serving(app):
        for task in (ok, bad, stop_me):
            await h.call(task.add_task, timeout=LIMIT)
    assert fired == Counter(
        starting=1,
        stopping=1,
        worker_running=1,
        worker_stopping=1,
        task_running=3,
        task_success=1,
        task_error=1,
        task_cancel=1,
        task_stopping=3,
    )
