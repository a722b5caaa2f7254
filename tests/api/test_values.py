"""What goes in comes out, or is refused: arguments and options checked at enqueue (through
the client), results checked before they are stored (through a real worker), on both
facades and every backend."""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from qtasks.core.records import PRIORITY_MAX, PRIORITY_MIN
from qtasks.exc import ArgumentTypeError, ConfigError, SerializationError
from qtasks.plugins.base import BasePlugin

pytestmark = pytest.mark.anyio

LIMIT = 10.0


@dataclasses.dataclass
class Point:
    x: int


async def test_arguments_that_would_change_are_refused_naming_the_path(h: Any) -> None:
    app = h.app()

    @app.task
    def echo(*args: Any, **kwargs: Any) -> list[Any]:
        return [list(args), kwargs]

    refused = [
        (lambda: app.add_task("echo", ratio=math.nan), r"kwargs\['ratio'\] is nan"),
        (lambda: echo.add_task(1, 2, [math.inf]), r"args\[2\]\[0\] is inf"),
        (
            lambda: app.enqueue("echo", args=[{1: "a", "1": "b"}]),
            r"args\[0\] has the key 1 \(int\).*collide with the key '1'.*use str keys",
        ),
        (lambda: echo.enqueue(kwargs={"m": {2: "b"}}), r"kwargs\['m'\] has the key 2 \(int\)"),
        (lambda: echo.add_task(uuid.UUID(int=5)), r"args\[0\] is UUID\(.*str\(x\)"),
        (lambda: echo.add_task(when=datetime(2024, 1, 1)), r"kwargs\['when'\].*isoformat"),
        (lambda: echo.add_task(Point(1)), r"args\[0\] is Point\(x=1\).*dataclasses.asdict"),
        (lambda: echo.add_task(2**64), r"args\[0\] is an integer outside"),
        (
            lambda: app.add_tasks([echo(1), ("echo", (), {"r": -math.inf})]),
            r"^add_tasks\(\) entry 1: Cannot enqueue task 'echo': kwargs\['r'\] is -inf",
        ),
    ]
    for call, message in refused:
        with pytest.raises(SerializationError, match=message):
            await h.call(call)
    # nothing of any refused call was written, the first entry of the batch included
    async with h.serving(app):
        done = await h.call(echo.add_task, (1, (2,)), {"k": [0.5]}, timeout=LIMIT)
    assert done.status == "success"
    assert done.returning == [[[1, [2]], {"k": [0.5]}], {}]  # tuples come back as lists
    assert app.worker.executed == 1


async def test_results_that_would_change_end_the_task_error(h: Any) -> None:
    app = h.app()

    @app.task
    def nan() -> float:
        return math.nan

    @app.task
    def int_keys() -> dict[int, str]:
        return {1: "a", 2: "b"}

    @app.task
    def rows() -> Iterator[list[float]]:
        yield [1.0]
        yield [2.0, math.inf]

    @app.task
    def ident() -> uuid.UUID:
        return uuid.UUID(int=7)

    @app.task(decode=lambda value: {"ratio": value / 0.0 if value else math.nan})
    def decoded() -> int:
        return 0

    @app.task
    def fine() -> tuple[int, tuple[str]]:
        return (1, ("a",))

    expected = {
        "nan": "result is nan, which JSON cannot hold",
        "int_keys": "result has the key 1 (int)",
        "rows": "result[1][1] is inf",
        "ident": "result is UUID(",
        "decoded": "after decode=",
    }
    async with h.serving(app):
        done = {name: await h.call(app.add_task, name, timeout=LIMIT) for name in expected}
        ok = await h.call(fine.add_task, timeout=LIMIT)
    for name, text in expected.items():
        task = done[name]
        assert task.status == "error", (name, task)
        assert "SerializationError" in task.traceback and text in task.traceback, name
        assert "cannot be stored as JSON" in task.traceback
        stored = await h.call(app.get, task.uuid)
        assert stored.status == "error" and stored.returning is None
    assert "result['ratio'] is nan" in done["decoded"].traceback
    assert ok.status == "success" and ok.returning == [1, ["a"]]


async def test_priorities_out_of_range_or_not_ints_are_refused(h: Any) -> None:
    app = h.app()

    @app.task
    def noop() -> None:
        pass

    @app.task(priority=2**63)
    def huge() -> None:
        pass

    for priority in (2**63, PRIORITY_MAX + 1, PRIORITY_MIN - 1):
        with pytest.raises(ConfigError, match=r"priority .* is out of range"):
            await h.call(noop.add_task, priority=priority)
        with pytest.raises(ValueError, match="out of range"):
            await h.call(app.enqueue, "noop", priority=priority)
    with pytest.raises(ConfigError, match="out of range"):
        await h.call(huge.add_task)  # the task's own option, checked when a call uses it
    for priority in (1.5, "1", True):
        with pytest.raises(ArgumentTypeError, match="priority must be an int"):
            await h.call(noop.add_task, priority=priority)
    async with h.serving(app):
        done = await h.call(noop.add_task, timeout=LIMIT)
    assert done.status == "success" and app.worker.executed == 1


async def test_the_priority_range_is_kept_and_ordered_exactly(h: Any) -> None:
    app = h.app(max_tasks_process=1)
    order: list[str] = []

    @app.task
    def record(label: str) -> None:
        order.append(label)

    plan = [
        (PRIORITY_MAX, "max"),
        (PRIORITY_MAX - 1, "max-1"),
        (0, "zero"),
        (PRIORITY_MIN + 1, "min+1"),
        (PRIORITY_MIN, "min"),
    ]
    queued = [await h.call(record.add_task, label, priority=p) for p, label in plan]
    for task, (priority, _) in zip(queued, plan, strict=True):
        assert (await h.call(app.get, task.uuid)).priority == priority
    async with h.serving(app):
        for t in queued:
            assert (await h.call(app.wait, t.uuid, LIMIT)).priority in dict(plan)
    assert order == ["min", "min+1", "zero", "max-1", "max"]


async def test_time_options_must_be_finite_and_not_negative(h: Any) -> None:
    app = h.app()

    @app.task
    def noop() -> None:
        pass

    for bad in (-1, -0.5, math.nan, math.inf):
        with pytest.raises(ConfigError, match=r"^timeout must be a finite number of seconds"):
            await h.call(noop.add_task, timeout=bad)
        with pytest.raises(ConfigError, match=r"^timeout must be a finite number of seconds"):
            await h.call(app.add_task, "noop", timeout=bad)
        with pytest.raises(ConfigError, match=r"^delay must be a finite number of seconds"):
            await h.call(app.enqueue, "noop", delay=bad)
        with pytest.raises(ConfigError, match=r"^delay must be a finite number of seconds"):
            await h.call(noop.enqueue, delay=bad)
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ConfigError, match=r"^eta must be a datetime or finite epoch"):
            await h.call(app.enqueue, "noop", eta=bad)
    with pytest.raises(ArgumentTypeError, match=r"^timeout must be a number of seconds"):
        await h.call(noop.add_task, timeout="5")
    with pytest.raises(ArgumentTypeError, match=r"^delay must be a number of seconds"):
        await h.call(app.enqueue, "noop", delay="5")
    async with h.serving(app):
        done = await h.call(app.enqueue, "noop", delay=0, timeout=LIMIT)
    assert done.status == "success" and app.worker.executed == 1


async def test_a_chain_with_an_argument_that_would_change_is_refused(h: Any) -> None:
    from qtasks.utils import AsyncTaskUtils, SyncTaskUtils

    app = h.app()

    @app.task
    def add(a: float, b: float) -> float:
        return a + b

    utils = AsyncTaskUtils if h.is_async else SyncTaskUtils
    chain = utils.chain(add(1.0, math.nan), add(2.0))
    with pytest.raises(SerializationError, match=r"args\[1\] is nan"):
        await h.call(chain.get, timeout=LIMIT)


async def test_a_record_changed_by_a_plugin_is_held_to_the_same_rules(h: Any) -> None:
    app = h.app()

    class Spoil(BasePlugin):
        def broker_add_before(self, **kw: Any) -> dict[str, Any]:
            return {"model": dataclasses.replace(kw["model"], args=[math.nan])}

    app.add_plugin(Spoil())

    @app.task
    def noop(x: Any) -> None:
        pass

    with pytest.raises(SerializationError, match=r"as changed by a plugin\): args\[0\] is nan"):
        await h.call(noop.add_task, 1)
