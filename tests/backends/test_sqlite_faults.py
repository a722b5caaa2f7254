"""SQLite file faults under running processes: the files deleted or replaced, a file
that was read-only when a worker opened it, and disk space after records expire."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid as uuid_mod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qtasks import QueueTasks
from qtasks.backends.sqlite import SqliteBackend, driver, ops
from qtasks.configs import QueueConfig
from qtasks.core.models import Completion
from qtasks.core.records import new_record
from qtasks.core.status import SUCCESS
from qtasks.exc import BackendUnavailableError
from qtasks.logs import Logger

LIMIT = 30.0

APP_SOURCE = textwrap.dedent(
    """
    import os

    from qtasks import QueueTasks

    app = QueueTasks("faults", broker_url=os.environ["FAULTS_URL"])


    @app.task
    def add(a, b):
        return a + b
    """
)

# Counts, in a process that never opened the file before, the records of the uuids given
# as arguments that succeeded; prints "<success> <known>".
COUNT_SOURCE = textwrap.dedent(
    """
    import sys

    from qtasks import QueueTasks

    app = QueueTasks("faults", broker_url=sys.argv[1])
    found = [app.get(u) for u in sys.argv[2:]]
    print(sum(1 for t in found if t and t.status == "success"), sum(1 for t in found if t))
    """
)


def files(path: Path) -> list[Path]:
    return [path, Path(f"{path}-wal"), Path(f"{path}-shm")]


class RecordingLog(Logger):
    def __init__(self) -> None:
        super().__init__("faults")
        self.warnings: list[str] = []

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.warnings.append(str(msg) % args)


def make_backend(path: Path, log: Logger | None = None, **config: Any) -> SqliteBackend:
    return SqliteBackend(
        f"sqlite:///{path}",
        namespace="faults",
        config=QueueConfig(**config),
        log=log or Logger("faults"),
    )


def record(i: int = 0, payload: str = "") -> Any:
    return new_record("add", [i, payload], {}, None, spec=None, default_priority=0)


# --- worker processes ---------------------------------------------------------------------


def wait_until(check: Callable[[], Any], what: str, timeout: float = LIMIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout}s")


class Worker:
    def __init__(self, proc: subprocess.Popen[bytes], log_path: Path) -> None:
        self.proc, self.log_path = proc, log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    (tmp_path / "faults_app.py").write_text(APP_SOURCE)
    started: list[Worker] = []

    def start(url: str, prefix: tuple[str, ...] = ()) -> Worker:
        env = dict(os.environ, FAULTS_URL=url, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
        log_path = tmp_path / f"worker-{len(started)}.log"
        with open(log_path, "wb") as out:
            proc = subprocess.Popen(
                [*prefix, sys.executable, "-m", "qtasks", "-A", "faults_app:app", "run"],
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(Worker(proc, log_path))
        return started[-1]

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            worker.proc.kill()
            worker.proc.wait(10)


def count_in_fresh_process(url: str, uuids: list[str]) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", COUNT_SOURCE, url, *uuids],
        capture_output=True,
        text=True,
        timeout=LIMIT,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1])


# --- 1. the files deleted or replaced under running processes -----------------------------


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_tasks_enqueued_after_the_files_are_deleted_or_replaced_run_and_stay_visible(
    tmp_path: Path, start_worker: Callable[..., Worker], how: str
) -> None:
    path = tmp_path / "data" / "q.db"
    url = f"sqlite:///{path}"
    worker = start_worker(url)
    client = QueueTasks("faults", broker_url=url)
    try:
        before = [client.add_task("add", i, 1, timeout=LIMIT) for i in range(5)]
        assert [t.returning if t else None for t in before] == [1, 2, 3, 4, 5]

        if how == "deleted":
            for file in files(path):
                file.unlink(missing_ok=True)
        else:  # a file restored from elsewhere moved over it
            other = tmp_path / "other.db"
            with sqlite3.connect(other) as conn:
                conn.execute("CREATE TABLE unrelated (x)")
            conn.close()
            os.replace(other, path)
            for file in files(path)[1:]:
                file.unlink(missing_ok=True)

        after = [client.add_task("add", i, 100) for i in range(40)]
        uuids = [str(t.uuid) for t in after if t is not None]
        assert len(uuids) == 40

        # Before the fix both processes kept using the deleted file: every task ran,
        # and none was in the file at the path.
        def all_done() -> bool:
            return count_in_fresh_process(url, uuids) == (40, 40)

        wait_until(all_done, "every task enqueued after the deletion done in the new file")
        assert "deleted or replaced while open" in worker.log()
    finally:
        client.backend.close_sync()


def test_the_replacement_is_noticed_and_warned_about_in_process(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    log = RecordingLog()
    backend = make_backend(path, log)
    try:
        backend.enqueue_sync([record(1)])
        for file in files(path):
            file.unlink(missing_ok=True)
        later = record(2)
        backend.enqueue_sync([later])
        assert path.exists()
        fresh = make_backend(path)
        assert fresh.get_sync(later.uuid) is not None
        fresh.close_sync()
        assert any("deleted or replaced while open" in w for w in log.warnings)
    finally:
        backend.close_sync()


def test_a_write_that_went_to_the_replaced_file_is_repeated_on_the_new_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q.db"
    log = RecordingLog()
    db = driver.Db(str(path), ops.SCHEMA, log=log)
    db.run(ops.op_purge, "faults")
    task = record(1)
    runs: list[int] = []

    def enqueue_as_the_files_vanish(conn: sqlite3.Connection) -> None:
        ops.op_enqueue(conn, "faults", [task])
        runs.append(1)
        if len(runs) == 1:  # another process deletes the files before this returns
            for file in files(path):
                file.unlink(missing_ok=True)

    db.run(enqueue_as_the_files_vanish)
    assert len(runs) == 2
    db.close()
    fresh = driver.Db(str(path), ops.SCHEMA)
    assert fresh.run(ops.op_get, "faults", task.uuid) is not None
    fresh.close()
    assert any("deleted or replaced while open" in w for w in log.warnings)


def test_a_write_whose_file_is_replaced_twice_in_a_row_raises(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    db = driver.Db(str(path), ops.SCHEMA)
    db.run(ops.op_purge, "faults")

    def enqueue_then_lose_the_file(conn: sqlite3.Connection) -> None:
        ops.op_enqueue(conn, "faults", [record(1)])
        for file in files(path):
            file.unlink(missing_ok=True)

    with pytest.raises(BackendUnavailableError, match="deleted or replaced during this operation"):
        db.run(enqueue_then_lose_the_file)
    assert db.run(ops.op_stats, "faults", "default") == {"queued": 0, "leased": 0}
    db.close()


def test_an_idle_connection_checks_the_file_at_most_every_check_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "q.db"
    db = driver.Db(str(path), ops.SCHEMA)
    db.run(ops.op_purge, "faults")
    stats: list[str] = []
    real_stat = os.stat

    def counting_stat(name: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        stats.append(str(name))
        return real_stat(name, *args, **kwargs)

    monkeypatch.setattr(driver.os, "stat", counting_stat)
    for _ in range(50):
        db.run(ops.op_stats, "faults", "default")  # reads: no stat within the interval
    assert stats.count(str(path)) <= 1
    time.sleep(driver.CHECK_EVERY * 1.5)
    db.run(ops.op_stats, "faults", "default")
    assert stats.count(str(path)) >= 1
    before = stats.count(str(path))
    db.run(ops.op_enqueue, "faults", [record(1)])  # a write: checked after it, always
    assert stats.count(str(path)) == before + 1
    db.close()


# --- 2. a file that was read-only when the worker opened it --------------------------------


def _without_file_permission_override() -> tuple[str, ...]:
    """Root writes to read-only files: the worker then runs without the capabilities
    that allow it (so chmod binds it like any user), through util-linux's setpriv."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is missing: chmod cannot bind")
    caps = "-dac_override,-dac_read_search"
    return (setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}")


def test_a_worker_started_on_a_read_only_file_recovers_once_it_is_writable(
    tmp_path: Path, start_worker: Callable[..., Worker]
) -> None:
    path = tmp_path / "q.db"
    url = f"sqlite:///{path}"
    setup = make_backend(path)
    setup.purge_sync()
    setup.close_sync()
    path.chmod(0o444)
    worker = start_worker(url, _without_file_permission_override())
    client = QueueTasks("faults", broker_url=url)
    try:
        wait_until(lambda: "readonly database" in worker.log(), "the read-only error")
        time.sleep(2.5)  # a few failing attempts: the reopen backoff grows
        for file in files(path):  # SQLite creates -wal and -shm with the file's mode
            if file.exists():
                file.chmod(0o644)
        task = client.add_task("add", 2, 3, timeout=LIMIT)
        assert task is not None and task.returning == 5, worker.log()
        assert worker.proc.poll() is None
    finally:
        client.backend.close_sync()


def _read_only_first(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """sqlite3.connect opens the first connection read-only, as SQLite does by itself
    when the file cannot be written; later ones normally. Returns the URIs opened."""
    real = sqlite3.connect
    opened: list[str] = []

    def connect(database: str, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        opened.append(database)
        if len(opened) == 1:
            return real(f"file:{database}?mode=ro", *args, uri=True, **kwargs)
        return real(database, *args, **kwargs)

    monkeypatch.setattr(driver.sqlite3, "connect", connect)
    return opened


def test_a_read_only_connection_is_reopened_after_a_backoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "q.db"
    db = driver.Db(str(path), ops.SCHEMA)
    db.run(ops.op_purge, "faults")
    db.close()
    opened = _read_only_first(monkeypatch)

    with pytest.raises(BackendUnavailableError, match="readonly"):
        db.run(ops.op_enqueue, "faults", [record(1)])
    # Within the backoff the error comes back at once, without opening again.
    with pytest.raises(BackendUnavailableError, match="readonly"):
        db.run(ops.op_enqueue, "faults", [record(1)])
    assert len(opened) == 1
    time.sleep(0.15)
    db.run(ops.op_enqueue, "faults", [record(1)])
    assert len(opened) == 2
    assert db.run(ops.op_stats, "faults", "default") == {"queued": 1, "leased": 0}
    db.close()


# --- 3. disk space after records expire ----------------------------------------------------


async def _complete_all(backend: SqliteBackend, n: int, payload: str) -> None:
    for start in range(0, n, 500):
        await backend.enqueue([record(start + i, payload) for i in range(500)])
        got = await backend.fetch("default", 500, 60.0, "w", 0.0)
        done = []
        for delivery in got:
            delivery.record.status = SUCCESS
            done.append(Completion(delivery, delivery.record))
        await backend.complete(done)


def test_expired_records_give_their_space_back(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    backend = make_backend(path, result_ttl=0.5)

    async def scenario() -> tuple[int, int, int]:
        await _complete_all(backend, 6000, "x" * 1000)
        full = path.stat().st_size
        await asyncio.sleep(0.6)
        for _ in range(50):
            await backend.expire()
            if path.stat().st_size < full / 10:
                break
        wal = Path(f"{path}-wal").stat().st_size
        await backend.close()
        return full, path.stat().st_size, wal

    full, after, wal = asyncio.run(scenario())
    assert full > 6_000_000
    assert after < full / 10, (full, after)
    assert wal <= driver.JOURNAL_SIZE_LIMIT


def _old_file(path: Path, rows: int) -> None:
    """A file as earlier versions made it: no incremental vacuum."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(ops.SCHEMA)
    if rows:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO qtasks_workers VALUES ('faults', ?, ?, 0)",
            [(str(uuid_mod.uuid4()), b"x" * 2000) for _ in range(rows)],
        )
        conn.execute("COMMIT")
    conn.close()


def _auto_vacuum(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA auto_vacuum").fetchone()[0])
    finally:
        conn.close()


def test_a_small_file_of_an_earlier_version_is_converted_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    _old_file(path, rows=100)
    assert _auto_vacuum(path) == 0
    backend = make_backend(path)
    assert backend.live_workers_sync() == []
    backend.close_sync()
    assert _auto_vacuum(path) == 2


def test_a_big_file_of_an_earlier_version_is_left_alone_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "q.db"
    _old_file(path, rows=100)
    monkeypatch.setattr(driver, "CONVERT_MAX_BYTES", 100_000)
    log = RecordingLog()
    backend = make_backend(path, log)
    backend.purge_sync()
    backend.close_sync()
    assert _auto_vacuum(path) == 0
    assert len([w for w in log.warnings if "without incremental vacuum" in w]) == 1


def test_upkeep_deletes_in_short_transactions_and_stops_at_its_budget(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    db = driver.Db(str(path), ops.SCHEMA)
    finished = []
    for i in range(5000):
        r = record(i)
        r.status = SUCCESS
        finished.append(r)
    db.run(ops.op_put, "faults", finished, 0.001)
    time.sleep(0.01)

    def left() -> int:
        return int(db.run(lambda c: c.execute("SELECT count(*) FROM qtasks_tasks").fetchone()[0]))

    db.run(ops.op_maintain, "faults", 0.0)  # no time: one transaction's worth only
    assert left() == 3000
    db.run(ops.op_maintain, "faults")
    assert left() == 0
    db.close()
