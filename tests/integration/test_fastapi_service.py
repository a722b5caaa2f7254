"""The FastAPI example service: through httpx's ASGI transport (lifespan run by the
test), and once under a real uvicorn server in its own process."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "examples" / "fastapi_service"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def load_service() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastapi_service_example", SERVICE / "service.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def events_of(text: str) -> list[Any]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


async def test_service_through_the_asgi_transport() -> None:
    service = load_service()
    api = service.api
    async with api.router.lifespan_context(api):
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            done = await client.post("/reports", params={"user": "ada", "wait": 10})
            assert done.status_code == 200
            assert done.json()["report"] == {"user": "ada", "pages": 3, "title": "Report for ada"}
            queued = (await client.post("/reports", params={"user": "bob", "pages": 10})).json()
            assert queued["status"] in {"new", "process"}
            async with client.stream("GET", f"/reports/{queued['uuid']}/events") as stream:
                text = "".join([chunk async for chunk in stream.aiter_text()])
            events = events_of(text)
            assert events[-1] == {"status": "success", "progress": 1.0}
            assert all(a != b for a, b in itertools.pairwise(events))  # changes only
            progress = [e["progress"] for e in events if e["progress"] is not None]
            assert progress == sorted(progress)  # reports only grow
            read = (await client.get(f"/reports/{queued['uuid']}")).json()
            assert read["report"]["pages"] == 10
            missing = await client.get("/reports/00000000-0000-0000-0000-000000000000")
            assert missing.status_code == 404
            # The qtasks HTTP API mounted beside the routes.
            by_name = await client.post(
                "/qtasks/tasks",
                json={
                    "name": "reports.build",
                    "args": ["cy"],
                    "kwargs": {"pages": 1},
                    "timeout": 10,
                },
            )
            assert by_name.status_code == 200 and by_name.json()["returning"]["user"] == "cy"
    assert not service.app._server or service.app._running is None  # stopped with the app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_service_under_uvicorn(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
    with (tmp_path / "uvicorn.log").open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "service:api", "--port", str(port)],
            cwd=SERVICE,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/qtasks/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, (tmp_path / "uvicorn.log").read_text()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        done = httpx.post(f"{base}/reports", params={"user": "uv", "wait": 10}, timeout=15)
        assert done.json()["report"]["title"] == "Report for uv"
        queued = httpx.post(f"{base}/reports", params={"user": "uv", "pages": 6}).json()
        with httpx.stream("GET", f"{base}/reports/{queued['uuid']}/events", timeout=15) as r:
            events = events_of(r.read().decode())
        assert events[-1] == {"status": "success", "progress": 1.0}
    finally:
        server.terminate()
        code = server.wait(timeout=30)
        # uvicorn shuts down gracefully, then ends by the signal it was sent.
        assert code in (0, -15), (tmp_path / "uvicorn.log").read_text()
    assert "Application shutdown complete" in (tmp_path / "uvicorn.log").read_text()
