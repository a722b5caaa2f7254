"""The example programs of QTasks 1.7 (its `examples/` folder) run on qtasks unchanged.

Each program runs for real, as its users run it: a worker process started with
`python -m qtasks -A module:app run` (or the program's own `__main__`) in the example's
folder, then the client script in another process; both meet through the default
`./qtasks.db`. The programs are read from a local mirror of the original repository
(`QTASKS_ORIGINAL_REPO`, a git directory), never copied into this one; without the
mirror these tests are skipped, and `test_original_call_patterns.py` keeps the same
call patterns running everywhere.

`examples/timers` run as two timer processes at once on one `./qtasks.db`, with a worker
beside them: each fire time is one task, whichever timer fired it. The `examples/grpc`
programs listen on their fixed port 50051.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

MIRROR = Path(os.environ.get("QTASKS_ORIGINAL_REPO", "/work/.mirror/txello+qtasks/repo"))
#: Every wait is bounded by this (seconds); the programs need a small fraction of it.
LIMIT = 90.0


def _have_mirror() -> bool:
    if shutil.which("git") is None or not MIRROR.exists():
        return False
    probe = subprocess.run(
        ["git", "-C", str(MIRROR), "cat-file", "-e", "HEAD:examples"], capture_output=True
    )
    return probe.returncode == 0


requires_mirror = pytest.mark.skipif(
    not _have_mirror(),
    reason=f"the original QTasks repository is not mirrored at {MIRROR} "
    "(set QTASKS_ORIGINAL_REPO to a git directory of github.com/txello/qtasks)",
)


@dataclasses.dataclass(frozen=True)
class Example:
    folder: str
    server: str  # module holding `app`
    client: str  # script run after the worker is up
    client_prints: tuple[str, ...] = ()
    worker_prints: tuple[str, int] | None = None  # (line, how many times) before stopping
    own_main: bool = False  # start the worker with `python <server>.py` instead of the CLI
    port: int | None = None  # a port the worker must accept connections on first

    @property
    def id(self) -> str:
        how = "main" if self.own_main else "cli"
        return f"{self.folder}/{self.client}[{how}]"


EXAMPLES = [
    Example(
        "async",
        "based_async_app",
        "test_async_task_wait.py",
        client_prints=("status='success'", "task_name='example_pydantic'", "'Hello, Test!'"),
    ),
    Example(
        "async",
        "based_async_app",
        "test_async_task_wait.py",
        client_prints=("status='success'", "'Hello, Test!'"),
        own_main=True,
    ),
    Example(
        "sync",
        "based_sync_app",
        "test_sync_task_wait.py",
        client_prints=("status='success'", "task_name='test_num'", "returning=5"),
        worker_prints=("Number: 5", 1),
    ),
    Example(
        "sync",
        "based_sync_app",
        "test_sync_task_wait.py",
        client_prints=("status='success'", "returning=5"),
        own_main=True,
    ),
    Example(
        "cls",
        "based_async_app_cls",
        "test_async_cls.py",
        client_prints=("returning=5", "returning=7", "returning=9", "returning=13"),
    ),
    Example(
        "cls",
        "based_async_app_cls",
        "test_async_taskutils_wait.py",
        # add(2, 2) -> 4, then add(4, 4) -> 8, then add(8, 8) -> 16
        client_prints=("returning=4", "returning=8", "returning=16"),
    ),
    Example(
        "depends",
        "based_async_depends",
        "test_async_depends_wait.py",
        worker_prints=("55555 123", 500),
    ),
    Example(
        "depends",
        "based_sync_depends",
        "test_sync_depends_wait.py",
        worker_prints=("Close", 10),
    ),
    Example(
        "states",
        "based_async_states_app",
        "test_async_task_wait_states.py",
        client_prints=("status='success'", "task_name='step2'", "returning='ok'"),
        worker_prints=("'prompt': 'Enter your phone number'", 1),
    ),
    Example(
        "plugins",
        "based_async_plugins_app",
        "test_async_task_wait_plugin.py",
        # the example's plugin only prints what it receives, so the task stays an error
        client_prints=("status='error'", "TaskPluginTriggerError"),
        worker_prints=("'task_func'", 1),
    ),
    Example(
        "grpc",
        "based_async_app_grpc",
        "test_async_task_wait_grpc.py",
        client_prints=("AddTask → True", "GetTask → success", "Result: 5"),
        port=50051,
    ),
    Example(
        "grpc",
        "based_sync_app_grpc",
        "test_sync_task_wait_grpc.py",
        client_prints=("AddTask → True", "GetTask → success", "Result: null"),
        worker_prints=("123", 1),
        own_main=True,
        port=50051,
    ),
    Example(
        "concurrent",
        "test_sync_concurrent_tasks",
        "test_sync_concurrent_tasks.py",
        # the program submits coroutine functions to a thread pool (never awaited),
        # so it enqueues nothing, on QTasks 1.7 as here
        client_prints=("Completed 20000 tasks",),
    ),
    Example(
        "concurrent",
        "test_async_concurrent_tasks",
        "test_async_concurrent_tasks.py",
        client_prints=("Completed 20000 tasks",),
    ),
]


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The original's examples/ folder, unpacked from the mirror once per module."""
    root = tmp_path_factory.mktemp("original")
    archive = root / "examples.tar"
    with open(archive, "wb") as out:
        subprocess.run(
            ["git", "-C", str(MIRROR), "archive", "HEAD", "examples"], stdout=out, check=True
        )
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    return root / "examples"


@pytest.fixture
def folder(originals: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A fresh copy of one example folder (its own ./qtasks.db)."""
    example: Example = request.param
    target = tmp_path / example.folder
    shutil.copytree(originals / example.folder, target)
    return target


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("QTASKS_BROKER_URL", None)  # the programs pass no URL: ./qtasks.db
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Worker:
    def __init__(self, command: list[str], cwd: Path) -> None:
        self.log_path = cwd / "worker.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                command, cwd=cwd, env=_env(), stdout=log, stderr=subprocess.STDOUT
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, count: int = 1) -> None:
        deadline = time.monotonic() + LIMIT
        while time.monotonic() < deadline:
            if self.log().count(text) >= count:
                return
            assert self.proc.poll() is None, f"the worker exited:\n{self.log()[-3000:]}"
            time.sleep(0.05)
        raise AssertionError(f"{text!r} x{count} not printed in {LIMIT}s:\n{self.log()[-3000:]}")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(LIMIT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(LIMIT)


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()


def _wait_for_port(port: int, worker: Worker) -> None:
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert worker.proc.poll() is None, f"the worker exited:\n{worker.log()[-3000:]}"
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}:\n{worker.log()[-3000:]}")


@requires_mirror
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("example", "folder"),
    [(e, e) for e in EXAMPLES],
    ids=[e.id for e in EXAMPLES],
    indirect=["folder"],
)
def test_example_program_runs(example: Example, folder: Path, workers: list[Worker]) -> None:
    if example.own_main:
        command = [sys.executable, f"{example.server}.py"]
    else:
        command = [sys.executable, "-m", "qtasks", "-A", f"{example.server}:app", "run"]
    worker = Worker(command, folder)
    workers.append(worker)
    worker.wait_for("Starting app")
    if example.port is not None:
        _wait_for_port(example.port, worker)

    client = subprocess.run(
        [sys.executable, example.client],
        cwd=folder,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=LIMIT * 2,
    )
    assert client.returncode == 0, client.stdout[-3000:] + client.stderr[-3000:]
    for text in example.client_prints:
        assert text in client.stdout, f"{text!r} not in:\n{client.stdout[-3000:]}"
    if example.worker_prints is not None:
        worker.wait_for(*example.worker_prints)

    assert worker.stop() == 0, worker.log()[-3000:]
    assert "Stopped app 'QueueTasks'" in worker.log()


@requires_mirror
@pytest.mark.parametrize("folder", [Example("env", "", "")], ids=["env"], indirect=True)
def test_env_example_sees_the_priority_in_every_component(folder: Path) -> None:
    """examples/env: QTASKS_TASK_DEFAULT_PRIORITY reaches the app and every component."""
    run = subprocess.run(
        [sys.executable, "based_async_app.py"],
        cwd=folder,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=LIMIT,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["21"] * 5


#: A worker for the timer examples' task: the example modules call `run_forever()` when
#: imported, so the worker cannot import them (in 1.7 as here).
TIMER_WORKER = """
from qtasks import QueueTasks

app = QueueTasks()


@app.task(name="test")
async def test(num: int):
    print(f"Number: {num}")
"""


@requires_mirror
@pytest.mark.timeout(120)
@pytest.mark.parametrize("folder", [Example("timers", "", "")], ids=["timers"], indirect=True)
def test_two_timer_programs_fire_each_slot_once(folder: Path, workers: list[Worker]) -> None:
    (folder / "timer_worker.py").write_text(TIMER_WORKER)
    worker = Worker([sys.executable, "-m", "qtasks", "-A", "timer_worker:app", "run"], folder)
    workers.append(worker)
    worker.wait_for("Starting app")
    timers = []
    for program in ("test_async_timer.py", "test_sync_timer.py"):
        log = open(folder / f"{program}.log", "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(
            [sys.executable, program], cwd=folder, env=_env(), stdout=log, stderr=log
        )
        timers.append((proc, log))
    try:
        worker.wait_for("Number: 5", 2)  # CronTrigger(second="*/5"): two fire times
    finally:
        for proc, log in timers:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(LIMIT) == 0
            log.close()
    fired = [
        line.split("fired: slot ")[1].split(", task ")
        for program in ("test_async_timer.py", "test_sync_timer.py")
        for line in (folder / f"{program}.log").read_text().splitlines()
        if "fired: slot" in line
    ]
    by_slot: dict[str, set[str]] = {}
    for slot, task in fired:
        by_slot.setdefault(slot, set()).add(task.split()[0])
    assert len(by_slot) >= 2 and all(len(tasks) == 1 for tasks in by_slot.values()), fired
    time.sleep(1.0)  # the worker runs what was enqueued last
    assert worker.log().count("Number: 5") == len(by_slot)
    assert worker.stop() == 0
