"""Migrating the PostgreSQL backend's schema (its statements are in `schema.py`),
written once as generators of statements that the driver runs on a sync or an async
connection, like the operations of `ops.py`.

A process first reads the applied version, which needs no right but reading: a current
schema is left alone (a role without CREATE rights can run workers). Otherwise, in one
transaction under a transaction-level advisory lock, it creates what is missing and
applies each pending migration, recording it in `schema_version`; processes starting
together apply each exactly once.
"""

from __future__ import annotations

from qtasks.backends.postgres import schema
from qtasks.backends.postgres.ops import Op, Q

_HAS_TABLE = "SELECT to_regclass(%s) IS NOT NULL"


def version(name: str) -> Op[int]:
    """The applied version of schema `name`; 0 when it has none yet."""
    found = yield Q(_HAS_TABLE, (f"{name}.schema_version",))
    if not found or not found[0][0]:
        return 0
    got = yield Q(f"SELECT max(version) FROM {name}.schema_version")
    return int(got[0][0] or 0) if got else 0


def migrate(name: str) -> Op[list[int]]:
    """Bring schema `name` to the latest version; run it in a transaction. Returns the
    versions applied (none when it was current)."""
    if (yield from version(name)) >= schema.LATEST:
        return []
    yield Q("SELECT pg_advisory_xact_lock(%s)", (schema.lock_key(name),))
    yield Q(schema.preamble(name))
    done = yield from version(name)  # another process may have applied some meanwhile
    applied = []
    for number, _ in schema.MIGRATIONS:
        if number > done:
            yield Q(schema.migration_sql(name, number))
            yield Q(f"INSERT INTO {name}.schema_version (version) VALUES (%s)", (number,))
            applied.append(number)
    return applied


__all__ = ["migrate", "version"]
