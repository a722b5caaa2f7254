"""The harness of the feature tests: one app kind (facade x backend) per parametrised
test, with sync client calls sent to a thread so the test's loop stays free."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

import qtasks
import qtasks.asyncio

REDIS_URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PG_URL = os.environ.get("QTASKS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
KINDS = [(f, b) for f in ("sync", "async") for b in ("memory", "sqlite", "redis", "postgres")]


class Env:
    def __init__(self, facade: str, backend: str, tmp_path: Path) -> None:
        self.facade, self.backend, self.tmp_path = facade, backend, tmp_path
        self.is_async = facade == "async"
        self.apps: list[Any] = []

    def app(self, name: str = "app") -> Any:
        tag = uuid.uuid4().hex[:8]
        url = {
            "memory": f"memory://{name}-{tag}",
            "sqlite": f"sqlite:///{self.tmp_path}/{name}-{tag}.db",
            "redis": REDIS_URL,
            "postgres": PG_URL,
        }[self.backend]
        cls = qtasks.asyncio.QueueTasks if self.is_async else qtasks.QueueTasks
        app = cls(f"{name}-{tag}", broker_url=url)
        self.apps.append(app)
        return app

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return await fn(*args, **kwargs)
        return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))

    @contextlib.asynccontextmanager
    async def serve(self, app: Any) -> AsyncIterator[None]:
        if self.is_async:
            async with app.serve():
                yield
        else:
            with app.serve():
                yield

    async def close(self) -> None:
        for app in self.apps:
            if self.backend in ("redis", "postgres"):
                with contextlib.suppress(Exception):
                    await app.backend.purge()
            with contextlib.suppress(Exception):
                await app.backend.close()
            with contextlib.suppress(Exception):
                app.backend.close_sync()


@pytest.fixture(params=KINDS, ids=lambda p: "-".join(p))
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    facade, backend = request.param
    e = Env(facade, backend, tmp_path)
    yield e
    await e.close()
