"""The direct-write recipes of docs/producers.md, run as written (bash, redis-cli,
psql) against the real servers; a worker of the app must run the task they wrote."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from qtasks import QueueTasks

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "producers.md").read_text()
REDIS_URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def recipe(kind: str) -> str:
    match = re.search(rf"<!-- producer: {kind} -->\s*\n```bash\n(.*?)```", DOC, re.S)
    assert match, f"docs/producers.md has no {kind} recipe"
    return match.group(1)


def run_recipe(kind: str, app_name: str, **env: str) -> str:
    script = recipe(kind).replace("APP=billing-direct", f"APP={app_name}", 1)
    assert f"APP={app_name}" in script
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def serve_and_wait(app: QueueTasks, written: str) -> None:
    @app.task(name="add")
    def add(a: int, b: int) -> int:
        return a + b

    assert str(uuid.UUID(written)) == written
    with app.serve():
        task = app.wait(written, timeout=20)
    assert task is not None and (task.status, task.returning) == ("success", 5)
    assert (task.task_name, list(task.args)) == ("add", [2, 3])


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="needs redis-cli")
def test_redis_recipe_writes_a_task_a_worker_runs() -> None:
    name = f"producer-doc-{uuid.uuid4().hex[:8]}"
    app = QueueTasks(name=name, broker_url=REDIS_URL)
    try:
        written = run_recipe("redis", name, REDIS_URL=REDIS_URL)
        listed = [str(t.uuid) for t in app.list_tasks(status="new")]
        assert listed == [written]  # the listing indexes know it before it runs
        serve_and_wait(app, written)
        assert [str(t.uuid) for t in app.list_tasks(status="success")] == [written]
    finally:
        app.flush_all()


@pytest.mark.skipif(shutil.which("psql") is None, reason="needs psql")
def test_postgres_recipe_writes_a_task_a_worker_runs() -> None:
    name = f"producer-doc-{uuid.uuid4().hex[:8]}"
    app = QueueTasks(name=name, broker_url=PG_URL)
    app.flush_all()  # creates the schema when this server has none yet
    try:
        # A worker already waiting is woken by the recipe's NOTIFY.
        @app.task(name="add")
        def add(a: int, b: int) -> int:
            return a + b

        with app.serve():
            written = run_recipe("postgres", name, DATABASE_URL=PG_URL)
            task = app.wait(written, timeout=20)
        assert task is not None and (task.status, task.returning) == ("success", 5)
        assert [str(t.uuid) for t in app.list_tasks(status="success")] == [written]
    finally:
        app.flush_all()
