"""The dead-letter API of both apps: `dead_letters()`, `requeue_dead_letters()`,
`purge_dead_letters()`. Tasks are dead-lettered here by completing a delivery by hand,
as the engine does for a task delivered `max_deliveries` times."""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any

import pytest

from qtasks.app.task import DeadLetter
from qtasks.core.models import Completion
from qtasks.core.status import ERROR
from qtasks.exc import ArgumentTypeError, CapabilityError, ConfigError

from .conftest import LIMIT, Harness

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "sqlite"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    """The backends with dead letters on this branch (Redis: its own room)."""
    return str(request.param)


async def dead_letter(app: Any, task_name: str, *args: Any) -> str:
    """Enqueue a task, then take it out of delivery as the engine gives up on it."""
    backend = app.backend
    record = app._new_record(task_name, args, {}, None)
    await backend.enqueue([record])
    (d,) = await backend.fetch("default", 1, 30, "gave-up", 0)
    final = dataclasses.replace(
        d.record,
        status=ERROR,
        updated_at=time.time(),
        traceback="delivered 5 times without a report back",
        extra={"dead_letter": "delivered 5 times"},
    )
    await backend.complete([Completion(d, final, dead_letter="delivered 5 times")])
    return record.uuid


def app_with_task(h: Harness) -> Any:
    app = h.app()

    @app.task(name="add")
    def add(a: int, b: int) -> int:
        return a + b

    return app


async def test_list_requeue_and_run_again(h: Harness) -> None:
    app = app_with_task(h)
    first = await dead_letter(app, "add", 1, 2)
    second = await dead_letter(app, "add", 3, 4)
    letters = await h.call(app.dead_letters)
    assert all(isinstance(x, DeadLetter) for x in letters)
    assert [x.uuid for x in letters] == [second, first]
    assert letters[0].reason == "delivered 5 times" and letters[0].record is not None
    assert [x.uuid for x in await h.call(app.dead_letters, limit=1, offset=1)] == [first]
    task = await h.call(app.get, first)
    assert task is not None and task.status == ERROR and task.dead_letter == "delivered 5 times"

    assert await h.call(app.requeue_dead_letters, [uuid.UUID(first), str(uuid.uuid4())]) == 1
    task = await h.call(app.get, first)
    assert task is not None and task.status == "new" and "dead_letter" not in task.extra
    async with h.serving(app):
        done = await h.call(app.wait, first, LIMIT)
    assert done is not None and done.status == "success" and done.returning == 3
    assert [x.uuid for x in await h.call(app.dead_letters)] == [second]


async def test_purge_forgets_and_keeps_the_records(h: Harness) -> None:
    app = app_with_task(h)
    first = await dead_letter(app, "add", 1, 2)
    second = await dead_letter(app, "add", 3, 4)
    assert await h.call(app.purge_dead_letters, [first]) == 1
    assert await h.call(app.purge_dead_letters) == 1
    assert await h.call(app.dead_letters) == []
    assert await h.call(app.requeue_dead_letters) == 0
    for kept in (first, second):
        task = await h.call(app.get, kept)
        assert task is not None and task.status == ERROR


async def test_requeue_of_all(h: Harness) -> None:
    app = app_with_task(h)
    uuids = [await dead_letter(app, "add", i, i) for i in range(3)]
    assert await h.call(app.requeue_dead_letters, None) == 3
    async with h.serving(app):
        results = [await h.call(app.wait, u, LIMIT) for u in uuids]
    assert [t.returning for t in results] == [0, 2, 4]


async def test_bad_arguments_are_named(h: Harness) -> None:
    app = h.app()
    with pytest.raises(ArgumentTypeError, match=r"limit=.*int"):
        await h.call(app.dead_letters, limit="10")
    with pytest.raises(ConfigError, match=r"offset=.*>= 0"):
        await h.call(app.dead_letters, offset=-1)
    with pytest.raises(ArgumentTypeError, match=r"requeue_dead_letters\(uuids=.*list"):
        await h.call(app.requeue_dead_letters, str(uuid.uuid4()))
    with pytest.raises(ConfigError, match="Not a task uuid"):
        await h.call(app.purge_dead_letters, ["nope"])


async def test_a_backend_without_dead_letters_says_so(h: Harness) -> None:
    app = h.app()
    backend = app.backend
    backend.capabilities = dataclasses.replace(backend.capabilities, dead_letters=False)
    name = type(backend).__name__
    for method in (app.dead_letters, app.requeue_dead_letters, app.purge_dead_letters):
        with pytest.raises(CapabilityError, match=f"{name} does not support dead letters"):
            await h.call(method)
