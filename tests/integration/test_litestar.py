"""The Starlette lifespan and `get_app(request)` serve Litestar as they are."""

from __future__ import annotations

import pytest
from litestar import Litestar, Request, get
from litestar.testing import AsyncTestClient

from qtasks.asyncio import QueueTasks
from qtasks.contrib.starlette import get_app, lifespan

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_litestar_lifespan_runs_the_worker() -> None:
    app = QueueTasks(name="litestar-demo", broker_url="memory://litestar-demo")

    @app.task(name="square")
    async def square(x: int) -> int:
        return x * x

    @get("/square-nine")
    async def route(request: Request) -> dict[str, int]:
        task = await get_app(request).add_task("square", 9, timeout=5)
        return {"result": task.returning}

    web = Litestar(route_handlers=[route], lifespan=[lifespan(app)])
    async with AsyncTestClient(app=web) as client:
        assert (await client.get("/square-nine")).json() == {"result": 81}
        assert app._running is not None
    assert app._running is None  # stopped with the web app
