"""The Flask example: `flask qtasks worker` in its own process, a request that enqueues
and waits, the task reading the Flask app's config through `current_app`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .processes import wait_for_log

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "examples" / "flask_site"


def test_flask_qtasks_worker_runs_tasks_in_the_app_context(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
    env.update(PYTHONPATH=str(SITE), SITE_QTASKS_URL=f"sqlite:///{tmp_path / 'q.db'}")
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "site_app",
                "qtasks",
                "worker",
                "--log-level=INFO",
            ],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_log(log, "Starting app", worker)
        client = (
            "import json, site_app\n"
            "web = site_app.create_app()\n"
            "print(json.dumps(web.test_client().post('/greet/ada').get_json()))"
        )
        proc = subprocess.run(
            [sys.executable, "-c", client], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == '{"greeting": "Hello, ada", "status": "success"}'
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0, log.read_text()
    assert "app 'site'" in log.read_text() and "tasks=1" in log.read_text()


def test_init_app_refuses_settings_it_would_ignore() -> None:
    from flask import Flask

    from qtasks.contrib.flask import QTasks
    from qtasks.exc import ConfigError

    ext = QTasks()

    @ext.task(name="early")
    def early() -> None: ...

    web = Flask("refuse")
    web.config["QTASKS_BROKER_URL"] = "memory://refuse"
    with pytest.raises(ConfigError, match="built before init_app"):
        ext.init_app(web)
