"""`storage_url=` pairs the broker of `broker_url` with another result store."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import qtasks
from qtasks.backends.paired import PairedBackend


def test_broker_and_storage_urls_pair_and_run_tasks(tmp_path: Path) -> None:
    name = f"paired-{uuid.uuid4().hex[:8]}"
    db = tmp_path / "results.db"
    app = qtasks.QueueTasks(name, broker_url=f"memory://{name}", storage_url=f"sqlite:///{db}")
    assert isinstance(app.backend, PairedBackend)

    @app.task
    def add(a: int, b: int) -> int:
        return a + b

    with app.serve():
        task = add.add_task(2, 3, timeout=10)
    assert task is not None and task.returning == 5
    reader = qtasks.QueueTasks(name, broker_url=f"sqlite:///{db}")
    stored = reader.get(task.uuid)
    assert stored is not None and stored.status == "success" and stored.returning == 5


def test_storage_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"paired-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("QTASKS_STORAGE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    app = qtasks.QueueTasks(name, broker_url=f"memory://{name}")
    assert isinstance(app.backend, PairedBackend)


def test_a_storage_url_alone_is_the_backend(tmp_path: Path) -> None:
    app = qtasks.QueueTasks("alone", storage_url=f"sqlite:///{tmp_path / 'one.db'}")
    assert not isinstance(app.backend, PairedBackend)
    assert "one.db" in app.backend.describe()
