"""Tasks whose code is a callable object or a partial: they run as what they are."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest

from qtasks import shared_task
from qtasks.contexts import AsyncContext
from qtasks.registries.task import AsyncTask

pytestmark = pytest.mark.anyio

LIMIT = 10.0


class Scale:
    """An async callable object: its code must run on the worker's loop."""

    def __init__(self, factor: int) -> None:
        self.factor = factor

    async def __call__(self, x: int) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"value": x * self.factor}


async def add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


async def test_async_callable_object_runs_as_an_async_task(h: Any) -> None:
    app = h.app()
    scale = app.task(name="scale")(Scale(3))
    assert app.tasks["scale"].awaiting is True
    assert isinstance(scale.ctx, AsyncContext)
    async with h.serving(app):
        task = await h.call(scale.add_task, 5, timeout=LIMIT)
    assert task is not None and task.status == "success", task
    assert task.returning == {"value": 15}


async def test_partial_of_an_async_function_runs_as_an_async_task(h: Any) -> None:
    app = h.app()
    add_ten = app.task(name="add_ten")(functools.partial(add, 10))
    assert app.tasks["add_ten"].awaiting is True
    async with h.serving(app):
        task = await h.call(add_ten.add_task, 5, timeout=LIMIT)
    assert task is not None and task.returning == 15, task


async def test_shared_task_of_an_async_callable_object_is_async(h: Any) -> None:
    handle = shared_task(name=f"{h.prefix}-shared-scale")(Scale(2))
    assert type(handle) is AsyncTask
    assert handle.schema.awaiting is True
