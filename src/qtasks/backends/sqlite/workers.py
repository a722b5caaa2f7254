"""The worker registry on SQLite: one row per live worker, expiring unless refreshed."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from qtasks.backends.sqlite.driver import write
from qtasks.core import codec as serialization


def op_register_worker(
    conn: sqlite3.Connection, ns: str, worker_id: str, info: dict[str, Any], ttl: float
) -> None:
    blob = serialization.dumps(info)
    write(
        conn,
        lambda c: (
            c.execute(
                "INSERT OR REPLACE INTO qtasks_workers VALUES (?,?,?,?)",
                (ns, worker_id, blob, time.time() + ttl),
            )
            and None
        ),
    )


def op_unregister_worker(conn: sqlite3.Connection, ns: str, worker_id: str) -> None:
    write(
        conn,
        lambda c: (
            c.execute("DELETE FROM qtasks_workers WHERE ns=? AND worker_id=?", (ns, worker_id))
            and None
        ),
    )


def op_live_workers(conn: sqlite3.Connection, ns: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT worker_id, info FROM qtasks_workers WHERE ns=? AND expires_at>?",
        (ns, time.time()),
    ).fetchall()
    return [dict(serialization.loads(info), worker_id=wid) for wid, info in rows]


__all__ = ["op_live_workers", "op_register_worker", "op_unregister_worker"]
