"""`qtasks.web.api` served by uvicorn and driven with plain HTTP requests; the producer
process does not import the task code, a separate worker process defines it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qtasks.contrib.fastapi import QTasksApp  # FastAPI reads route annotations from globals


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def request(url: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def start(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:  # the child keeps its own descriptor
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    (tmp_path / "billing_worker.py").write_text(
        textwrap.dedent(f"""
        from qtasks import QueueTasks
        app = QueueTasks(name="billing", broker_url={url!r})

        @app.task(name="billing.invoice")
        def invoice(customer: str, cents: int) -> dict:
            return {{"customer": customer, "total": cents / 100}}

        @app.task(name="billing.fail")
        def fail() -> None:
            raise ValueError("no such customer")
        """)
    )
    # The producer's own module: the same app name and URL, no task code.
    (tmp_path / "producer.py").write_text(
        f"from qtasks import QueueTasks\napp = QueueTasks(name='billing', broker_url={url!r})\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
    env.update(PYTHONPATH=str(tmp_path), QTASKS_API_APP="producer:app")
    port = free_port()
    worker = start(
        [sys.executable, "-m", "qtasks", "-A", "billing_worker:app", "run"],
        tmp_path,
        env,
        tmp_path / "worker.log",
    )
    api = start(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "qtasks.web.api:from_env",
            "--port",
            str(port),
        ],
        tmp_path,
        env,
        tmp_path / "api.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                request(f"{base}/openapi.json")
                break
            except urllib.error.URLError:
                assert api.poll() is None, (tmp_path / "api.log").read_text()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        yield base
    finally:
        for proc in (api, worker):
            proc.terminate()
            proc.wait(timeout=30)


def test_enqueue_get_wait_over_plain_http(served: str) -> None:
    status, done = request(
        f"{served}/tasks",
        {"name": "billing.invoice", "args": ["acme"], "kwargs": {"cents": 1250}, "timeout": 20},
    )
    assert status == 200, done
    assert (done["status"], done["returning"]) == ("success", {"customer": "acme", "total": 12.5})

    status, queued = request(f"{served}/tasks", {"name": "billing.invoice", "args": ["b", 5]})
    assert status == 201 and queued["status"] == "new"
    status, waited = request(f"{served}/tasks/{queued['uuid']}/wait?timeout=20")
    assert (status, waited["returning"]) == (200, {"customer": "b", "total": 0.05})
    status, read = request(f"{served}/tasks/{queued['uuid']}")
    assert (status, read["status"], read["task_name"]) == (200, "success", "billing.invoice")

    status, failed = request(f"{served}/tasks", {"name": "billing.fail", "timeout": 20})
    assert (status, failed["status"]) == (200, "error")
    assert "no such customer" in failed["traceback"]


def test_errors_are_answered_with_their_status(served: str) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    assert request(f"{served}/tasks/{unknown}")[0] == 404
    assert request(f"{served}/tasks/{unknown}/wait?timeout=0.2")[0] == 404
    assert request(f"{served}/tasks/not-a-uuid")[0] == 400
    assert request(f"{served}/tasks", raw=b"{not json")[0] == 400
    assert request(f"{served}/tasks", {"args": []})[0] == 400
    assert request(f"{served}/tasks", {"name": "x", "colour": "red"})[0] == 400
    assert request(f"{served}/tasks", {"name": "x", "delay": -1})[0] == 400
    assert request(f"{served}/tasks", {"name": "x", "priority": "high"})[0] == 400
    assert request(f"{served}/tasks", {"name": "x", "queue": 5})[0] == 400
    assert request(f"{served}/tasks", {"name": "x", "args": {"a": 1}})[0] == 400
    assert request(f"{served}/nowhere")[0] == 404


def test_openapi_document_describes_the_routes(served: str) -> None:
    from openapi_spec_validator import validate

    status, spec = request(f"{served}/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.1")
    validate(spec)  # raises on a document that breaks the OpenAPI 3.1 schema
    assert spec["info"]["title"] == "qtasks: billing"
    assert {op["operationId"] for path in spec["paths"].values() for op in path.values()} == {
        "enqueue",
        "get",
        "wait",
    }
    refs = json.dumps(spec["paths"])
    for name in spec["components"]["schemas"]:
        assert f"#/components/schemas/{name}" in refs


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_starlette_lifespan_with_a_sync_app(anyio_backend: str) -> None:
    import asyncio

    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from qtasks import QueueTasks
    from qtasks.contrib.starlette import get_app, lifespan

    app = QueueTasks(name="starlette-sync", broker_url="memory://starlette-sync")

    @app.task
    def square(x: int) -> int:
        return x * x

    async def route(request: Request) -> JSONResponse:
        tasks = get_app(request)
        task = await asyncio.to_thread(tasks.add_task, "square", 7, timeout=10)
        return JSONResponse({"result": task.returning})

    web = Starlette(routes=[Route("/square", route)], lifespan=lifespan(app))
    async with web.router.lifespan_context(web):
        assert app._background is not None  # the worker runs on its own thread
        transport = httpx.ASGITransport(app=web)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/square")).json() == {"result": 49}
    assert app._background is None  # and stopped with the web app


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_an_unreachable_backend_is_answered_with_503(anyio_backend: str) -> None:
    import httpx

    from qtasks import QueueTasks
    from qtasks.web.api import create_api

    app = QueueTasks(name="web-down", broker_url="postgresql://postgres@127.0.0.1:1/test")  # closed
    transport = httpx.ASGITransport(app=create_api(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        queued = await client.post("/tasks", json={"name": "x"})
        read = await client.get("/tasks/00000000-0000-0000-0000-000000000000")
    assert (queued.status_code, read.status_code) == (503, 503)
    assert queued.json()["error"].startswith("BackendUnavailableError")


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_client_only_lifespan_starts_no_worker(anyio_backend: str) -> None:
    """`lifespan(app, worker=False)`: routes get the app, tasks wait for `qtasks run`."""
    import httpx
    from fastapi import FastAPI

    from qtasks.asyncio import QueueTasks
    from qtasks.contrib.fastapi import lifespan

    app = QueueTasks(name="client-only", broker_url="memory://client-only")
    api = FastAPI(lifespan=lifespan(app, worker=False))

    @api.post("/jobs")
    async def create(tasks: QTasksApp) -> dict[str, str]:
        task = await tasks.add_task("somewhere.else")
        return {"uuid": str(task.uuid)}

    async with api.router.lifespan_context(api):
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            uuid = (await client.post("/jobs")).json()["uuid"]
        assert app._running is None  # no worker in this process
        await asyncio.sleep(0.2)
        assert (await app.get(uuid)).status == "new"  # queued for a worker elsewhere
    async with app.serve():  # a worker (here the same process) picks it up
        done = await app.wait(uuid, timeout=5)
    assert done is not None and done.status == "error"  # nobody defines somewhere.else
