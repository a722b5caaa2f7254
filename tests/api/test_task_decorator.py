"""`@app.task`: bare and called, every option stored and visible, names."""

from __future__ import annotations

from typing import Any

import pytest

from qtasks.exc import QTasksError
from qtasks.registries.task import AsyncTask, SyncTask

pytestmark = pytest.mark.anyio

LIMIT = 10.0


class MyExecutor:
    pass


class Before:
    pass


class After:
    pass


def _decode(value: Any) -> Any:
    return {"wrapped": value}


def _handler(item: Any) -> Any:
    return item * 10


async def test_bare_decorator_registers_with_defaults(h: Any) -> None:
    app = h.app(task_default_priority=7)

    @app.task
    def plain(x: int) -> int:
        return x

    expected = AsyncTask if h.is_async else SyncTask
    assert type(plain) is expected
    assert plain.task_name == plain.name == "plain"
    assert plain.priority == 7  # bare @app.task takes the config default
    assert plain.echo is False
    assert plain.max_time is None
    assert plain.retry is None
    assert plain.retry_on_exc is None
    assert plain.decode is None
    assert plain.tags is None
    assert plain.description is None
    assert plain.generate_handler is None
    assert plain.executor is None
    assert plain.middlewares_before == []
    assert plain.middlewares_after == []
    assert plain.extra == {}
    assert app.tasks["plain"].func is plain.func
    assert plain.app is app


async def test_called_decorator_stores_every_option(h: Any) -> None:
    app = h.app()

    @app.task(
        "full",
        priority=3,
        echo=True,
        max_time=2.5,
        retry=4,
        retry_on_exc=[KeyError, ValueError],
        decode=_decode,
        tags=["a", "b"],
        description="does everything",
        generate_handler=_handler,
        executor=MyExecutor,
        middlewares_before=[Before],
        middlewares_after=[After],
        custom_flag=True,
        owner="team-x",
    )
    async def full_func(self: Any) -> None:
        return None

    assert full_func.task_name == "full"
    assert full_func.priority == 3
    assert full_func.echo is True
    assert full_func.max_time == 2.5
    assert full_func.retry == 4
    assert full_func.retry_on_exc == [KeyError, ValueError]
    assert full_func.decode is _decode
    assert full_func.tags == ["a", "b"]
    assert full_func.description == "does everything"
    assert full_func.generate_handler is _handler
    assert full_func.executor is MyExecutor
    assert full_func.middlewares_before == [Before]
    assert full_func.middlewares_after == [After]
    assert full_func.extra == {"custom_flag": True, "owner": "team-x"}
    # the app's schema holds the same options
    schema = app.tasks["full"]
    assert schema.priority == 3 and schema.retry == 4 and schema.echo is True
    assert schema.extra == {"custom_flag": True, "owner": "team-x"}
    assert schema.awaiting is True


async def test_called_decorator_without_name_uses_function_name(h: Any) -> None:
    app = h.app()

    @app.task(priority=0)
    def named_by_func() -> None:
        return None

    assert named_by_func.task_name == "named_by_func"
    assert named_by_func.priority == 0  # an explicit 0 is not replaced by the default
    assert "named_by_func" in app.tasks


async def test_keyword_name_option(h: Any) -> None:
    app = h.app()

    @app.task(name="kw_name")
    def f() -> None:
        return None

    assert f.task_name == "kw_name"
    assert "kw_name" in app.tasks and "f" not in app.tasks


async def test_duplicate_name_raises_value_error(h: Any) -> None:
    app = h.app()

    @app.task
    def dup() -> int:
        return 1

    with pytest.raises(ValueError, match="dup"):

        @app.task(name="dup")
        def other() -> int:
            return 2

    assert app.tasks["dup"].func is dup.func


@pytest.mark.parametrize("name", ["ns:job", "задача-юникод", "with spaces", "a:b:c ☃"])
async def test_odd_task_names_round_trip(h: Any, name: str) -> None:
    app = h.app()

    @app.task(name)
    def odd(x: int) -> str:
        return f"{name}/{x}"

    async with h.serving(app):
        task = await h.call(odd.add_task, 5, timeout=LIMIT)
        by_name = await h.call(app.add_task, name, 6, timeout=LIMIT)
    assert task is not None and task.status == "success", task
    assert task.task_name == name and task.returning == f"{name}/5"
    assert by_name is not None and by_name.returning == f"{name}/6"


@pytest.mark.parametrize("bad", ["", "   ", 123, 4.5, b"bytes"])
async def test_empty_or_non_str_name_is_a_clear_error(h: Any, bad: Any) -> None:
    app = h.app()
    with pytest.raises((ValueError, TypeError)) as info:
        app.task(bad)(lambda: None)
    assert "name" in str(info.value)
    assert app.tasks == {}


@pytest.mark.parametrize("bad", ["", 42])
async def test_add_task_with_bad_name_is_a_clear_error(h: Any, bad: Any) -> None:
    app = h.app()
    with pytest.raises((ValueError, TypeError), match="name"):
        await h.call(app.add_task, bad)


async def test_bad_option_values_are_rejected(h: Any) -> None:
    app = h.app()
    with pytest.raises(ValueError, match="retry"):
        app.task(retry=-1)(lambda: None)
    with pytest.raises(ValueError, match="max_time"):
        app.task(max_time=0)(lambda: None)


async def test_app_name_must_be_a_non_empty_string(h: Any) -> None:
    for bad in ("", None, 5):
        with pytest.raises((QTasksError, ValueError)):
            h.cls(bad, broker_url=h.url)
