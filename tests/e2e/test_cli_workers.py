"""End to end: real worker processes started through the CLI
(`python -m qtasks -A module:app run ...`) on the default SQLite backend.

The app module is written into tmp_path; the worker runs with that directory as
cwd and on PYTHONPATH, and the test's client app (no URL either) runs in the same
directory, so both meet through ./qtasks.db. Task executions are counted through
files, because the worker is another process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qtasks import QueueTasks
from qtasks.cli import build_parser

pytestmark = pytest.mark.e2e

APP_NAME = "e2eapp"
LIMIT = 20.0

APP_SOURCE = textwrap.dedent(
    '''
    import os
    import time
    from pathlib import Path

    from qtasks import QueueTasks

    app = QueueTasks("e2eapp")
    MARKS = Path(os.environ["E2E_MARKS"])


    def record(tag):
        """Append one line per execution: '<pid> <time>'; return how many so far."""
        path = MARKS / f"{tag}.runs"
        with open(path, "a") as f:
            f.write(f"{os.getpid()} {time.time()}\\n")
        return len(path.read_text().splitlines())


    @app.task
    def add(a, b):
        return a + b


    @app.task
    def log_debug(text):
        app.log.debug(f"debug-marker {text}")
        return text


    @app.task
    def slow(tag, seconds):
        record(tag)
        time.sleep(seconds)
        return os.getpid()


    @app.task
    def crashy(tag):
        runs = record(tag)
        if runs == 1:
            time.sleep(60)  # the first worker is killed here
        return runs


    @app.task
    def meet(tag, expected):
        """Finish only once `expected` executions run at the same time."""
        record(tag)
        deadline = time.time() + 15
        while time.time() < deadline:
            if len((MARKS / f"{tag}.runs").read_text().splitlines()) >= expected:
                return os.getpid()
            time.sleep(0.01)
        raise TimeoutError("the other executions never started")
    '''
)


class WorkerProcess:
    def __init__(self, proc: subprocess.Popen[bytes], log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, text: str, timeout: float = LIMIT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log()
            if text in log:
                return log
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"{text!r} not logged within {timeout}s; log:\n{self.log()}")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = LIMIT) -> int:
        return self.proc.wait(timeout)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "e2e_app.py").write_text(APP_SOURCE)
    (tmp_path / "marks").mkdir()
    assert Path.cwd() == tmp_path  # the client app uses ./qtasks.db, like the workers
    return tmp_path


@pytest.fixture
def start_worker(workdir: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> WorkerProcess:
        full_env = dict(os.environ)
        full_env.pop("QTASKS_BROKER_URL", None)
        full_env["PYTHONPATH"] = os.pathsep.join(
            [str(workdir), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        full_env["E2E_MARKS"] = str(workdir / "marks")
        full_env["PYTHONUNBUFFERED"] = "1"
        full_env.update(env or {})
        log_path = workdir / f"worker-{len(started)}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "qtasks", *args],
                cwd=workdir,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        worker = WorkerProcess(proc, log_path)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            worker.proc.kill()
            worker.proc.wait(10)


@pytest.fixture
def client(workdir: Path) -> Iterator[QueueTasks]:
    app = QueueTasks(APP_NAME)  # no URL: the default ./qtasks.db
    yield app
    app.backend.close_sync()


def runs(workdir: Path, tag: str) -> list[tuple[int, float]]:
    path = workdir / "marks" / f"{tag}.runs"
    if not path.exists():
        return []
    return [
        (int(p), float(t))
        for p, t in (line.split() for line in path.read_text().split("\n") if line)
    ]


def wait_until(check: Callable[[], Any], timeout: float = LIMIT, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what} not reached within {timeout}s")


# --- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["-A", "m:app", "run"],
        ["run", "-A", "m:app"],
        ["--app", "m:app", "run"],
        ["run", "--app", "m:app"],
        ["-app", "m:app", "run"],
        ["run", "--app=m:app"],
    ],
)
def test_app_option_before_or_after_the_subcommand(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.command == "run" and args.app == "m:app"


def test_worker_options_parse() -> None:
    args = build_parser().parse_args(
        ["--log-level", "debug", "run", "-A", "m:app", "--concurrency", "4", "--processes", "2"]
    )
    assert (args.log_level, args.concurrency, args.processes) == ("DEBUG", 4, 2)
    args = build_parser().parse_args(["run", "-c", "3", "--log-level", "WARNING", "-A", "m:a"])
    assert (args.log_level, args.concurrency, args.processes) == ("WARNING", 3, 1)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--log-level", "LOUD", "-A", "m:app"])


def test_missing_or_bad_app_is_a_clear_error(workdir: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(workdir), E2E_MARKS=str(workdir / "marks"))
    for argv, expected in [
        (["run"], "an app is required"),
        (["-A", "no_such_module:app", "run"], "cannot import module"),
        (["-A", "e2e_app:nope", "run"], "has no attribute"),
        (["-A", "e2e_app", "run"], "module:attribute"),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "qtasks", *argv],
            cwd=workdir,
            env=env,
            capture_output=True,
            timeout=LIMIT,
        )
        assert done.returncode == 2, (argv, done)
        assert expected in done.stderr.decode(), (argv, done.stderr)


# --- real workers ------------------------------------------------------------------------------


def test_options_before_subcommand_startup_line_and_debug_level(
    start_worker: Callable[..., WorkerProcess], client: QueueTasks, workdir: Path
) -> None:
    worker = start_worker("-A", "e2e_app:app", "--log-level", "DEBUG", "run", "--concurrency", "3")
    log = worker.wait_for_log("Starting app")
    line = next(x for x in log.splitlines() if "Starting app" in x)
    assert f"'{APP_NAME}'" in line
    assert "sqlite://" in line and str(workdir / "qtasks.db") in line
    assert "concurrency=3" in line
    done = client.add_task("add", 2, 3, timeout=LIMIT)
    assert done is not None and done.status == "success" and done.returning == 5
    logged = client.add_task("log_debug", "hello-debug", timeout=LIMIT)
    assert logged is not None and logged.status == "success"
    worker.wait_for_log("debug-marker hello-debug")
    workers = client.backend.live_workers_sync()
    assert [w["concurrency"] for w in workers] == [3]
    assert [w["pid"] for w in workers] == [worker.pid]
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0


def test_options_after_subcommand_and_warning_level(
    start_worker: Callable[..., WorkerProcess], client: QueueTasks
) -> None:
    worker = start_worker("run", "--app", "e2e_app:app", "-c", "2", "--log-level", "WARNING")
    wait_until(client.ping, what="worker registration")
    assert [w["concurrency"] for w in client.backend.live_workers_sync()] == [2]
    done = client.add_task("add", 20, 22, timeout=LIMIT)
    assert done is not None and done.returning == 42
    logged = client.add_task("log_debug", "hidden", timeout=LIMIT)
    assert logged is not None and logged.status == "success"
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    log = worker.log()
    assert "Starting app" not in log  # INFO is below WARNING
    assert "debug-marker" not in log


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_lets_the_in_flight_task_finish_and_exits_zero(
    start_worker: Callable[..., WorkerProcess], client: QueueTasks, workdir: Path, signum: int
) -> None:
    worker = start_worker("-A", "e2e_app:app", "run")
    worker.wait_for_log("Starting app")
    task = client.add_task("slow", "term", 1.5)
    wait_until(lambda: runs(workdir, "term"), what="the task to start")
    t_term = time.monotonic()
    worker.signal(signum)
    assert worker.wait() == 0
    assert time.monotonic() - t_term >= 1.0  # it waited for the task
    done = client.get(task.uuid)
    assert done is not None and done.status == "success", done
    assert done.returning == worker.pid
    assert len(runs(workdir, "term")) == 1
    log = worker.log()
    assert f"Received {signal.Signals(signum).name}" in log and "Stopped app" in log


def test_sigkill_mid_task_is_redelivered_after_the_lease(
    start_worker: Callable[..., WorkerProcess], client: QueueTasks, workdir: Path
) -> None:
    lease = {"QTASKS_LEASE_TIMEOUT": "2"}
    first = start_worker("-A", "e2e_app:app", "run", env=lease)
    first.wait_for_log("Starting app")
    task = client.add_task("crashy", "kill")
    wait_until(lambda: runs(workdir, "kill"), what="the first execution")
    assert client.get(task.uuid).status == "process"
    first.signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL
    second = start_worker("-A", "e2e_app:app", "run", env=lease)
    done = client.wait(task.uuid, LIMIT)
    assert done is not None and done.status == "success", done
    assert done.returning == 2  # the second execution
    executions = runs(workdir, "kill")
    assert [pid for pid, _ in executions] == [first.pid, second.pid]
    # not before the lease of the dead worker ran out
    assert executions[1][1] - executions[0][1] >= 1.5
    second.signal(signal.SIGTERM)
    assert second.wait() == 0


def test_no_task_runs_twice_while_its_worker_heartbeats(
    start_worker: Callable[..., WorkerProcess], client: QueueTasks, workdir: Path
) -> None:
    """Tasks that run longer than the lease, with a second worker fetching all along."""
    lease = {"QTASKS_LEASE_TIMEOUT": "2"}
    one = start_worker("-A", "e2e_app:app", "run", "-c", "2", env=lease)
    two = start_worker("-A", "e2e_app:app", "run", "-c", "2", env=lease)
    one.wait_for_log("Starting app")
    two.wait_for_log("Starting app")
    tags = [f"long{i}" for i in range(3)]
    tasks = [client.add_task("slow", tag, 3.5) for tag in tags]
    results = [client.wait(t.uuid, LIMIT) for t in tasks]
    assert all(r is not None and r.status == "success" for r in results), results
    for tag in tags:
        assert len(runs(workdir, tag)) == 1, (tag, runs(workdir, tag))
    assert {r.returning for r in results} <= {one.pid, two.pid}
    for worker in (one, two):
        worker.signal(signal.SIGTERM)
    assert one.wait() == 0 and two.wait() == 0


def test_processes_two_runs_two_worker_processes(
    start_worker: Callable[..., WorkerProcess], client: QueueTasks, workdir: Path
) -> None:
    parent = start_worker("-A", "e2e_app:app", "run", "--processes", "2", "--concurrency", "1")
    wait_until(lambda: len(client.backend.live_workers_sync()) == 2, what="two live workers")
    workers = client.backend.live_workers_sync()
    pids = {w["pid"] for w in workers}
    assert len(pids) == 2 and parent.pid not in pids
    # two tasks that can only finish together: each process runs one (concurrency 1)
    tasks = [client.add_task("meet", "pair", 2) for _ in range(2)]
    results = [client.wait(t.uuid, LIMIT) for t in tasks]
    assert all(r is not None and r.status == "success" for r in results), results
    assert {r.returning for r in results} == pids
    parent.signal(signal.SIGTERM)
    assert parent.wait() == 0
    assert client.backend.live_workers_sync() == []  # both children unregistered


@pytest.mark.parametrize("processes", ["1", "2"])
def test_sigterm_with_a_sync_task_past_the_grace_exits_promptly(
    start_worker: Callable[..., WorkerProcess],
    client: QueueTasks,
    workdir: Path,
    processes: str,
) -> None:
    """A sync task still blocked after shutdown_grace is released to the queue and the
    process exits at once (it must not wait for the blocked thread); another worker
    then runs the task."""
    grace = {"QTASKS_SHUTDOWN_GRACE": "0.3"}
    first = start_worker("-A", "e2e_app:app", "run", "--processes", processes, env=grace)
    task = client.add_task("crashy", "grace")
    wait_until(lambda: runs(workdir, "grace"), what="the first execution")
    t_term = time.monotonic()
    first.signal(signal.SIGTERM)
    assert first.wait() == 0
    assert time.monotonic() - t_term < 5.0  # not the 60 s the task would block
    assert client.get(task.uuid).status == "new"  # released, not lost
    assert "Releasing 1 unfinished task" in first.log()
    second = start_worker("-A", "e2e_app:app", "run")
    done = client.wait(task.uuid, LIMIT)
    assert done is not None and done.status == "success" and done.returning == 2
    assert len(runs(workdir, "grace")) == 2
    second.signal(signal.SIGTERM)
    assert second.wait() == 0


SLOW_START_SOURCE = textwrap.dedent(
    """
    import time

    from qtasks import QueueTasks


    class SlowStart(QueueTasks):
        def run_forever(self, *args, **kwargs):
            time.sleep(3)  # a child that is not ready yet (no signal handlers)
            super().run_forever(*args, **kwargs)


    app = SlowStart("slowstart")
    """
)


def test_sigterm_before_the_children_are_ready_still_exits_zero(
    start_worker: Callable[..., WorkerProcess], workdir: Path
) -> None:
    """The parent forwards SIGTERM to children that have not installed their handlers
    yet: they die of it, holding no task, and that is a clean stop, not a failure."""
    (workdir / "slow_start.py").write_text(SLOW_START_SOURCE)
    parent = start_worker("-A", "slow_start:app", "run", "--processes", "2")
    time.sleep(1.0)  # the parent is up (it imports in ~0.2 s); the children still sleep
    assert parent.proc.poll() is None
    t0 = time.monotonic()
    parent.signal(signal.SIGTERM)
    assert parent.wait() == 0
    assert time.monotonic() - t0 < 2.0  # the children did not wake up to finish


def test_run_options_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QTASKS_PROCESSES", "3")
    monkeypatch.setenv("QTASKS_QUEUES", "a,b")
    args = build_parser().parse_args(["run", "-A", "m:app"])
    assert (args.processes, args.queues) == (3, "a,b")
    args = build_parser().parse_args(["run", "-A", "m:app", "-p", "1", "-Q", "c"])
    assert (args.processes, args.queues) == (1, "c")
    monkeypatch.setenv("QTASKS_PROCESSES", "many")
    with pytest.raises(SystemExit, match="QTASKS_PROCESSES"):
        build_parser()
