"""`qtasks run -A billing.tasks:app -A mail.tasks:app`: one process serves two apps,
each with its own tasks, config and logger; producers enqueue by task name without
importing the task code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from qtasks import QueueTasks

pytestmark = pytest.mark.e2e
QTASKS = [sys.executable, "-m", "qtasks"]
TWO_APPS = ["-A", "billing.tasks:app", "-A", "mail.tasks:app"]


def write(root: Path, url: str) -> None:
    files = {
        "billing/__init__.py": "",
        "billing/tasks.py": f"""
            from qtasks import QueueTasks
            from qtasks.configs import QueueConfig

            app = QueueTasks(name="billing", broker_url={url!r},
                             config=QueueConfig(max_tasks_process=2))

            @app.task(name="charge")
            def charge(cents: int) -> str:
                return f"billing charged {{cents}} (limit {{app.config.max_tasks_process}})"
        """,
        "mail/__init__.py": "",
        "mail/tasks.py": f"""
            import os
            from qtasks.asyncio import QueueTasks

            app = QueueTasks(name="mail", broker_url={url!r})

            @app.task(name="charge")  # the same name: a task of another app
            async def charge(cents: int) -> str:
                return f"mail's own charge {{cents}}"

            @app.task(name="send")
            async def send(to: str) -> dict:
                return {{"to": to, "pid": os.getpid()}}
        """,
    }
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body))


def test_one_process_serves_two_isolated_apps(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    write(tmp_path, url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
    env["PYTHONPATH"] = str(tmp_path)
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [*QTASKS, "run", *TWO_APPS, "--log-level", "INFO"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while log.read_text().count("Starting app") < 2:
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        # Producers: same names and URL, none of the task code.
        billing = QueueTasks(name="billing", broker_url=url)
        mail = QueueTasks(name="mail", broker_url=url)
        assert billing.add_task("charge", 5, timeout=20).returning == (
            "billing charged 5 (limit 2)"
        )
        assert mail.add_task("charge", 5, timeout=20).returning == "mail's own charge 5"
        sent = mail.add_task("send", "ada", timeout=20).returning
        assert sent == {"to": "ada", "pid": worker.pid}
        # billing's worker does not know mail's task
        unknown = billing.add_task("send", "ada", timeout=20)
        assert unknown.status == "error" and "send" in unknown.traceback
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=30)
    text = log.read_text()
    assert code == 0, text
    assert "[qtasks.billing: INFO]" in text and "[qtasks.mail: INFO]" in text
    assert "Stopped app 'billing' after 2 task(s)" in text
    assert "Stopped app 'mail' after 2 task(s)" in text


def test_one_app_commands_refuse_several(tmp_path: Path) -> None:
    write(tmp_path, f"sqlite:///{tmp_path / 'shared.db'}")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    proc = subprocess.run(
        [*QTASKS, "status", *TWO_APPS],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "status takes one app; -A was given 2 times" in proc.stderr


def test_several_processes_each_serving_both_apps(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    write(tmp_path, url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
    env["PYTHONPATH"] = str(tmp_path)
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [*QTASKS, "run", *TWO_APPS, "--processes", "2", "--log-level", "INFO"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while log.read_text().count("Starting app") < 4:  # two apps in each of two processes
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        mail = QueueTasks(name="mail", broker_url=url)
        billing = QueueTasks(name="billing", broker_url=url)
        sent = [mail.add_task("send", f"u{i}", timeout=20).returning for i in range(20)]
        charged = [billing.add_task("charge", i, timeout=20).status for i in range(5)]
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=30)
    assert code == 0, log.read_text()
    assert [s["to"] for s in sent] == [f"u{i}" for i in range(20)]
    pids = {s["pid"] for s in sent}
    assert worker.pid not in pids and 1 <= len(pids) <= 2  # run by the forked processes
    assert charged == ["success"] * 5
    assert log.read_text().count("Stopped app") == 4
