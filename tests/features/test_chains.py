"""Chains of pre-built calls (`SyncTaskUtils.chain`, `AsyncTaskUtils.chain`) through
both apps on memory:// and sqlite:///, with sync and async task functions."""

import asyncio
import threading
import time
from typing import Any

import anyio
import pytest

from qtasks.registries.task import AsyncTaskCls, SyncTaskCls
from qtasks.utils import AsyncTaskUtils, SyncTaskUtils
from qtasks.utils.tasks import AsyncTaskUtils as AsyncTaskUtilsPkg
from qtasks.utils.tasks.chains.async_chains import AsyncChain
from qtasks.utils.tasks.chains.sync_chains import SyncChain
from qtasks.utils.tasks.sync_task_utils import SyncTaskUtils as SyncTaskUtilsDeep

pytestmark = pytest.mark.anyio

LIMIT = 10.0


async def run_chain(env: Any, *calls: Any, timeout: float = LIMIT) -> list[Any]:
    """The facade's own chain: `await AsyncTaskUtils.chain(...).get()` for the async
    app, `SyncTaskUtils.chain(...).get()` (in a thread) for the sync one."""
    if env.is_async:
        chain = AsyncTaskUtils.chain(*calls)
        assert isinstance(chain, AsyncChain)
        return await chain.get(timeout=timeout)
    sync_chain = SyncTaskUtils.chain(*calls)
    assert isinstance(sync_chain, SyncChain)
    return await anyio.to_thread.run_sync(lambda: sync_chain.get(timeout=timeout))


def arithmetic(app: Any, release: threading.Event | None = None) -> dict[str, Any]:
    @app.task
    def add(a: int, b: int) -> int:
        return a + b

    @app.task
    async def multiply(factor: int, value: int) -> int:
        return value * factor

    @app.task
    def to_text(prefix: str, value: int, *, suffix: str = "") -> str:
        return f"{prefix}{value}{suffix}"

    @app.task
    async def fail(value: Any) -> None:
        raise ValueError(f"cannot take {value}")

    @app.task
    async def slow(value: int) -> int:
        deadline = time.monotonic() + LIMIT
        while release is not None and not release.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        return value

    return {"add": add, "multiply": multiply, "to_text": to_text, "fail": fail, "slow": slow}


async def test_each_result_is_appended_to_the_next_call(env: Any) -> None:
    app = env.app()
    t = arithmetic(app)
    async with env.serve(app):
        results = await run_chain(
            env, t["add"](1, 2), t["multiply"](10), t["to_text"]("=", suffix="!")
        )
    assert [r.status for r in results] == ["success"] * 3
    assert [r.returning for r in results] == [3, 30, "=30!"]
    assert list(results[1].args) == [10, 3]  # the previous result, appended last
    assert [r.task_name for r in results] == ["add", "multiply", "to_text"]


async def test_a_failed_step_stops_the_chain(env: Any) -> None:
    app = env.app()
    t = arithmetic(app)
    async with env.serve(app):
        results = await run_chain(env, t["add"](1, 1), t["fail"](), t["multiply"](3))
    first, failed, never = results
    assert first.returning == 2
    assert failed.status == "error" and "cannot take 2" in failed.traceback
    assert never is None


async def test_the_timeout_is_shared_by_the_whole_chain(env: Any) -> None:
    app = env.app()
    release = threading.Event()
    t = arithmetic(app, release)
    async with env.serve(app):
        started = time.monotonic()
        results = await run_chain(env, t["add"](1, 1), t["slow"](), t["multiply"](2), timeout=0.3)
        elapsed = time.monotonic() - started
        # a call's own timeout bounds its step when it is shorter than the chain's
        started_own = time.monotonic()
        own = await run_chain(env, t["slow"](5, timeout=0.1), t["add"](1), timeout=LIMIT)
        elapsed_own = time.monotonic() - started_own
        release.set()
    assert results[0].returning == 2
    assert results[1:] == [None, None]
    assert elapsed < 3.0  # the slow step (released only at the end) was not waited for
    assert own == [None, None]
    assert elapsed_own < 3.0


async def test_single_call_empty_chain_and_kwargs(env: Any) -> None:
    app = env.app()
    t = arithmetic(app)
    async with env.serve(app):
        assert await run_chain(env) == []
        (only,) = await run_chain(env, t["to_text"](">", 7, suffix="<"))
    assert only.returning == ">7<"


async def test_a_chain_of_the_other_facade_kind(env: Any) -> None:
    """A sync chain of an async app's calls and an async chain of a sync app's calls."""
    app = env.app()
    t = arithmetic(app)
    calls = [t["add"](2, 3), t["multiply"](2)]
    async with env.serve(app):
        if env.is_async:
            assert isinstance(calls[0], AsyncTaskCls)
            chain = SyncTaskUtils.chain(*calls)
            results = await anyio.to_thread.run_sync(lambda: chain.get(timeout=LIMIT))
        else:
            assert isinstance(calls[0], SyncTaskCls)
            results = await AsyncTaskUtils.chain(*calls).get(timeout=LIMIT)
    assert [r.returning for r in results] == [5, 10]


async def test_unbound_calls_stop_the_chain(env: Any) -> None:
    app = env.app()
    t = arithmetic(app)
    unbound = AsyncTaskCls("add", args=(1, 2)) if env.is_async else SyncTaskCls("add", args=(1,))
    async with env.serve(app):
        results = await run_chain(env, t["add"](1, 2), unbound, t["multiply"](2))
    assert results[0].returning == 3
    assert results[1:] == [None, None]


def test_import_paths_and_bad_entries() -> None:
    assert AsyncTaskUtilsPkg is AsyncTaskUtils and SyncTaskUtilsDeep is SyncTaskUtils
    with pytest.raises(TypeError, match="pre-built calls"):
        SyncTaskUtils.chain(lambda: None)
    chain = AsyncTaskUtils.chain([SyncTaskCls("a"), SyncTaskCls("b")])  # a list is accepted
    assert len(chain) == 2 and "a, b" in repr(chain)
