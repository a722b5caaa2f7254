"""Enqueue inside the caller's own PostgreSQL transaction: the task exists exactly when
that transaction commits (psycopg 3 connections, sync and async; SQLAlchemy's)."""

from __future__ import annotations

import os
import time
import uuid

import psycopg
import pytest

from qtasks import QueueTasks
from qtasks.asyncio import QueueTasks as AsyncQueueTasks
from qtasks.exc import CapabilityError, ConfigError

URL = os.environ.get("QTASKS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

pytestmark = pytest.mark.anyio


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _sync_app() -> tuple[QueueTasks, list[int]]:
    app = QueueTasks(unique("tx"), broker_url=URL)
    ran: list[int] = []

    @app.task
    def receipt(order: int) -> int:
        ran.append(order)
        return order

    return app, ran


def test_commit_makes_the_task_and_rollback_leaves_none() -> None:
    app, ran = _sync_app()
    with app.serve():
        with psycopg.connect(URL) as conn:
            with conn.transaction(), app.in_transaction(conn):
                committed = app.add_task("receipt", 1)
                assert committed is not None
                # Not visible outside the transaction, so no worker can take it yet.
                assert app.get(committed.uuid) is None
            with pytest.raises(RuntimeError), conn.transaction(), app.in_transaction(conn):
                rolled_back = app.add_task("receipt", 2)
                assert rolled_back is not None
                raise RuntimeError("the request failed")
        done = app.wait(committed.uuid, timeout=10)
        assert done is not None and done.status == "success" and done.returning == 1
        time.sleep(0.3)
        assert app.get(rolled_back.uuid) is None
    assert ran == [1]
    app.flush_all()


def test_a_worker_never_sees_an_uncommitted_task() -> None:
    app, ran = _sync_app()
    with app.serve(), psycopg.connect(URL) as conn:
        conn.execute("BEGIN")
        task = app.enqueue("receipt", (7,), connection=conn)
        assert task is not None
        time.sleep(1.0)  # a worker polls or is woken: nothing may reach it
        assert ran == []
        conn.commit()
        done = app.wait(task.uuid, timeout=5)
        assert done is not None and done.returning == 7
    app.flush_all()


async def test_async_connection_and_async_app() -> None:
    app = AsyncQueueTasks(unique("atx"), broker_url=URL)

    @app.task
    async def double(x: int) -> int:
        return 2 * x

    async with app.serve():
        async with await psycopg.AsyncConnection.connect(URL) as conn:
            async with conn.transaction():
                with app.in_transaction(conn):
                    first = await app.add_task("double", 21)
                    many = await app.add_tasks([("double", (1,), {}), ("double", (2,), {})])
                assert first is not None
            async with conn.transaction() as tx:
                dropped = await app.enqueue("double", (5,), connection=conn)
                assert dropped is not None
                raise psycopg.Rollback(tx)
        done = await app.wait(first.uuid, timeout=10)
        assert done is not None and done.returning == 42
        for task, want in zip(many, (2, 4), strict=True):
            got = await app.wait(task.uuid, timeout=10)
            assert got is not None and got.returning == want
        assert await app.get(dropped.uuid) is None
    await app.flush_all()


def test_sqlalchemy_session_connection() -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    from sqlalchemy.orm import Session

    app, ran = _sync_app()
    engine = sqlalchemy.create_engine(URL.replace("postgresql://", "postgresql+psycopg://"))
    table = unique("orders").replace("-", "_")
    with engine.begin() as setup:
        setup.exec_driver_sql(f"CREATE TABLE {table} (id int PRIMARY KEY)")
    try:
        with app.serve():
            with Session(engine) as session, session.begin():
                session.execute(sqlalchemy.text(f"INSERT INTO {table} VALUES (1)"))
                dbapi = session.connection().connection.driver_connection
                task = app.enqueue("receipt", (1,), connection=dbapi)
            assert task is not None
            done = app.wait(task.uuid, timeout=10)
            assert done is not None and done.returning == 1
            with pytest.raises(RuntimeError), Session(engine) as session, session.begin():
                dbapi = session.connection().connection.driver_connection
                lost = app.enqueue("receipt", (2,), connection=dbapi)
                raise RuntimeError("rolled back")
            time.sleep(0.3)
            assert app.get(lost.uuid) is None
        assert ran == [1]
    finally:
        with engine.begin() as teardown:
            teardown.exec_driver_sql(f"DROP TABLE {table}")
        engine.dispose()
        app.flush_all()


def test_clear_errors() -> None:
    app, _ = _sync_app()
    with (
        psycopg.connect(URL) as conn,
        app.in_transaction(conn),
        pytest.raises(ConfigError, match="wait after committing"),
    ):
        app.add_task("receipt", 1, timeout=5)
    with pytest.raises(ConfigError, match="psycopg 3 connection"), app.in_transaction(object()):
        app.add_task("receipt", 1)
    with (
        psycopg.connect(URL.rsplit("/", 1)[0] + "/postgres") as other,
        pytest.raises(ConfigError, match="database 'postgres'"),
    ):
        app.enqueue("receipt", (1,), connection=other)
    lite = QueueTasks(unique("lite"), broker_url="memory://tx")
    with (
        pytest.raises(CapabilityError, match="transactional enqueue"),
        lite.in_transaction(object()),
    ):
        pass
