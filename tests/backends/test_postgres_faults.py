"""The PostgreSQL backend under faults: bad URLs and servers, connections killed by the
server, a server restart, statement timeouts, several workers creating the schema."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from qtasks import QueueTasks
from qtasks.backends import create_backend
from qtasks.backends.postgres import migrations
from qtasks.backends.postgres.driver import Target, drive_sync
from qtasks.backends.postgres.listener import listener_for
from qtasks.backends.postgres.schema import LATEST
from qtasks.configs import QueueConfig
from qtasks.exc import BackendError, BackendUnavailableError, ConfigError
from qtasks.logs import Logger

URL = os.environ.get("QTASKS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def backend(url: str = URL, name: str | None = None) -> object:
    return create_backend(
        url, namespace=name or unique("faults"), config=QueueConfig(), log=Logger("faults")
    )


def drop_schema(name: str) -> None:
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


# --- bad URLs and servers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("postgresql://postgres@127.0.0.1:1/test", ["127.0.0.1:1/test"]),
        ("postgresql://postgres@127.0.0.1:5432/no_such_db", ["no_such_db", "5432"]),
        ("postgres://nobody:s3cret@127.0.0.1:5432/test", ["127.0.0.1:5432/test", "nobody"]),
    ],
)
def test_unusable_servers_are_unavailable_errors_without_the_password(
    url: str, names: list[str]
) -> None:
    b = backend(url)
    with pytest.raises(BackendUnavailableError) as caught:
        b.get_sync("x")  # type: ignore[attr-defined]
    text = str(caught.value)
    for name in names:
        assert name in text
    assert "s3cret" not in text and "s3cret" not in repr(b)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://127.0.0.1/test?schema=Bad-Name", "schema name"),
        ("postgresql://127.0.0.1/test?statement_timeout=soon", "statement_timeout"),
        ("postgresql://127.0.0.1/test?statement_timeout=0", "must be > 0"),
        ("postgresql://127.0.0.1/test?prepare=maybe", "prepare in a PostgreSQL URL"),
        ("postgresql://127.0.0.1/test?migrate=never", "migrate in a PostgreSQL URL"),
    ],
)
def test_bad_url_options_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Target(url)


def test_prepare_false_for_poolers_in_transaction_mode() -> None:
    app = QueueTasks(unique("noprep"), broker_url=URL + "?prepare=false")

    @app.task
    def echo(x: int) -> int:
        return x

    with app.serve():
        for i in range(8):  # past psycopg's threshold, where it would prepare
            done = app.add_task("echo", i, timeout=10)
            assert done is not None and done.returning == i
    with app.backend._db._sync_conn() as conn:  # type: ignore[attr-defined]
        assert conn.prepare_threshold is None
        assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)
    app.flush_all()


def test_a_heartbeat_never_waits_for_a_locked_row() -> None:
    # A completion holding the rows of a batch (in a transaction here) must not make the
    # lease thread's renewal wait: two statements waiting on each other's rows deadlock.
    import asyncio

    name = unique("hb")
    b = backend(URL, name)

    async def lease_two() -> list[object]:
        from qtasks.core.records import new_record

        await b.enqueue(
            [new_record("t", [i], {}, None, spec=None, default_priority=0) for i in range(2)]
        )  # type: ignore[attr-defined]
        got = await b.fetch("default", 2, 30.0, "w", 0.0)  # type: ignore[attr-defined]
        await b.close()  # type: ignore[attr-defined]
        return list(got)

    first, second = asyncio.run(lease_two())
    with psycopg.connect(URL) as holder:
        holder.execute(
            "SELECT 1 FROM qtasks.tasks WHERE ns=%s AND uuid=%s FOR UPDATE",
            (name, first.record.uuid),  # type: ignore[attr-defined]
        )
        started = time.monotonic()
        b.extend_sync([first, second], 60.0)  # type: ignore[attr-defined]
        assert time.monotonic() - started < 1.0
    with psycopg.connect(URL) as conn:
        until = dict(
            conn.execute(
                "SELECT uuid, lease_until - extract(epoch from now()) FROM qtasks.tasks"
                " WHERE ns=%s",
                (name,),
            ).fetchall()
        )
    assert until[second.record.uuid] > 45  # type: ignore[attr-defined]
    assert until[first.record.uuid] < 35  # type: ignore[attr-defined]  # skipped, not waited for
    b.purge_sync()  # type: ignore[attr-defined]


def test_statement_timeout_ends_a_blocked_statement() -> None:
    name = unique("st")
    b = backend(URL + "?statement_timeout=0.3", name)
    app = QueueTasks(name, broker_url=URL)
    task = app.enqueue("nothing", ())
    assert task is not None
    with psycopg.connect(URL) as holder:
        holder.execute(
            "SELECT 1 FROM qtasks.tasks WHERE ns=%s AND uuid=%s FOR UPDATE", (name, str(task.uuid))
        )
        started = time.monotonic()
        with pytest.raises(BackendError, match="statement_timeout"):
            b.cancel_sync(str(task.uuid), "blocked")  # type: ignore[attr-defined]
        assert time.monotonic() - started < 3
    app.flush_all()


# --- the schema ----------------------------------------------------------------------------------


def test_workers_starting_together_create_the_schema_once() -> None:
    name = unique("qtasks_s")
    applied: list[list[int]] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            with psycopg.connect(URL, autocommit=True) as conn, conn.transaction():
                applied.append(drive_sync(conn, migrations.migrate(name)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        assert sorted(applied, key=len) == [[]] * 5 + [list(range(1, LATEST + 1))]
        with psycopg.connect(URL) as conn:
            assert drive_sync(conn, migrations.version(name)) == LATEST
    finally:
        drop_schema(name)


def test_apps_in_their_own_schemas_are_apart() -> None:
    a, b = unique("qtasks_a"), unique("qtasks_b")
    try:
        one = QueueTasks("same", broker_url=f"{URL}?schema={a}")
        two = QueueTasks("same", broker_url=f"{URL}?schema={b}")
        task = one.enqueue("t", (1,))
        assert task is not None
        assert one.get(task.uuid) is not None
        assert two.get(task.uuid) is None
    finally:
        drop_schema(a)
        drop_schema(b)


# --- connections lost ----------------------------------------------------------------------------


def _terminate_connections(application_name: str) -> int:
    with psycopg.connect(URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND pid <> pg_backend_pid()",
            (application_name,),
        ).fetchall()
    return len(rows)


def _round_trips(app: QueueTasks, count: int) -> list[float]:
    times = []
    for i in range(count):
        started = time.perf_counter()
        done = app.add_task("echo", i, timeout=10)
        assert done is not None and done.returning == i
        times.append(time.perf_counter() - started)
    return times


def test_terminated_connections_resume_listening_without_polling() -> None:
    # Its own application_name, so only this test's connections are terminated.
    label = unique("qtasks_kill")
    app = QueueTasks(label, broker_url=f"{URL}?application_name={label}")

    @app.task
    def echo(x: int) -> int:
        return x

    with app.serve():
        _round_trips(app, 3)
        listener = listener_for(app.backend.target.conninfo, "", app.log)  # type: ignore[attr-defined]
        before = listener.connects
        # Tasks queued before the kill, and more while the connections are down.
        queued = [app.enqueue("echo", (i,)) for i in range(20)]
        assert _terminate_connections(label) >= 2
        queued += [app.enqueue("echo", (i,)) for i in range(20, 40)]
        for task in queued:
            assert task is not None
            done = app.wait(task.uuid, timeout=10)
            assert done is not None and done.status == "success"
        deadline = time.monotonic() + 5
        while listener.connects == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert listener.connects > before and listener.connected.wait(5)
        # Woken by NOTIFY again: a worker polling every second would take ~0.5 s each.
        assert statistics.median(_round_trips(app, 15)) < 0.2
    app.flush_all()


@pytest.fixture
def restartable() -> Iterator[list[str]]:
    if not shutil.which("pg_ctlcluster") or not os.path.isdir("/etc/postgresql"):
        pytest.fail("the local PostgreSQL cluster is managed by pg_ctlcluster on this machine")
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]
    yield command
    # Whatever happened, leave the server running for the tests after this one.
    subprocess.run([*command, "start"], capture_output=True, timeout=60)


def test_server_restart_loses_no_acknowledged_task(restartable: list[str]) -> None:
    name = unique("restart")
    app = QueueTasks(name, broker_url=URL)

    @app.task
    def echo(x: int) -> int:
        time.sleep(0.01)
        return x

    acknowledged: list[str] = []
    stop = threading.Event()

    def produce() -> None:
        i = 0
        while not stop.is_set():
            try:
                task = app.enqueue("echo", (i,))
            except BackendUnavailableError:
                time.sleep(0.05)
                continue
            assert task is not None
            acknowledged.append(str(task.uuid))
            i += 1
            time.sleep(0.005)

    with app.serve():
        producer = threading.Thread(target=produce)
        producer.start()
        time.sleep(1.0)
        subprocess.run([*restartable, "restart", "-m", "fast"], check=True, timeout=60)
        time.sleep(1.5)
        stop.set()
        producer.join(30)
        deadline = time.monotonic() + 30
        missing = set(acknowledged)
        while missing and time.monotonic() < deadline:
            for uuid_ in list(missing):
                try:
                    record = app.get(uuid_)
                except BackendUnavailableError:
                    break
                if record is not None and record.status == "success":
                    missing.discard(uuid_)
            time.sleep(0.2)
    assert len(acknowledged) > 50
    assert missing == set()
    app.flush_all()
