"""Fixtures of the dashboard tests: a small app (sync or async facade) on SQLite with a
succeeded and a failed task, and a TestClient of its dashboard."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import qtasks
import qtasks.asyncio
from qtasks.configs import QueueConfig
from qtasks.core.models import Completion
from qtasks.web.dashboard import dashboard

with warnings.catch_warnings():  # starlette: "install httpx2 instead"; not ours to fix
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

#: Every wait here is bounded by this (seconds).
LIMIT = 10.0
ORIGIN = "http://testserver"


def make_app(url: str, facade: str = "sync", name: str = "dash", **config: Any) -> Any:
    cls = qtasks.QueueTasks if facade == "sync" else qtasks.asyncio.QueueTasks
    app = cls(name=name, broker_url=url, config=QueueConfig(**config))

    @app.task(name="add")
    def add(a: int, b: int) -> int:
        return a + b

    @app.task(name="charge")
    def charge(amount: int) -> None:
        raise ValueError(f"card declined for {amount}")

    return app


def fill(app: Any) -> dict[str, str]:
    """Run `add(1, 2)` (success) and `charge(5)` (error); queue `add(3, 4)` on `mail`."""
    if isinstance(app, qtasks.asyncio.QueueTasks):
        return asyncio.run(fill_async(app))
    with app.serve():
        ok = app.add_task("add", 1, 2, timeout=LIMIT)
        bad = app.add_task("charge", 5, timeout=LIMIT)
    queued = app.enqueue("add", [3, 4], queue="mail")
    return {"ok": str(ok.uuid), "bad": str(bad.uuid), "queued": str(queued.uuid)}


async def fill_async(app: Any) -> dict[str, str]:
    async with app.serve():
        ok = await app.add_task("add", 1, 2, timeout=LIMIT)
        bad = await app.add_task("charge", 5, timeout=LIMIT)
    queued = await app.enqueue("add", [3, 4], queue="mail")
    return {"ok": str(ok.uuid), "bad": str(bad.uuid), "queued": str(queued.uuid)}


def dead_letter(app: Any, task_name: str, *args: Any) -> str:
    """Take a task out of delivery as the engine does when it gives up on one."""

    async def run() -> str:
        backend = app.backend
        record = app._new_record(task_name, args, {}, None)
        await backend.enqueue([record])
        (d,) = await backend.fetch("default", 1, 30, "gave-up", 0)
        final = dataclasses.replace(
            d.record, status="error", updated_at=time.time(), traceback="gave up"
        )
        await backend.complete([Completion(d, final, dead_letter="delivered 5 times")])
        return str(record.uuid)

    return asyncio.run(run())


@pytest.fixture(params=["sync", "async"])
def facade(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app(tmp_path: Path) -> Any:
    return make_app(f"sqlite:///{tmp_path}/dash.db")


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(dashboard(app, sample_interval=0.2)) as c:
        yield c


#: Starlette warns that its TestClient moves to `httpx2`: not ours to fix.
NO_HTTPX2_WARNING = pytest.mark.filterwarnings(
    "ignore:Using `httpx` with `starlette.testclient` is deprecated"
)


def csrf_of(html: str) -> str:
    """The CSRF token in a confirmation page's form."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def confirm_and_post(
    client: TestClient, action: str, fields: dict[str, str], **headers: str
) -> Any:
    """Open the confirmation page of `action`, then post its form as a browser would."""
    page = client.get(f"/confirm/{action}", params=fields)
    assert page.status_code == 200, page.text
    data = {"csrf": csrf_of(page.text), **fields}
    return client.post(
        f"/do/{action}",
        data=data,
        headers={"origin": ORIGIN, **headers},
        follow_redirects=False,
    )
