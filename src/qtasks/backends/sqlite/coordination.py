"""Named leases and shared documents on SQLite (`Coordination`): two small tables in the
same file. The deciding clock is the machine's that holds the file (every process on it
reads the same clock)."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from qtasks.backends.sqlite.driver import write
from qtasks.core import codec

SCHEMA = """
CREATE TABLE IF NOT EXISTS qtasks_leases (
    ns TEXT NOT NULL,
    name TEXT NOT NULL,
    holder TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (ns, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS qtasks_documents (
    ns TEXT NOT NULL,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    document BLOB NOT NULL,
    PRIMARY KEY (ns, collection, key)
) WITHOUT ROWID;
"""

# Take the lease when it is free, expired or the holder's own: one statement, so two
# processes racing for it cannot both win (the write lock serialises them).
_ACQUIRE = (
    "INSERT INTO qtasks_leases (ns, name, holder, expires_at) VALUES (?,?,?,?) "
    "ON CONFLICT (ns, name) DO UPDATE SET holder=excluded.holder, "
    "expires_at=excluded.expires_at "
    "WHERE qtasks_leases.holder=excluded.holder OR qtasks_leases.expires_at<=? "
    "RETURNING holder"
)


def op_acquire_lease(
    conn: sqlite3.Connection, ns: str, name: str, holder: str, ttl: float
) -> float | None:
    def body(c: sqlite3.Connection) -> float | None:
        now = time.time()
        row = c.execute(_ACQUIRE, (ns, name, holder, now + ttl, now)).fetchone()
        return now if row is not None else None

    return write(conn, body)


def op_release_lease(conn: sqlite3.Connection, ns: str, name: str, holder: str) -> None:
    write(
        conn,
        lambda c: (
            c.execute(
                "DELETE FROM qtasks_leases WHERE ns=? AND name=? AND holder=?", (ns, name, holder)
            )
            and None
        ),
    )


def op_lease_holder(conn: sqlite3.Connection, ns: str, name: str) -> str | None:
    row = conn.execute(
        "SELECT holder FROM qtasks_leases WHERE ns=? AND name=? AND expires_at>?",
        (ns, name, time.time()),
    ).fetchone()
    return None if row is None else str(row[0])


def op_put_document(
    conn: sqlite3.Connection, ns: str, collection: str, key: str, document: dict[str, Any]
) -> None:
    blob = codec.dumps(document)
    write(
        conn,
        lambda c: (
            c.execute(
                "INSERT OR REPLACE INTO qtasks_documents VALUES (?,?,?,?)",
                (ns, collection, key, blob),
            )
            and None
        ),
    )


def op_get_document(
    conn: sqlite3.Connection, ns: str, collection: str, key: str
) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT document FROM qtasks_documents WHERE ns=? AND collection=? AND key=?",
        (ns, collection, key),
    ).fetchone()
    return None if row is None else dict(codec.loads(row[0]))


def op_list_documents(
    conn: sqlite3.Connection, ns: str, collection: str
) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        "SELECT key, document FROM qtasks_documents WHERE ns=? AND collection=?", (ns, collection)
    ).fetchall()
    return {str(key): dict(codec.loads(blob)) for key, blob in rows}


def op_delete_document(conn: sqlite3.Connection, ns: str, collection: str, key: str) -> bool:
    def body(c: sqlite3.Connection) -> bool:
        cursor = c.execute(
            "DELETE FROM qtasks_documents WHERE ns=? AND collection=? AND key=?",
            (ns, collection, key),
        )
        return cursor.rowcount > 0

    return write(conn, body)


__all__ = [
    "SCHEMA",
    "op_acquire_lease",
    "op_delete_document",
    "op_get_document",
    "op_lease_holder",
    "op_list_documents",
    "op_put_document",
    "op_release_lease",
]
