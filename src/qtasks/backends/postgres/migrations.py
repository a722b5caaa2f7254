"""Migrating the PostgreSQL backend's schema over a psycopg connection (the statements
are in `schema.py`): once per version, under a transaction-level advisory lock, so
processes starting together apply each migration exactly once."""

from __future__ import annotations

from typing import Any

import psycopg

from qtasks.backends.postgres import schema


def _pending(conn_version: int | None) -> list[int]:
    done = conn_version or 0
    return [number for number, _ in schema.MIGRATIONS if number > done]


def migrate(conn: psycopg.Connection[Any], name: str) -> list[int]:
    """Bring schema `name` to the latest version on a sync connection; returns the
    versions applied (none when it was current). Safe when several processes call it at
    once: each migration runs under a transaction-level advisory lock."""
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (schema.lock_key(name),))
        conn.execute(schema.preamble(name))
        row = conn.execute(f"SELECT max(version) FROM {name}.schema_version").fetchone()
        for number in _pending(row[0] if row else None):
            conn.execute(schema.migration_sql(name, number))
            conn.execute(f"INSERT INTO {name}.schema_version (version) VALUES (%s)", (number,))
            applied.append(number)
    return applied


async def migrate_async(conn: psycopg.AsyncConnection[Any], name: str) -> list[int]:
    """`migrate` on an async connection."""
    applied: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (schema.lock_key(name),))
        await conn.execute(schema.preamble(name))
        cur = await conn.execute(f"SELECT max(version) FROM {name}.schema_version")
        row = await cur.fetchone()
        for number in _pending(row[0] if row else None):
            await conn.execute(schema.migration_sql(name, number))
            await conn.execute(
                f"INSERT INTO {name}.schema_version (version) VALUES (%s)", (number,)
            )
            applied.append(number)
    return applied


def current_version(conn: psycopg.Connection[Any], name: str) -> int:
    """The schema's applied version; 0 when it has none yet."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{name}.schema_version",)).fetchone()
    if not row or not row[0]:
        return 0
    got = conn.execute(f"SELECT max(version) FROM {name}.schema_version").fetchone()
    return int(got[0] or 0) if got else 0


_VERSION_TABLE = "SELECT to_regclass(%s) IS NOT NULL"


async def current_version_async(conn: psycopg.AsyncConnection[Any], name: str) -> int:
    """`current_version` on an async connection."""
    cur = await conn.execute(_VERSION_TABLE, (f"{name}.schema_version",))
    row = await cur.fetchone()
    if not row or not row[0]:
        return 0
    cur = await conn.execute(f"SELECT max(version) FROM {name}.schema_version")
    got = await cur.fetchone()
    return int(got[0] or 0) if got else 0


__all__ = ["current_version", "current_version_async", "migrate", "migrate_async"]
