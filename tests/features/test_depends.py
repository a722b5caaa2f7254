"""`Depends`: every kind of dependency, teardown on success / error / cancel, isolation
of concurrent tasks, worker scope, through both apps on memory:// and sqlite:///."""

# No `from __future__ import annotations`: tasks are defined inside the tests; string
# annotations are tested explicitly.

import asyncio
import contextlib
import functools
import inspect
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import anyio
import pydantic
import pytest

import qtasks
import qtasks.asyncio
from qtasks.core.models import TaskSpec as TaskExecSchema
from qtasks.plugins import AsyncDependsPlugin, SyncDependsPlugin
from qtasks.plugins.depends import Depends, DependsPlugin, ScopeEnum, resolve
from qtasks.plugins.states import SyncState

pytestmark = pytest.mark.anyio

LIMIT = 10.0


class Log:
    """Thread-safe event list shared by dependencies and tasks."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, event: str) -> None:
        with self._lock:
            self.events.append(event)

    def take(self) -> list[str]:
        with self._lock:
            events, self.events = self.events, []
            return events


async def wait_for(event: threading.Event, timeout: float = LIMIT) -> None:
    """Await a threading.Event (set from any thread) without blocking the loop."""
    deadline = time.monotonic() + timeout
    while not event.is_set():
        assert time.monotonic() < deadline, "event not set in time"
        await asyncio.sleep(0.002)


# --- every kind of dependency ------------------------------------------------------------
def make_deps(log: Log) -> dict[str, Any]:
    @contextlib.asynccontextmanager
    async def async_cm() -> AsyncIterator[str]:
        log("acm-open")
        yield "acm"
        log("acm-close")

    async def coroutine() -> str:
        await asyncio.sleep(0)
        return "coro"

    async def async_gen() -> AsyncIterator[str]:
        log("agen-open")
        try:
            yield "agen"
        finally:
            log("agen-close")

    @contextlib.contextmanager
    def sync_cm() -> Iterator[str]:
        log("cm-open")
        yield "cm"
        log("cm-close")

    class Resource:
        def __enter__(self) -> str:
            log("obj-open")
            return "obj"

        def __exit__(self, *exc: Any) -> None:
            log("obj-close")

    def sync_gen() -> Iterator[str]:
        log("gen-open")
        try:
            yield "gen"
        finally:
            log("gen-close")

    def plain() -> str:
        return "plain"

    return {
        "async_cm": async_cm,
        "coroutine": coroutine,
        "async_gen": async_gen,
        "sync_cm": sync_cm,
        "returns_cm": Resource,
        "sync_gen": sync_gen,
        "plain": plain,
        "lambda": lambda: "lambda",
        "value": {"not": "callable"},
    }


EXPECTED_VALUES = {
    "async_cm": "acm",
    "coroutine": "coro",
    "async_gen": "agen",
    "sync_cm": "cm",
    "returns_cm": "obj",
    "sync_gen": "gen",
    "plain": "plain",
    "lambda": "lambda",
    "value": {"not": "callable"},
}
OPENED = ["acm-open", "agen-open", "cm-open", "obj-open", "gen-open"]
CLOSED_LIFO = ["gen-close", "obj-close", "cm-close", "agen-close", "acm-close"]


async def test_every_dependency_kind_is_injected_and_torn_down(env: Any) -> None:
    app = env.app()
    log = Log()
    d = make_deps(log)

    def body(**values: Any) -> dict[str, Any]:
        log("run")
        return values

    @app.task
    def sync_task(
        async_cm: Annotated[str, Depends(d["async_cm"])],
        coroutine: Annotated[str, Depends(d["coroutine"])],
        async_gen: Annotated[str, Depends(d["async_gen"])],
        sync_cm: str = Depends(d["sync_cm"]),
        returns_cm: str = Depends(d["returns_cm"]),
        sync_gen: str = Depends(d["sync_gen"]),
        plain: str = Depends(d["plain"]),
        lam: str = Depends(d["lambda"]),
        value: Any = Depends(d["value"]),
    ) -> dict[str, Any]:
        return body(
            async_cm=async_cm,
            coroutine=coroutine,
            async_gen=async_gen,
            sync_cm=sync_cm,
            returns_cm=returns_cm,
            sync_gen=sync_gen,
            plain=plain,
            **{"lambda": lam, "value": value},
        )

    @app.task
    async def async_task(
        async_cm: Annotated[str, Depends(d["async_cm"])],
        coroutine: Annotated[str, Depends(d["coroutine"])],
        async_gen: Annotated[str, Depends(d["async_gen"])],
        sync_cm: str = Depends(d["sync_cm"]),
        returns_cm: str = Depends(d["returns_cm"]),
        sync_gen: str = Depends(d["sync_gen"]),
        plain: str = Depends(d["plain"]),
        lam: str = Depends(d["lambda"]),
        value: Any = Depends(d["value"]),
    ) -> dict[str, Any]:
        return body(
            async_cm=async_cm,
            coroutine=coroutine,
            async_gen=async_gen,
            sync_cm=sync_cm,
            returns_cm=returns_cm,
            sync_gen=sync_gen,
            plain=plain,
            **{"lambda": lam, "value": value},
        )

    async with env.serve(app):
        for task in (sync_task, async_task):
            result = await env.call(task.add_task, timeout=LIMIT)
            assert result.status == "success", result.traceback
            assert result.returning == EXPECTED_VALUES
            # teardown ran (in reverse order of opening) before the result was stored
            assert log.take() == [*OPENED, "run", *CLOSED_LIFO]


async def test_awaitable_value_and_annotation_forms(env: Any) -> None:
    app = env.app()

    async def make() -> int:
        return 5

    @app.task
    def as_annotation(dep: Depends(lambda: 41)) -> int:  # type: ignore[valid-type]
        return dep + 1

    @app.task
    async def string_annotation(dep: "Annotated[int, Depends(module_level_dep)]") -> int:
        return dep

    @app.task
    def last_metadata_wins(dep: Annotated[int, Depends(lambda: 1), "x", Depends(make)]) -> int:
        return dep

    async with env.serve(app):
        assert (await env.call(as_annotation.add_task, timeout=LIMIT)).returning == 42
        assert (await env.call(string_annotation.add_task, timeout=LIMIT)).returning == 99
        assert (await env.call(last_metadata_wins.add_task, timeout=LIMIT)).returning == 5


def module_level_dep() -> int:
    return 99


# --- teardown always runs, for its own task only -----------------------------------------
async def test_teardown_runs_when_the_task_fails(env: Any) -> None:
    app = env.app()
    log = Log()

    @contextlib.contextmanager
    def resource() -> Iterator[str]:
        log("open")
        try:
            yield "r"
        finally:
            log("close")

    async def async_resource() -> AsyncIterator[str]:
        log("aopen")
        yield "ar"
        log("aclose")  # after-yield code runs even though the task failed

    @app.task
    def sync_fails(r: str = Depends(resource), a: str = Depends(async_resource)) -> None:
        raise RuntimeError("boom")

    @app.task
    async def async_fails(r: str = Depends(resource), a: str = Depends(async_resource)) -> None:
        raise RuntimeError("boom")

    @app.task(max_time=0.05)
    async def too_slow(r: str = Depends(resource), a: str = Depends(async_resource)) -> None:
        await asyncio.sleep(LIMIT)

    async with env.serve(app):
        for task in (sync_fails, async_fails):
            result = await env.call(task.add_task, timeout=LIMIT)
            assert result.status == "error" and "boom" in result.traceback
            assert log.take() == ["open", "aopen", "aclose", "close"]
        result = await env.call(too_slow.add_task, timeout=LIMIT)
        assert result.status == "error" and "Time limit exceeded" in result.traceback
        assert log.take() == ["open", "aopen", "aclose", "close"]


async def test_failing_setup_fails_the_task_and_closes_what_was_opened(env: Any) -> None:
    app = env.app()
    log = Log()

    @contextlib.asynccontextmanager
    async def first() -> AsyncIterator[int]:
        log("first-open")
        yield 1
        log("first-close")

    def broken() -> int:
        raise LookupError("no database")

    @app.task
    def needs_both(a: int = Depends(first), b: int = Depends(broken)) -> None:
        log("ran")

    async with env.serve(app):
        result = await env.call(needs_both.add_task, timeout=LIMIT)
    assert result.status == "error"
    assert "LookupError: no database" in result.traceback
    assert log.take() == ["first-open", "first-close"]


async def test_teardown_runs_when_a_running_task_is_cancelled(env: Any) -> None:
    app = env.app()
    log = Log()
    started = threading.Event()

    async def resource() -> AsyncIterator[str]:
        log("open")
        try:
            yield "r"
        finally:
            log("close")

    @app.task
    async def waits_forever(r: str = Depends(resource)) -> None:
        started.set()
        await asyncio.sleep(3600)

    async with env.serve(app):
        task = await env.call(waits_forever.add_task)
        await wait_for(started)
        await env.call(app.cancel, task.uuid, "stop it")
        result = await env.call(app.wait, task.uuid, LIMIT)
    assert result.status == "cancel"
    assert log.take() == ["open", "close"]


async def test_concurrent_tasks_close_only_their_own_dependencies(env: Any) -> None:
    """The original closed every open task dependency when any task finished (W14)."""
    app = env.app()
    release_first = threading.Event()
    first_started = threading.Event()

    class Conn:
        def __init__(self, n: int) -> None:
            self.n, self.closed = n, False

    counter = iter(range(100))
    lock = threading.Lock()

    @contextlib.contextmanager
    def connect() -> Iterator[Conn]:
        with lock:
            conn = Conn(next(counter))
        yield conn
        conn.closed = True

    @app.task
    async def slow(conn: Conn = Depends(connect)) -> bool:
        first_started.set()
        await wait_for(release_first)
        return conn.closed  # still open although `fast` finished meanwhile

    @app.task
    def slow_sync(conn: Conn = Depends(connect)) -> bool:
        first_started.set()
        assert release_first.wait(LIMIT)
        return conn.closed

    @app.task
    def fast(conn: Conn = Depends(connect)) -> bool:
        return conn.closed

    async with env.serve(app):
        for slow_task in (slow, slow_sync):
            first_started.clear()
            release_first.clear()
            pending = await env.call(slow_task.add_task)
            await wait_for(first_started)
            for _ in range(3):
                done = await env.call(fast.add_task, timeout=LIMIT)
                assert (done.status, done.returning) == ("success", False)
            release_first.set()
            result = await env.call(app.wait, pending.uuid, LIMIT)
            assert (result.status, result.returning) == ("success", False)


# --- worker scope ------------------------------------------------------------------------
async def test_worker_scope_opens_once_and_closes_when_the_worker_stops(env: Any) -> None:
    app = env.app()
    log = Log()

    @contextlib.asynccontextmanager
    async def pool() -> AsyncIterator[object]:
        log("pool-open")
        yield object()
        log("pool-close")

    def settings() -> Iterator[dict[str, int]]:
        log("settings-open")
        yield {"answer": 42}
        log("settings-close")

    @app.task
    async def first(p: object = Depends(pool, scope=ScopeEnum.WORKER)) -> int:
        return id(p)

    @app.task
    def second(
        p: Annotated[object, Depends(pool, scope="worker")],
        s: dict[str, int] = Depends(settings, scope=ScopeEnum.BROKER),
    ) -> list[int]:
        return [id(p), s["answer"]]

    for _run in range(2):  # a new worker opens them again
        async with env.serve(app):
            ids = set()
            for _ in range(3):
                ids.add((await env.call(first.add_task, timeout=LIMIT)).returning)
                pid, answer = (await env.call(second.add_task, timeout=LIMIT)).returning
                ids.add(pid)
                assert answer == 42
            assert len(ids) == 1  # one pool for every task of this worker
            assert log.events == ["pool-open", "settings-open"]
        assert sorted(log.take()) == sorted(
            ["pool-open", "settings-open", "settings-close", "pool-close"]
        )


async def test_concurrent_first_use_of_a_worker_dependency_opens_it_once(env: Any) -> None:
    app = env.app()
    log = Log()

    async def slow_open() -> AsyncIterator[str]:
        log("open")
        await asyncio.sleep(0.05)
        yield "shared"
        log("close")

    @app.task
    async def use(v: str = Depends(slow_open, scope=ScopeEnum.WORKER)) -> str:
        return v

    async with env.serve(app):
        pending = [await env.call(use.add_task) for _ in range(5)]
        for task in pending:
            assert (await env.call(app.wait, task.uuid, LIMIT)).returning == "shared"
    assert log.take() == ["open", "close"]


# --- where dependency code runs ----------------------------------------------------------
async def test_sync_dependency_code_runs_in_the_worker_pool(env: Any) -> None:
    app = env.app()
    seen: dict[str, str] = {}

    def sync_gen() -> Iterator[str]:
        seen["setup"] = threading.current_thread().name
        yield "x"
        seen["teardown"] = threading.current_thread().name

    async def async_dep() -> str:
        seen["async"] = threading.current_thread().name
        return "y"

    @app.task
    async def task(a: str = Depends(sync_gen), b: str = Depends(async_dep)) -> str:
        seen["task"] = threading.current_thread().name
        return a + b

    async with env.serve(app):
        assert (await env.call(task.add_task, timeout=LIMIT)).returning == "xy"
    assert seen["setup"].startswith("qtasks-task") and seen["teardown"].startswith("qtasks-task")
    assert seen["async"] == seen["task"]  # async code on the worker's loop
    assert not seen["task"].startswith("qtasks-task")


# --- together with the other injectors ---------------------------------------------------
class Point(pydantic.BaseModel):
    x: int
    y: int


class Counter(SyncState):
    pass


async def test_depends_with_a_model_and_state(env: Any) -> None:
    app = env.app()

    @app.task
    def combined(
        point: Point, counter: Counter, scale: int = Depends(lambda: 10), extra: int = 0
    ) -> list[int]:
        total = counter.update(runs=counter.get("runs", 0) + 1)["runs"]
        return [point.x * scale, point.y * scale, extra, total]

    async with env.serve(app):
        first = await env.call(combined.add_task, 1, 2, extra=3, timeout=LIMIT)
        second = await env.call(combined.add_task, x=4, y=5, timeout=LIMIT)
    assert first.returning == [10, 20, 3, 1]
    assert second.returning == [40, 50, 0, 2]


async def test_injected_parameters_before_positional_ones(env: Any) -> None:
    """Positional arguments fill the parameters that are neither injected nor given by
    keyword, in order, wherever the injected ones stand."""
    app = env.app()

    @app.task
    def interleaved(
        key: str,
        db: Annotated[str, Depends(lambda: "db")],
        counter: Counter,
        point: Point,
        flag: bool = False,
    ) -> list[Any]:
        return [key, db, type(counter).__name__, point.x, point.y, flag]

    @app.task(echo=True)
    async def state_first(self: Any, counter: Counter, a: int, b: int = 0) -> list[Any]:
        return [self.task_name, a, b]

    async with env.serve(app):
        result = await env.call(interleaved.add_task, "k", 1, 2, True, timeout=LIMIT)
        assert result.returning == ["k", "db", "Counter", 1, 2, True]
        result = await env.call(interleaved.add_task, 1, 2, key="k", timeout=LIMIT)
        assert result.returning == ["k", "db", "Counter", 1, 2, False]
        result = await env.call(state_first.add_task, 5, 6, timeout=LIMIT)
        assert result.returning == ["state_first", 5, 6]


def test_binding_does_not_depend_on_the_order_injectors_run_in() -> None:
    from qtasks.backends.base import TaskRecord
    from qtasks.engine.executor import TaskExecutor
    from qtasks.plugins.builtin import INJECTORS

    def task(
        key: str,
        db: Annotated[str, Depends(lambda: "db")],
        counter: Counter,
        point: Point,
        flag: bool = False,
        *rest: Any,
        opt: int = 0,
    ) -> None:
        return None

    schema = TaskExecSchema(priority=0, name="task", func=task)
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        (("k", 1, 2, True, "r1", "r2"), {"opt": 3}),
        (("k", 1, 2), {}),
        ((1, 2), {"key": "k"}),
        (("k",), {"x": 1, "y": 2, "flag": True}),
    ]

    async def run(order: list[Any], args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
        record = TaskRecord("u1", "task", 0, list(args), dict(kw), "process", 0.0, 0.0)
        executor = TaskExecutor(schema, record)
        call_args, call_kw = list(args), dict(kw)
        for cls in order:
            plugin = cls()
            changes = await plugin.trigger(
                "task_executor_args_replace", task_executor=executor, args=call_args, kw=call_kw
            )
            call_args, call_kw = changes["args"], changes["kw"]
        for cls in order:
            await cls().trigger("task_executor_task_close", task_executor=executor)
        bound = inspect.signature(task).bind(*call_args, **call_kw)
        values = dict(bound.arguments)
        values["counter"] = type(values["counter"]).__name__
        return values

    async def main() -> None:
        for args, kw in calls:
            results = [await run(list(order), args, kw) for order in _permutations(INJECTORS)]
            assert all(r == results[0] for r in results), results
            first = results[0]
            assert first["key"] == "k" and first["db"] == "db" and first["counter"] == "Counter"
            assert first["point"] == Point(x=1, y=2)

    anyio.run(main)


def _permutations(items: list[Any]) -> list[tuple[Any, ...]]:
    import itertools

    return list(itertools.permutations(items))


# --- no worker ---------------------------------------------------------------------------
def test_names_scopes_and_selection() -> None:
    assert qtasks.Depends is Depends
    assert AsyncDependsPlugin is SyncDependsPlugin is DependsPlugin
    assert Depends(print, scope="global_config").scope is ScopeEnum.GLOBAL_CONFIG
    assert [s.value for s in ScopeEnum] == ["task", "worker", "broker", "storage", "global_config"]
    with pytest.raises(ValueError):
        Depends(print, scope="forever")
    assert "Depends(print" in repr(Depends(print))

    def uses(x: int = Depends(print)) -> None:
        return None

    def does_not(x: int = 3) -> None:
        return None

    schema = TaskExecSchema(priority=0, name="t", func=uses)
    assert DependsPlugin.applies(schema)
    assert not DependsPlugin.applies(TaskExecSchema(priority=0, name="t", func=does_not))
    assert inspect.iscoroutinefunction(DependsPlugin().trigger)


async def test_registering_the_plugin_by_hand_does_not_open_dependencies_twice(env: Any) -> None:
    """Code written for the original registers the plugin itself; it stays harmless."""
    app = env.app()
    log = Log()

    def resource() -> Iterator[int]:
        log("open")
        yield 1
        log("close")

    app.add_plugin(
        AsyncDependsPlugin(),
        trigger_names=["task_executor_args_replace", "task_executor_task_close"],
        component="worker",
    )

    @app.task
    async def uses(r: int = Depends(resource)) -> int:
        return r

    async with env.serve(app):
        assert (await env.call(uses.add_task, timeout=LIMIT)).returning == 1
    assert log.take() == ["open", "close"]


async def test_resolve_awaitables_and_generators_that_yield_twice() -> None:
    async def coro() -> str:
        return "awaited"

    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    future.set_result("done")

    def twice() -> Iterator[int]:
        yield 1
        yield 2

    async def atwice() -> AsyncIterator[int]:
        yield 1
        yield 2

    def empty() -> Iterator[int]:
        return
        yield

    async with contextlib.AsyncExitStack() as stack:
        assert await resolve(Depends(coro()), stack, None) == "awaited"
        assert await resolve(Depends(future), stack, None) == "done"
        assert await resolve(Depends(functools.partial(coro)), stack, None) == "awaited"
    stack = contextlib.AsyncExitStack()
    assert await resolve(Depends(twice), stack, None) == 1
    assert await resolve(Depends(atwice), stack, None) == 1
    with pytest.raises(RuntimeError, match="yielded more than once"):
        await stack.aclose()
    with pytest.raises(RuntimeError, match="did not yield a value"):
        await resolve(Depends(empty), contextlib.AsyncExitStack(), None)
