"""Sync task bodies in child processes (`isolation="process"`), through a real worker:
results and exceptions come back, `max_time` and `app.cancel()` kill the child and free
its slot at once, a crashing child fails only its task, retries work, and no child
outlives its worker.

The task functions live in a module written into tmp_path (a child process imports
them by name, as it would a project's tasks module); each test registers them on its
own app with `app.task(isolation="process")(function)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest

import qtasks
from qtasks.configs import QueueConfig
from qtasks.core.models import TaskRecord
from qtasks.engine.processes import ChildProcessDiedError, ProcessPool, RemoteTaskError
from qtasks.exc import ConfigError

REDIS_URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
#: Every wait is bounded by this (seconds); nothing should come near it.
LIMIT = 20.0

BODIES = textwrap.dedent(
    '''
    import os
    import signal
    import time
    from pathlib import Path


    def add(a, b):
        return {"sum": a + b, "pid": os.getpid()}


    class BadStr(Exception):
        def __str__(self):
            raise RuntimeError("no text")


    class TwoArgs(Exception):
        def __init__(self, a, b):
            super().__init__(f"{a}/{b}")


    def bad_str(marks):
        with open(Path(marks) / "bad_str", "a") as f:
            f.write("x")
        raise BadStr()


    def two_args(marks):
        with open(Path(marks) / "two_args", "a") as f:
            f.write("x")
        raise TwoArgs(1, 2)


    def pid():
        return os.getpid()


    def nap(seconds):
        time.sleep(seconds)
        return os.getpid()


    def fail(message):
        raise ValueError(message)


    def fail_key():
        raise KeyError("not retried")


    class TwoArgs(Exception):
        """Pickles, but cannot be rebuilt from its args: comes back as a stand-in."""

        def __init__(self, a, b):
            super().__init__(f"{a}/{b}")


    def fail_unpicklable():
        raise TwoArgs(1, 2)


    def sleep_marked(marks, seconds):
        Path(marks, "started").write_text(str(os.getpid()))
        time.sleep(seconds)
        Path(marks, "finished").write_text("the body ran to its end")
        return "finished"


    def segfault():
        os.kill(os.getpid(), signal.SIGSEGV)


    def exit_now(code):
        os._exit(code)


    def flaky(marks, failures):
        path = Path(marks, "flaky")
        count = int(path.read_text()) + 1 if path.exists() else 1
        path.write_text(str(count))
        if count <= failures:
            raise ValueError(f"attempt {count} fails")
        return count


    def shout(text):
        print(text)  # stdout is a pipe or a file here: block-buffered
        return text


    def current_uuid():
        from qtasks.engine.current import current_record

        return current_record.get().uuid


    def numbers():
        return {3, 1, 2}  # not JSON: the task's decode= turns it into a list


    def unsendable():
        return lambda: None


    def ghost():
        """An instance of a class that exists only in the child: it pickles there, and
        the worker cannot rebuild it."""
        import sys

        cls = type("Ghost", (), {"__module__": __name__})
        setattr(sys.modules[__name__], "Ghost", cls)
        return cls()


    # --- injected parameters ---
    import pydantic

    from qtasks.plugins import Depends, SyncState


    class Counter(SyncState):
        pass


    class Point(pydantic.BaseModel):
        x: int


    def five():
        return 5


    def connection():
        return object()


    def with_state(counter: Counter):
        return 1


    def with_model(point: Point):
        return point.x


    def with_connection(conn=Depends(connection)):
        return 1


    def with_limit(n, limit=Depends(five)):
        return n * limit


    def echoed(self):
        return self.task_name
    '''
)


@pytest.fixture
def bodies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    name = f"bodies_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(BODIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    yield module
    sys.modules.pop(name, None)


@pytest.fixture
def marks(tmp_path: Path) -> Path:
    path = tmp_path / "marks"
    path.mkdir()
    return path


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    apps: list[Any] = []

    def make(kind: str = "memory", **config: Any) -> Any:
        tag = uuid.uuid4().hex[:8]
        url = {
            "memory": f"memory://proc-{tag}",
            "sqlite": f"sqlite:///{tmp_path}/proc-{tag}.db",
            "redis": REDIS_URL,
        }[kind]
        app = qtasks.QueueTasks(f"proc-{tag}", broker_url=url, config=QueueConfig(**config))
        apps.append((kind, app))
        return app

    yield make
    for kind, app in apps:
        with contextlib.suppress(Exception):
            app.stop()
        if kind == "redis":
            with contextlib.suppress(Exception):
                app.flush_all()
        with contextlib.suppress(Exception):
            app.backend.close_sync()


def gone(pid: int) -> bool:
    """No such process, or only its exit status is left (a zombie runs nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def wait_until(check: Callable[[], Any], what: str, timeout: float = LIMIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"{what} not reached within {timeout}s")


def in_child(app: Any, func: Callable[..., Any], **options: Any) -> Any:
    return app.task(isolation="process", **options)(func)


# --- results and exceptions ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
def test_result_and_exception_round_trip(
    kind: str, bodies: ModuleType, make_app: Callable[..., Any]
) -> None:
    app = make_app(kind)
    add = in_child(app, bodies.add)
    fail = in_child(app, bodies.fail)
    with app.serve():
        ok = add.add_task(2, b=3, timeout=LIMIT)
        bad = fail.add_task("bad input", timeout=LIMIT)
    assert ok.status == "success"
    assert ok.returning["sum"] == 5
    assert ok.returning["pid"] != os.getpid()  # the body ran in another process
    assert bad.status == "error"
    assert bad.traceback.rstrip().endswith("ValueError: bad input")
    # the child's own frames are in the stored traceback
    assert "in the child process" in bad.traceback and ", in fail" in bad.traceback


def test_children_are_reused_and_bounded_by_concurrency(
    bodies: ModuleType, make_app: Callable[..., Any]
) -> None:
    app = make_app(max_tasks_process=2)
    pid = in_child(app, bodies.pid)
    with app.serve():
        tasks = [pid.add_task() for _ in range(12)]
        pids = {app.wait(t.uuid, timeout=LIMIT).returning for t in tasks}
    assert 1 <= len(pids) <= 2 and os.getpid() not in pids


def test_exception_that_cannot_cross_comes_back_as_a_stand_in(
    bodies: ModuleType, make_app: Callable[..., Any]
) -> None:
    app = make_app()
    fail = in_child(app, bodies.fail_unpicklable)
    with app.serve():
        task = fail.add_task(timeout=LIMIT)
    assert task.status == "error"
    last = task.traceback.rstrip().splitlines()[-1]
    assert RemoteTaskError.__name__ in last and "TwoArgs: 1/2" in last
    assert ", in fail_unpicklable" in task.traceback


def test_result_goes_through_decode_and_an_unsendable_one_is_an_error(
    bodies: ModuleType, make_app: Callable[..., Any]
) -> None:
    app = make_app()
    numbers = in_child(app, bodies.numbers, decode=sorted)
    unsendable = in_child(app, bodies.unsendable)
    ghost = in_child(app, bodies.ghost)
    add = in_child(app, bodies.add)
    with app.serve():
        decoded = numbers.add_task(timeout=LIMIT)
        bad = unsendable.add_task(timeout=LIMIT)
        unknown = ghost.add_task(timeout=LIMIT)
        after = add.add_task(1, 1, timeout=LIMIT)
    assert decoded.returning == [1, 2, 3]
    assert bad.status == "error" and "cannot be sent back from the child" in bad.traceback
    last = unknown.traceback.rstrip().splitlines()[-1]
    assert "SerializationError" in last and "cannot be rebuilt in the worker" in last
    assert after.returning["sum"] == 2


def test_what_a_body_prints_shows_up_when_its_task_ends(
    bodies: ModuleType,
    make_app: Callable[..., Any],
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # the child's stdout: buffered
    app = make_app()
    shout = in_child(app, bodies.shout)
    with app.serve():
        shout.add_task("printed-in-the-child", timeout=LIMIT)
        out = capfd.readouterr().out  # the worker and its children are still running
    assert "printed-in-the-child" in out


def test_the_running_record_is_known_in_the_child(
    bodies: ModuleType, make_app: Callable[..., Any]
) -> None:
    app = make_app()
    current = in_child(app, bodies.current_uuid)
    with app.serve():
        task = current.add_task(timeout=LIMIT)
    assert task.returning == str(task.uuid)


# --- stopping a body for real ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_max_time_kills_the_child_and_frees_the_slot_at_once(
    kind: str, bodies: ModuleType, marks: Path, make_app: Callable[..., Any]
) -> None:
    app = make_app(kind, max_tasks_process=1)  # one slot: the next task needs it
    slow = in_child(app, bodies.sleep_marked, max_time=0.5)
    pid = in_child(app, bodies.pid)
    with app.serve():
        # max_time counts the wait for a child too: start the one child first, so the
        # limit here is all the body's
        warm = pid.add_task(timeout=LIMIT)
        started = time.monotonic()
        timed_out = slow.add_task(str(marks), 60, timeout=LIMIT)
        after = pid.add_task(timeout=LIMIT)
        elapsed = time.monotonic() - started
    assert timed_out.status == "error" and "Time limit exceeded" in timed_out.traceback
    assert after.status == "success"
    # In a thread the body would hold the only slot for 60 s.
    assert elapsed < 10
    body_pid = int((marks / "started").read_text())
    assert wait_until(lambda: gone(body_pid), "the timed-out child gone")
    assert warm.returning == body_pid != after.returning  # reused, then replaced
    assert not (marks / "finished").exists()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_cancel_kills_a_running_child(
    kind: str, bodies: ModuleType, marks: Path, make_app: Callable[..., Any]
) -> None:
    app = make_app(kind, max_tasks_process=1)
    slow = in_child(app, bodies.sleep_marked)
    pid = in_child(app, bodies.pid)
    with app.serve():
        task = slow.add_task(str(marks), 60)
        wait_until(lambda: (marks / "started").exists(), "the body started")
        body_pid = int((marks / "started").read_text())
        app.cancel(task.uuid, "not needed any more")
        cancelled = wait_until(
            lambda: (t := app.get(task.uuid)) is not None and t.status == "cancel" and t,
            "the cancel",
        )
        after = pid.add_task(timeout=LIMIT)
    assert cancelled.extra.get("cancel_reason") == "not needed any more"
    assert wait_until(lambda: gone(body_pid), "the cancelled child gone")
    assert after.status == "success" and after.returning != body_pid
    assert not (marks / "finished").exists()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_crashing_child_fails_only_its_task(
    kind: str, bodies: ModuleType, make_app: Callable[..., Any]
) -> None:
    app = make_app(kind)
    segfault = in_child(app, bodies.segfault)
    exit_now = in_child(app, bodies.exit_now)
    add = in_child(app, bodies.add)
    with app.serve():
        crashed = segfault.add_task(timeout=LIMIT)
        exited = exit_now.add_task(3, timeout=LIMIT)
        after = add.add_task(1, 2, timeout=LIMIT)
    assert crashed.status == "error"
    assert ChildProcessDiedError.__name__ in crashed.traceback
    assert "killed by signal SIGSEGV (exit code -11)" in crashed.traceback
    assert exited.status == "error" and "exited with code 3" in exited.traceback
    assert after.status == "success" and after.returning["sum"] == 3


def test_a_child_that_cannot_start_fails_its_task_saying_so(
    bodies: ModuleType, make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from qtasks.engine import process_pool

    app = make_app()
    add = in_child(app, bodies.add)
    with app.serve():
        with monkeypatch.context() as patch:
            patch.setattr(process_pool, "_boot", lambda: "import sys; sys.exit(3)")
            failed = add.add_task(1, 2, timeout=LIMIT)
        after = add.add_task(1, 2, timeout=LIMIT)
    last = failed.traceback.rstrip().splitlines()[-1]
    assert "exited with code 3 while starting" in last
    assert after.status == "success"


# --- retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_retry_and_retry_on_exc_see_the_childs_exception(
    kind: str, bodies: ModuleType, marks: Path, make_app: Callable[..., Any]
) -> None:
    app = make_app(kind, retry_backoff=0.0)
    flaky = in_child(app, bodies.flaky, retry=3, retry_on_exc=[ValueError])
    fail_key = in_child(app, bodies.fail_key, retry=3, retry_on_exc=[ValueError])
    with app.serve():
        final = flaky.add_task(str(marks), 2, timeout=LIMIT)  # waits through the retries
        not_retried = fail_key.add_task(timeout=LIMIT)
    assert final.status == "success" and final.returning == 3  # two failures, then success
    previous = app.get(final.retry_parent_uuid)  # the attempt that failed last
    assert previous.status == "retry"
    assert previous.traceback.rstrip().endswith("ValueError: attempt 2 fails")
    assert not_retried.status == "error" and not_retried.retry_child_uuid is None


def test_exceptions_that_cannot_cross_as_themselves_still_name_their_type(
    bodies: ModuleType, marks: Path, make_app: Callable[..., Any]
) -> None:
    """An exception whose __str__ raises, or that cannot be rebuilt from its arguments,
    comes back as a stand-in naming its type and message: the task ends `error` with the
    child's traceback, and `retry_on_exc` naming the original type still retries it."""
    app = make_app("memory", retry_backoff=0.0)
    bad_str = in_child(app, bodies.bad_str, retry=1, retry_on_exc=[bodies.BadStr])
    two_args = in_child(app, bodies.two_args, retry=1, retry_on_exc=[bodies.TwoArgs])
    with app.serve():
        first = bad_str.add_task(str(marks), timeout=LIMIT)
        second = two_args.add_task(str(marks), timeout=LIMIT)
    assert first.status == "error" and "BadStr" in first.traceback
    assert "BadStr: <exception str() failed>" in first.traceback
    assert second.status == "error" and "TwoArgs: 1/2" in second.traceback
    assert (marks / "bad_str").read_text() == "xx"  # retried once
    assert (marks / "two_args").read_text() == "xx"


# --- the pool -------------------------------------------------------------------------------


def test_at_most_two_children_start_at_once(bodies: ModuleType) -> None:
    """Six calls at once: two children start, the other calls wait for a child set free
    or a start slot; every call is answered."""
    record = TaskRecord("u", "nap", 0, [0.3], {}, "process", time.time(), time.time())
    arguments = orjson.dumps([[0.3], {}])

    async def main() -> tuple[int, list[int], int]:
        pool = ProcessPool()
        starting = peak = 0
        real_start = pool._start

        async def counted(task_name: str) -> Any:
            nonlocal starting, peak
            starting += 1
            peak = max(peak, starting)
            try:
                return await real_start(task_name)
            finally:
                starting -= 1

        pool._start = counted  # type: ignore[method-assign]
        try:
            pids = await asyncio.gather(
                *(pool.run(bodies.__name__, "nap", record, arguments, "nap") for _ in range(6))
            )
        finally:
            await pool.aclose()
        return peak, pids, pool.started

    peak, pids, started = asyncio.run(main())
    assert 1 <= peak <= 2
    assert len(pids) == 6 and len(set(pids)) == started <= 6
    assert all(gone(pid) for pid in pids)  # closed with the pool


# --- the pool ends with the worker -------------------------------------------------------------


def test_no_child_outlives_its_worker(
    bodies: ModuleType, marks: Path, make_app: Callable[..., Any]
) -> None:
    app = make_app(max_tasks_process=3, shutdown_grace=0.5)
    pid = in_child(app, bodies.pid)
    slow = in_child(app, bodies.sleep_marked)
    with app.serve():
        tasks = [pid.add_task() for _ in range(6)]
        pids = {app.wait(t.uuid, timeout=LIMIT).returning for t in tasks}
        slow.add_task(str(marks), 60)  # still running when the worker stops
        wait_until(lambda: (marks / "started").exists(), "the slow body started")
    pids.add(int((marks / "started").read_text()))
    assert len(pids) >= 2
    # serve() returned: the worker stopped and its pool with it
    assert [p for p in pids if not gone(p)] == []


# --- worker-wide isolation --------------------------------------------------------------------


def test_worker_wide_isolation_and_the_per_task_opt_out(
    bodies: ModuleType, make_app: Callable[..., Any]
) -> None:
    app = make_app(task_isolation="process")
    pid_in_child = app.task(bodies.pid)
    pid_in_thread = app.task(name="pid_thread", isolation="thread")(bodies.pid)

    @app.task
    async def on_the_loop() -> int:
        return os.getpid()

    @app.task
    def nested() -> int:  # a child process cannot import this one
        return os.getpid()

    with app.serve():
        child = pid_in_child.add_task(timeout=LIMIT)
        thread = pid_in_thread.add_task(timeout=LIMIT)
        loop = on_the_loop.add_task(timeout=LIMIT)
        refused = nested.add_task(timeout=LIMIT)
    assert child.returning != os.getpid()
    assert thread.returning == os.getpid() and loop.returning == os.getpid()
    assert refused.status == "error"
    assert "defined inside a function" in refused.traceback
    assert "isolation='thread'" in refused.traceback


def test_injected_values_cross_only_as_json(
    bodies: ModuleType, make_app: Callable[..., Any]
) -> None:
    app = make_app()
    state = in_child(app, bodies.with_state)
    model = in_child(app, bodies.with_model)
    connection = in_child(app, bodies.with_connection)
    limit = in_child(app, bodies.with_limit)
    with app.serve():
        refused = [
            state.add_task(timeout=LIMIT),
            model.add_task({"x": 1}, timeout=LIMIT),
            connection.add_task(timeout=LIMIT),
        ]
        crossed = limit.add_task(3, timeout=LIMIT)
    for task, named in zip(
        refused, ["counter (Counter)", "point (Point)", "conn (object)"], strict=True
    ):
        assert task.status == "error", task
        last = task.traceback.rstrip().splitlines()[-1]
        assert "ConfigError" in last and named in last and "isolation='thread'" in last
    assert crossed.status == "success" and crossed.returning == 15  # a JSON value crosses


def test_echo_is_refused_in_a_child(bodies: ModuleType, make_app: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError, match="echo=True"):
        in_child(make_app(), bodies.echoed, echo=True)
    app = make_app(task_isolation="process")  # worker-wide: refused when it runs
    echoed = app.task(echo=True)(bodies.echoed)
    with app.serve():
        task = echoed.add_task(timeout=LIMIT)
    assert task.status == "error" and "echo=True" in task.traceback.rstrip().splitlines()[-1]


def test_the_cli_flag_sets_the_workers_isolation(
    bodies: ModuleType, make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from qtasks.cli import build_parser
    from qtasks.cli import run as run_command

    app = make_app()
    seen: dict[str, Any] = {}
    monkeypatch.setattr(run_command, "load_apps", lambda args: [app])
    # Task threads another test left blocked would make `run` leave the process at once.
    monkeypatch.setattr(run_command, "_exit_if_threads_linger", lambda code: None)
    monkeypatch.setattr(
        app, "run_forever", lambda *a, **kw: seen.update(isolation=app.config.task_isolation)
    )
    args = build_parser().parse_args(["run", "-A", "m:app", "--isolation", "process"])
    assert run_command.run(args) == 0
    assert seen == {"isolation": "process"}
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "-A", "m:app", "--isolation", "fork"])
