"""The PostgreSQL schema: `qtasks db upgrade|status|sql`, `?migrate=false`, the
documented schema.sql, and the plans of the hot statements (indexes, never a
sequential scan)."""

from __future__ import annotations

import os
import pathlib
import sys
import time
import uuid

import psycopg
import pytest

from qtasks import QueueTasks
from qtasks.backends.postgres import inspect as pg_inspect
from qtasks.backends.postgres import ops, schema_sql
from qtasks.backends.postgres.sql import statements
from qtasks.cli import main
from qtasks.core.inspection import TaskQuery
from qtasks.core.models import Delivery, TaskRecord
from qtasks.exc import ConfigError

URL = os.environ.get("QTASKS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "backends"


@pytest.fixture
def schema() -> object:
    name = f"qtasks_t_{uuid.uuid4().hex[:8]}"
    yield name
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def _module(tmp_path: pathlib.Path, url: str) -> str:
    (tmp_path / "dbapp.py").write_text(
        f"from qtasks import QueueTasks\napp = QueueTasks('dbapp', broker_url={url!r})\n"
    )
    sys.path.insert(0, str(tmp_path))
    sys.modules.pop("dbapp", None)
    return "dbapp:app"


def test_db_commands_and_migrate_false(
    schema: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{URL}?schema={schema}&migrate=false"
    target = _module(tmp_path, url)
    try:
        assert main(["-A", target, "db", "status"]) == 1
        assert "version 0, this qtasks needs 3" in capsys.readouterr().out
        app = QueueTasks("dbapp", broker_url=url)
        with pytest.raises(ConfigError, match="db upgrade"):
            app.add_task("t")
        assert main(["-A", target, "db", "upgrade"]) == 0
        assert "Applied migrations 1, 2, 3" in capsys.readouterr().out
        assert main(["-A", target, "db", "upgrade"]) == 0
        assert "nothing to apply" in capsys.readouterr().out
        assert main(["-A", target, "db", "status"]) == 0
        assert "at version 3: current" in capsys.readouterr().out
        assert QueueTasks("dbapp", broker_url=url).add_task("t") is not None
        assert main(["-A", target, "db", "sql"]) == 0
        assert capsys.readouterr().out == schema_sql(schema)
    finally:
        sys.path.remove(str(tmp_path))


def test_db_refuses_a_backend_without_a_schema(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = _module(tmp_path, f"sqlite:///{tmp_path}/x.db")
    try:
        with pytest.raises(SystemExit) as stopped:
            main(["-A", target, "db", "status"])
        assert stopped.value.code == 2
        assert "no versioned schema" in capsys.readouterr().err
    finally:
        sys.path.remove(str(tmp_path))


def test_the_documented_script_is_the_schema_and_runs(schema: str) -> None:
    documented = (DOCS / "schema.sql").read_text()
    assert documented == schema_sql(), "write schema_sql() to docs/backends/schema.sql"
    script = schema_sql(schema)
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(script)
        conn.execute(script)  # idempotent
    app = QueueTasks("scripted", broker_url=f"{URL}?schema={schema}&migrate=false")
    assert app.add_task("t") is not None


def test_a_role_without_create_rights_runs_on_a_current_schema(schema: str) -> None:
    role = f"qtasks_user_{uuid.uuid4().hex[:8]}"
    owner = QueueTasks("owner", broker_url=f"{URL}?schema={schema}")
    assert owner.add_task("t") is not None  # creates the schema
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        conn.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}"
        )
        conn.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")
    try:
        url = URL.replace("postgres@", f"{role}@") + f"?schema={schema}&application_name={role}"
        app = QueueTasks("limited", broker_url=url)

        @app.task
        def echo(x: int) -> int:
            return x

        with app.serve():
            done = app.add_task("echo", 5, timeout=10)
            assert done is not None and done.returning == 5
        app.flush_all()
        app.backend.close_sync()
    finally:
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            )
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


# --- plans of the hot statements ----------------------------------------------------------------


def _plan(conn: psycopg.Connection[object], sql: str, params: object) -> str:
    rows = conn.execute("EXPLAIN " + sql, params).fetchall()  # planned, not run
    return "\n".join(str(r[0]) for r in rows)


def test_hot_statements_use_their_indexes(schema: str) -> None:
    app = QueueTasks("plans", broker_url=f"{URL}?schema={schema}")
    app.add_tasks([("t", (i,), {}) for i in range(20000)])
    s = statements(schema)
    now = time.time()
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"ANALYZE {schema}.tasks")
        rec = TaskRecord(uuid="x", task_name="t", priority=0, args=[], kwargs={}, status="success",
                         created_at=now, updated_at=now)  # fmt: skip
        held = {"ns": "plans", "uuid": ["a", "b"], "token": ["t", "t"]}
        fetch = {"ns": "plans", "queue": "default", "n": 10, "lease": 30.0, "token": "t"}
        complete = next(ops.complete(s, "plans", ("q", "r"), [_completion(rec)], 60.0))
        plans = {
            "fetch": _plan(conn, s.fetch, fetch),
            "complete": _plan(conn, complete.sql, complete.params),
            "extend": _plan(conn, s.extend, {**held, "lease": 30.0}),
            "ack": _plan(conn, s.ack, held),
            "get": _plan(conn, s.get, ("plans", "x")),
            "expire": _plan(conn, s.expire, (5000,)),
        }
    for name, plan in plans.items():
        assert "Seq Scan" not in plan, f"{name}:\n{plan}"
    assert "tasks_ready" in plans["fetch"] and "tasks_leased" in plans["fetch"]
    assert "tasks_delayed" in plans["fetch"] and "tasks_expiry" in plans["expire"]
    # Time bounds are index conditions, not filters: an idle fetch does not walk every
    # delayed task or lease, nor upkeep every record with a time to live.
    conditions = [line for line in plans["fetch"].splitlines() if "Index Cond" in line]
    assert any("due <=" in line for line in conditions)
    assert any("lease_until <" in line for line in conditions)
    assert any(
        "Index Cond" in line and "expires_at <" in line for line in plans["expire"].splitlines()
    )
    app.flush_all()


def test_batch_statements_probe_their_uuids_even_with_stale_statistics(schema: str) -> None:
    # Statistics gathered while the app had no rows, then 20,000 of them: a plan that
    # trusted the statistics could join by walking the whole namespace.
    early = QueueTasks("other", broker_url=f"{URL}?schema={schema}")
    early.add_tasks([("t", (i,), {}) for i in range(2000)])
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"ANALYZE {schema}.tasks")
    app = QueueTasks("late", broker_url=f"{URL}?schema={schema}")
    app.add_tasks([("t", (i,), {}) for i in range(20000)])
    s = statements(schema)
    now = time.time()
    rec = TaskRecord(uuid="x", task_name="t", priority=0, args=[], kwargs={}, status="success",
                     created_at=now, updated_at=now)  # fmt: skip
    held = {"ns": "late", "uuid": ["a", "b"], "token": ["t", "t"], "lease": 30.0}
    complete = next(ops.complete(s, "late", ("q", "r"), [_completion(rec)], 60.0))
    fetch = {"ns": "late", "queue": "default", "n": 10, "lease": 30.0, "token": "t"}
    with psycopg.connect(URL, autocommit=True) as conn:
        # The fetch updates the rows its index probes locked, by their addresses.
        assert "Tid Scan on tasks t" in _plan(conn, s.fetch, fetch)
        for name, sql, params in (
            ("complete", complete.sql, complete.params),
            ("extend", s.extend, held),
            ("ack", s.ack, held),
        ):
            plan = _plan(conn, sql, params)
            probes = [line for line in plan.splitlines() if "Index Cond" in line and "uuid" in line]
            assert probes and all("ANY" in line for line in probes), f"{name}:\n{plan}"
    app.flush_all()
    early.flush_all()


def _completion(record: TaskRecord) -> object:
    from qtasks.core.models import Completion

    return Completion(Delivery(record, "t"), record)


def test_listing_reads_an_index_in_order(schema: str) -> None:
    app = QueueTasks("listing", broker_url=f"{URL}?schema={schema}")
    names = ["send_email", "resize", "charge", "report"]
    app.add_tasks([(names[i % 4], (i,), {}) for i in range(20000)])
    s = statements(schema)
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"ANALYZE {schema}.tasks")
        plans = {}
        for label, query in (
            ("status", TaskQuery(status="new")),
            ("name", TaskQuery(task_name="charge")),
            ("status and name", TaskQuery(status="new", task_name="charge")),
            ("page after a cursor", TaskQuery(status="new", cursor=f"{time.time()}/z")),
            ("no filter", TaskQuery()),
        ):
            op = pg_inspect.list_tasks(s, "listing", query)
            statement = next(op)
            plans[label] = _plan(conn, statement.sql, statement.params)
    for label, plan in plans.items():
        assert "Seq Scan" not in plan, f"{label}:\n{plan}"
        if label != "no filter":  # that one merges six pages of 51, one per status
            assert "Sort" not in plan, f"{label}:\n{plan}"
    assert plans["no filter"].count("Index Scan Backward using tasks_by_status") == 6
    assert "tasks_by_status" in plans["status"] and "tasks_by_name" in plans["name"]
    page = app.list_tasks(task_name="charge", limit=50)
    assert len(page) == 50 and {t.task_name for t in page} == {"charge"}
    app.flush_all()
