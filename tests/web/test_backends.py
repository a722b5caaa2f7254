"""The dashboard on every backend that lists tasks (the real servers: Redis, PostgreSQL,
NATS), through both facades: the pages show the records, and a retry goes through."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from qtasks.web.dashboard import dashboard

from .conftest import (
    NO_HTTPX2_WARNING,
    ORIGIN,
    TestClient,
    confirm_and_post,
    csrf_of,
    fill,
    fill_async,
    make_app,
)

pytestmark = NO_HTTPX2_WARNING

REDIS_URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PG_URL = os.environ.get("QTASKS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
NATS_URL = os.environ.get("QTASKS_TEST_NATS_URL", "nats://127.0.0.1:4222")


def url_of(kind: str, tmp_path: Path) -> str:
    return {
        "memory": f"memory://web-{uuid.uuid4().hex[:8]}",
        "sqlite": f"sqlite:///{tmp_path}/web.db",
        "redis": REDIS_URL,
        "postgres": PG_URL,
        "nats": NATS_URL,
    }[kind]


KINDS = ["memory", "sqlite", "redis", "postgres", "nats"]


@pytest.mark.parametrize("kind", KINDS)
def test_sync_app_on_every_backend(kind: str, tmp_path: Path) -> None:
    app = make_app(url_of(kind, tmp_path), "sync", name=f"web-{uuid.uuid4().hex[:8]}")
    try:
        ids = fill(app)
        with TestClient(dashboard(app)) as client:
            check_pages(client, ids)
            done = confirm_and_post(client, "retry", {"uuid": ids["bad"]})
            assert done.status_code == 303 and "/tasks/" in done.headers["location"]
            copy = done.headers["location"].split("?")[0].rsplit("/", 1)[1]
            assert ids["bad"] in client.get(f"/tasks/{copy}").text  # the chain
    finally:
        app.flush_all()


def check_pages(client: Any, ids: dict[str, str]) -> None:
    overview = client.get("/").text
    assert 'data-queue="default"' in overview and 'data-queue="mail"' in overview
    listing = client.get("/tasks").text
    assert all(f'data-uuid="{u}"' in listing for u in ids.values())
    errors = client.get("/tasks", params={"status": "error"}).text
    assert ids["bad"] in errors and ids["ok"] not in errors
    assert "card declined for 5" in client.get(f"/tasks/{ids['bad']}").text
    assert client.get("/dead").status_code == 200


@pytest.mark.parametrize("kind", KINDS)
def test_async_app_on_every_backend(kind: str, tmp_path: Path) -> None:
    """All in the one event loop the async app and its connections belong to, as when
    the dashboard is mounted in the ASGI app that runs the async app."""
    app = make_app(url_of(kind, tmp_path), "async", name=f"web-{uuid.uuid4().hex[:8]}")

    async def run() -> None:
        try:
            ids = await fill_async(app)
            transport = httpx.ASGITransport(app=dashboard(app))
            async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
                overview = (await client.get("/")).text
                assert 'data-queue="mail"' in overview
                listing = (await client.get("/tasks", params={"status": "error"})).text
                assert ids["bad"] in listing and ids["ok"] not in listing
                confirm = await client.get("/confirm/retry", params={"uuid": ids["bad"]})
                done = await client.post(
                    "/do/retry",
                    data={"csrf": csrf_of(confirm.text), "uuid": ids["bad"]},
                    headers={"origin": ORIGIN},
                )
                assert done.status_code == 303
            task = await app.get(ids["bad"])
            assert task is not None and "retried_as" in task.extra
        finally:
            await app.flush_all()
            await app.backend.close()

    asyncio.run(run())
