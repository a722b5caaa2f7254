"""Pydantic models as task parameters and results, through both apps (sync and async
facades) on memory:// and sqlite:///, with sync and async task functions."""

# No `from __future__ import annotations` here on purpose: the tasks below are defined
# inside test functions, and one test checks string annotations explicitly.

import inspect
import subprocess
import sys
from collections.abc import Callable
from typing import Annotated, Any, Optional

import pydantic
import pytest

from qtasks.core.models import TaskSpec as TaskExecSchema
from qtasks.plugins import AsyncPydanticWrapperPlugin, SyncPydanticWrapperPlugin
from qtasks.plugins.pydantic import PydanticWrapperPlugin
from qtasks.registries.task import BaseTask

pytestmark = pytest.mark.anyio

LIMIT = 10.0


class Item(pydantic.BaseModel):
    name: str
    value: int


class Labelled(pydantic.BaseModel):
    label: str = pydantic.Field(alias="tag")
    size: int = 1


def both_kinds(app: Any, name: str, func: Callable[..., Any]) -> dict[str, BaseTask[Any]]:
    """Register `func` as a sync task and an async twin with the same signature."""

    async def async_twin(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    async_twin.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
    async_twin.__annotations__ = dict(func.__annotations__)
    return {
        "sync": app.task(name=f"{name}_sync")(func),
        "async": app.task(name=f"{name}_async")(async_twin),
    }


# --- building models ---------------------------------------------------------------------
async def test_every_call_form_builds_the_model(env: Any) -> None:
    app = env.app()

    def greet(item: Item) -> str:
        assert isinstance(item, Item)
        return f"{item.name}={item.value}"

    tasks = both_kinds(app, "greet", greet)
    async with env.serve(app):
        for task in tasks.values():
            forms: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
                ((), {"name": "T", "value": 4}),
                (("T", 4), {}),
                (("T",), {"value": 4}),
                (({"name": "T", "value": 4},), {}),
                ((), {"item": {"name": "T", "value": 4}}),
            ]
            for args, kwargs in forms:
                result = await env.call(task.add_task, *args, timeout=LIMIT, **kwargs)
                assert result is not None
                assert (result.status, result.returning) == ("success", "T=4"), (args, kwargs)


async def test_model_mixed_with_other_parameters(env: Any) -> None:
    app = env.app()

    def scaled(item: Item, factor: int = 1, *, suffix: str = "") -> str:
        return f"{item.name}{suffix}:{item.value * factor}"

    tasks = both_kinds(app, "scaled", scaled)
    async with env.serve(app):
        for task in tasks.values():
            calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
                (("T", 4, 3), {}),  # the model takes its fields, 3 goes to factor
                (("T", 4), {"factor": 2}),
                ((), {"name": "T", "value": 4, "factor": 5, "suffix": "!"}),
                ((10,), {"name": "T", "value": 4}),  # model from kwargs, 10 -> factor
            ]
            got = [
                (await env.call(task.add_task, *a, timeout=LIMIT, **k)).returning for a, k in calls
            ]
            assert got == ["T:12", "T:8", "T!:20", "T:40"]


async def test_parameter_after_positional_one_and_echo(env: Any) -> None:
    app = env.app()

    @app.task
    def labelled(prefix: str, item: Item) -> str:
        return f"{prefix}{item.name}{item.value}"

    @app.task(echo=True)
    def echoed(self: Any, item: Item) -> list[Any]:
        return [self.task_name, item.name, item.value]

    async with env.serve(app):
        result = await env.call(labelled.add_task, ">", "a", 1, timeout=LIMIT)
        assert result.returning == ">a1"
        result = await env.call(echoed.add_task, "b", 2, timeout=LIMIT)
        assert result.returning == ["echoed", "b", 2]


async def test_annotated_optional_alias_and_string_annotations(env: Any) -> None:
    app = env.app()

    @app.task
    def annotated(item: Annotated[Item, "meta"]) -> int:
        return item.value

    @app.task
    async def optional(item: Optional[Item] = None) -> Any:  # noqa: UP045 - the form under test
        return None if item is None else item.value

    @app.task
    def pipe_union(item: "Item | None") -> int:
        assert item is not None
        return item.value

    @app.task
    def aliased(item: Labelled) -> list[Any]:
        return [item.label, item.size]

    async with env.serve(app):
        assert (await env.call(annotated.add_task, "a", 7, timeout=LIMIT)).returning == 7
        assert (await env.call(optional.add_task, name="a", value=8, timeout=LIMIT)).returning == 8
        assert (await env.call(optional.add_task, timeout=LIMIT)).returning is None
        assert (await env.call(pipe_union.add_task, "a", 9, timeout=LIMIT)).returning == 9
        assert (await env.call(aliased.add_task, tag="x", timeout=LIMIT)).returning == ["x", 1]
        assert (await env.call(aliased.add_task, "y", 3, timeout=LIMIT)).returning == ["y", 3]


async def test_invalid_arguments_fail_the_task_with_a_clear_error(env: Any) -> None:
    app = env.app()
    called: list[Any] = []

    def strict(item: Item) -> None:
        called.append(item)

    tasks = both_kinds(app, "strict", strict)
    async with env.serve(app):
        for task in tasks.values():
            for args, kwargs in [(("T", "not a number"), {}), ((), {"name": "T"})]:
                result = await env.call(task.add_task, *args, timeout=LIMIT, **kwargs)
                assert result.status == "error"
                assert "ValueError: Error while building the model for 'item'" in result.traceback
                assert "value" in result.traceback
    assert called == []


# --- results -----------------------------------------------------------------------------
async def test_model_results_are_dumped(env: Any) -> None:
    app = env.app()

    def create(name: str) -> Item:
        return Item(name=name, value=len(name))

    def several(n: int) -> list[Item]:
        return [Item(name=str(i), value=i) for i in range(n)]

    def echo(item: Item) -> dict[str, Any]:
        return {"item": item, "plain": 1}  # models inside containers are dumped too

    tasks = {
        **both_kinds(app, "create", create),
        **{f"several_{k}": t for k, t in both_kinds(app, "several", several).items()},
        **{f"echo_{k}": t for k, t in both_kinds(app, "echo", echo).items()},
    }
    async with env.serve(app):
        for key, task in tasks.items():
            if key.startswith("several"):
                result = await env.call(task.add_task, 2, timeout=LIMIT)
                assert result.returning == [{"name": "0", "value": 0}, {"name": "1", "value": 1}]
            elif key.startswith("echo"):
                result = await env.call(task.add_task, "e", 5, timeout=LIMIT)
                assert result.returning == {"item": {"name": "e", "value": 5}, "plain": 1}
            else:
                result = await env.call(task.add_task, "abc", timeout=LIMIT)
                assert result.returning == {"name": "abc", "value": 3}


# --- selection and import cost (no worker) -----------------------------------------------
def _schema(func: Callable[..., Any]) -> TaskExecSchema:
    return TaskExecSchema(priority=0, name=func.__name__, func=func)


def test_applies_only_to_tasks_that_use_models() -> None:
    def plain(a: int, b: str = "") -> int:
        return a

    def param(item: Item) -> None:
        return None

    def returns() -> list[Item]:
        return []

    def unresolvable(x: "NoSuchName") -> None:  # type: ignore[name-defined]  # noqa: F821
        return None

    assert not PydanticWrapperPlugin.applies(_schema(plain))
    assert not PydanticWrapperPlugin.applies(_schema(unresolvable))
    assert PydanticWrapperPlugin.applies(_schema(param))
    assert PydanticWrapperPlugin.applies(_schema(returns))
    assert AsyncPydanticWrapperPlugin is SyncPydanticWrapperPlugin is PydanticWrapperPlugin


def test_importing_qtasks_does_not_import_pydantic() -> None:
    code = (
        "import sys, qtasks, qtasks.asyncio, qtasks.plugins, qtasks.plugins.pydantic\n"
        "from qtasks import Depends\n"
        "assert 'pydantic' not in sys.modules, 'pydantic was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
