"""`qtasks schedule list|pause|resume|remove|run-now`, `qtasks beat` and
`qtasks run --no-scheduler`, on a real SQLite file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from qtasks import QueueTasks
from qtasks.cli import main

pytestmark = pytest.mark.e2e

APP_SOURCE = textwrap.dedent(
    """
    from qtasks import QueueTasks

    app = QueueTasks("{name}", broker_url="sqlite:///{db}")
    app.schedule("report", "make_report", cron="0 3 * * *", tz="Europe/Berlin", args=(7,))


    @app.task(schedule=1)
    def beat_tick():
        return 1


    @app.task
    def make_report(n):
        return n
    """
)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    module = f"sched_cli_{uuid.uuid4().hex[:8]}"
    name = f"cli-{uuid.uuid4().hex[:6]}"
    db = tmp_path / "cli.db"
    (tmp_path / f"{module}.py").write_text(APP_SOURCE.format(name=name, db=db))
    sys.path.insert(0, str(tmp_path))
    try:
        yield f"{module}:app", name, db
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(module, None)


def test_schedule_commands(
    target: tuple[str, str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    app_path, name, db = target
    assert main(["-A", app_path, "schedule", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["beat_tick", "report"]
    report = out[1]
    assert "active" in report and "cron '0 3 * * *' in Europe/Berlin" in report
    assert "task=make_report" in report and "next=20" in report
    assert main(["-A", app_path, "schedule", "pause", "report"]) == 0
    assert capsys.readouterr().out.strip() == "Schedule 'report' paused"
    assert main(["-A", app_path, "schedule", "list"]) == 0
    assert "report  paused  next=-" in capsys.readouterr().out
    assert main(["-A", app_path, "schedule", "resume", "report"]) == 0
    assert main(["-A", app_path, "schedule", "run-now", "report"]) == 0
    said = capsys.readouterr().out.strip().splitlines()[-1]
    assert said.startswith("Schedule 'report' enqueued as task ")
    task = QueueTasks(name, broker_url=f"sqlite:///{db}").get(said.rsplit(" ", 1)[1])
    assert task is not None and task.task_name == "make_report" and list(task.args) == [7]
    assert main(["-A", app_path, "schedule", "pause", "nope"]) == 1
    assert "No schedule 'nope'" in capsys.readouterr().out
    assert main(["-A", app_path, "schedule", "remove", "report"]) == 0
    assert main(["-A", app_path, "schedule", "remove", "report"]) == 1
    with pytest.raises(SystemExit):
        main(["-A", app_path, "schedule", "pause"])


def _spawn(tmp_path: Path, app_path: str, *argv: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(tmp_path), PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "qtasks", "-A", app_path, *argv],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _read_until(proc: subprocess.Popen[str], needle: str, limit: float = 30.0) -> str:
    seen = ""
    deadline = time.monotonic() + limit
    assert proc.stdout is not None
    while needle not in seen:
        assert time.monotonic() < deadline, seen
        line = proc.stdout.readline()
        assert line or proc.poll() is None, seen
        seen += line
    return seen


def test_beat_runs_only_the_scheduler(target: tuple[str, str, Path], tmp_path: Path) -> None:
    app_path, name, db = target
    beat = _spawn(tmp_path, app_path, "beat")
    try:
        seen = _read_until(beat, "Schedule 'beat_tick' fired")
        assert "Starting the scheduler of app" in seen and "Starting app" not in seen
    finally:
        beat.send_signal(signal.SIGTERM)
        rest, _ = beat.communicate(timeout=20)
    assert beat.returncode == 0, rest
    assert "Stopped the scheduler" in rest
    fired = next(line for line in seen.splitlines() if "Schedule 'beat_tick' fired" in line)
    task_uuid = fired.split(", task ")[1].split()[0]
    task = QueueTasks(name, broker_url=f"sqlite:///{db}").get(task_uuid)
    assert task is not None and task.task_name == "beat_tick" and task.status == "new"


def test_run_no_scheduler_says_so(target: tuple[str, str, Path], tmp_path: Path) -> None:
    app_path, _, _ = target
    worker = _spawn(tmp_path, app_path, "run", "--no-scheduler")
    try:
        seen = _read_until(worker, "Starting app")
        assert seen.rstrip().endswith("scheduler=off"), seen
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=20)
