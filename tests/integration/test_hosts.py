"""qtasks inside other hosts: gunicorn with several forked workers, uvicorn with
several workers, the systemd unit's command stopped the way systemd stops it, the
container entrypoint stopped by SIGTERM, a Jupyter kernel (a running loop), and the
pytest fixtures of `qtasks.tests.pytest_plugin`."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from qtasks import QueueTasks

from .processes import wait_for_log

ROOT = Path(__file__).resolve().parents[2]
HOSTS = ROOT / "examples" / "hosts"
REDIS_URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
BIN = Path(sys.executable).parent
GUNICORN_OPTIONS = ["--preload", "--workers", "3"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def host_env(url: str, name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
    env.update(
        QTASKS_BROKER_URL=url,
        HOSTS_APP_NAME=name,
        PYTHONPATH=str(HOSTS),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(command, cwd=HOSTS, env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("url", [REDIS_URL, PG_URL, "sqlite"], ids=["redis", "postgres", "sqlite"])
def test_gunicorn_preloaded_app_forked_into_several_workers(url: str, tmp_path: Path) -> None:
    if url == "sqlite":
        url = f"sqlite:///{tmp_path / 'q.db'}"
    name = f"hosts-gunicorn-{uuid.uuid4().hex[:8]}"
    env = host_env(url, name)
    port = free_port()
    worker = start(
        [sys.executable, "-m", "qtasks", "-A", "tasks:app", "run", "--log-level", "INFO"],
        env,
        tmp_path / "worker.log",
    )
    web = start(
        [
            str(BIN / "gunicorn"),
            *GUNICORN_OPTIONS,
            "--bind",
            f"127.0.0.1:{port}",
            "wsgi_site:application",
        ],
        env,
        tmp_path / "gunicorn.log",
    )
    try:
        wait_for_log(tmp_path / "worker.log", "Starting app", worker)
        wait_for_log(tmp_path / "gunicorn.log", "Booting worker", web, count=3)
        answers = []
        for _ in range(30):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as r:
                answers.append(json.loads(r.read()))
    finally:
        web.terminate()
        worker.terminate()
        assert web.wait(timeout=30) == 0, (tmp_path / "gunicorn.log").read_text()
        assert worker.wait(timeout=30) == 0, (tmp_path / "worker.log").read_text()
        QueueTasks(name=name, broker_url=url).flush_all()
    assert {a["status"] for a in answers} == {"success"}
    assert {a["result"]["pid"] for a in answers} == {worker.pid}
    # Keep-alive is off in gunicorn's sync workers: requests spread over the forks.
    assert len({a["web_pid"] for a in answers}) >= 2, answers


def test_uvicorn_with_several_workers(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
    env["QTASKS_BROKER_URL"] = f"sqlite:///{tmp_path / 'q.db'}"
    port = free_port()
    service = ROOT / "examples" / "fastapi_service"
    with (tmp_path / "uvicorn.log").open("w") as out:
        web = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "service:api", "--workers", "2", "--port", str(port)],
            cwd=service,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_log(tmp_path / "uvicorn.log", "Application startup complete", web, count=2)
        results = []
        for i in range(10):  # the two processes' workers share the SQLite file
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/reports?user=u{i}&pages=1&wait=10", method="POST"
            )
            with urllib.request.urlopen(req, timeout=30) as r:
                results.append(json.loads(r.read())["report"]["user"])
    finally:
        web.terminate()
        web.wait(timeout=30)
    assert results == [f"u{i}" for i in range(10)]
    log = (tmp_path / "uvicorn.log").read_text()
    assert log.count("Starting app 'reports'") == 2  # one in-process worker per process
    assert log.count("Stopped app 'reports'") == 2, log


def slow_task_then_sigterm(
    command: list[str], env: dict[str, str], tmp_path: Path, name: str, url: str
) -> tuple[int, str, object]:
    """Start `command`, give it a 2 s task, SIGTERM it while the task runs: returns the
    exit code, the log and the task's final record."""
    proc = start(command, env, tmp_path / "host.log")
    client = QueueTasks(name=name, broker_url=url)
    try:
        wait_for_log(tmp_path / "host.log", "Starting app", proc)
        task = client.add_task("hosts.work", 2.0)
        deadline = time.monotonic() + 20
        while client.get(task.uuid).status != "process":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # Leased ("process") comes a moment before the function starts; a task leased
        # but not started when SIGTERM comes is released to the queue instead.
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        return code, (tmp_path / "host.log").read_text(), client.get(task.uuid)
    finally:
        if proc.poll() is None:
            proc.kill()
        client.flush_all()


def test_systemd_unit_command_stops_gracefully_on_its_kill_signal(tmp_path: Path) -> None:
    unit = (HOSTS / "qtasks-worker.service").read_text()
    fields = dict(
        line.split("=", 1) for line in unit.splitlines() if "=" in line and line[0] != "#"
    )
    assert (fields["KillSignal"], fields["KillMode"]) == ("SIGTERM", "mixed")
    assert float(fields["TimeoutStopSec"]) > 10.0  # above the default shutdown_grace
    command = shlex.split(fields["ExecStart"])
    assert command[0].endswith("/bin/qtasks")
    command = [str(BIN / "qtasks"), *command[1:], "--log-level", "INFO"]
    name = f"hosts-systemd-{uuid.uuid4().hex[:8]}"
    code, log, task = slow_task_then_sigterm(
        command, host_env(REDIS_URL, name), tmp_path, name, REDIS_URL
    )
    assert code == 0, log
    assert task.status == "success", log  # the running task finished before the exit


def test_container_entrypoint_is_pid_of_the_worker_and_stops_on_sigterm(tmp_path: Path) -> None:
    name = f"hosts-container-{uuid.uuid4().hex[:8]}"
    env = host_env(REDIS_URL, name)
    code, log, task = slow_task_then_sigterm(
        [str(HOSTS / "entrypoint.sh")], env, tmp_path, name, REDIS_URL
    )
    assert code == 0, log
    assert task.status == "success", log
    assert "Received SIGTERM: shutting down gracefully" in log


def test_jupyter_kernel_with_its_running_loop(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    cells = [
        """
        from qtasks.asyncio import QueueTasks
        app = QueueTasks(name="nb-async", broker_url="memory://nb-async")

        @app.task
        async def double(x: int) -> int:
            return 2 * x

        await app.start()        # the kernel's loop runs the worker
        print((await double.add_task(21, timeout=5)).returning)
        await app.stop()
        """,
        """
        from qtasks import QueueTasks as SyncQueueTasks
        sync_app = SyncQueueTasks(name="nb-sync", broker_url="sqlite:///nb.db")

        @sync_app.task
        def triple(x: int) -> int:
            return 3 * x

        with sync_app.serve():   # its own thread and loop, beside the kernel's
            print(triple.add_task(5, timeout=5).returning)
        """,
    ]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in cells]
    NotebookClient(
        notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    printed = [
        o["text"].strip() for c in notebook.cells for o in c.outputs if o.get("name") == "stdout"
    ]
    assert printed == ["42", "15"]


def test_pytest_fixtures_in_a_users_suite(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["qtasks.tests.pytest_plugin"]\n')
    (tmp_path / "myapp.py").write_text(
        textwrap.dedent(
            """
            from qtasks import QueueTasks
            from qtasks.asyncio import QueueTasks as AsyncQueueTasks

            app = QueueTasks(name="shop", broker_url="redis://127.0.0.1:1/0")  # never reached
            aapp = AsyncQueueTasks(name="ashop", broker_url="redis://127.0.0.1:1/0")

            @app.task
            def add(a: int, b: int) -> int:
                return a + b

            @aapp.task
            async def mul(a: int, b: int) -> int:
                return a * b
            """
        )
    )
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import asyncio
            from myapp import aapp, add, app, mul

            def test_eager(qtasks_eager):
                qtasks_eager(app)
                assert add.add_task(2, 3, timeout=5).returning == 5

            def test_queued_only(qtasks_in_memory):
                qtasks_in_memory(app)
                task = add.add_task(1, 1)
                assert app.get(task.uuid).status == "new"

            def test_nothing_left_from_the_other_tests(qtasks_in_memory):
                qtasks_in_memory(app)
                assert app.backend.url.startswith("memory://test-")

            def test_async_app_eager_inside_a_running_loop(qtasks_eager):
                qtasks_eager(aapp)

                async def main():
                    return (await mul.add_task(6, 7, timeout=5)).returning

                assert asyncio.run(main()) == 42
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed" in proc.stdout
