"""The PostgreSQL backend's schema: its tables, versioned migrations and the advisory
lock that lets several workers create it at once.

Everything lives in one PostgreSQL schema (`qtasks` unless the URL says
`?schema=name`); the apps sharing a schema keep apart by namespace (the app's name),
which leads every key and index. Migrations are numbered; `schema_version` holds the
highest applied, and each runs in the transaction that records it, under a
transaction-level advisory lock, so workers starting together apply each exactly once.

`schema_sql(name)` is the whole schema as one script (docs/backends/schema.sql is it for
the default name), for teams that run their migrations themselves.
"""

from __future__ import annotations

import hashlib
import re

#: Names a schema may have: a plain lower-case identifier, so it is never quoted wrongly.
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

DEFAULT_SCHEMA = "qtasks"

# state of a task row: where it stands in delivery (its `status` is what users see).
READY, LEASED, OFF_QUEUE, DELAYED = 0, 1, 2, 3

#: (version, statements) in order; a migration never changes once released.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
CREATE TABLE IF NOT EXISTS {s}.tasks (
    ns text NOT NULL,
    uuid text NOT NULL,
    queue text NOT NULL,
    task_name text NOT NULL,
    priority bigint NOT NULL,
    status text NOT NULL,
    args bytea NOT NULL,
    kwargs bytea NOT NULL,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    result bytea,
    traceback text,
    extra bytea,
    eta double precision,
    attempts integer NOT NULL DEFAULT 0,
    expires_at double precision,
    state smallint NOT NULL,
    seq bigserial NOT NULL,
    due double precision NOT NULL DEFAULT 0,
    lease_until double precision,
    token text,
    PRIMARY KEY (uuid, ns)
);
CREATE INDEX IF NOT EXISTS tasks_ready ON {s}.tasks (ns, queue, priority, seq)
    WHERE state = 0;
CREATE INDEX IF NOT EXISTS tasks_leased ON {s}.tasks (ns, queue, lease_until)
    WHERE state = 1;
CREATE INDEX IF NOT EXISTS tasks_delayed ON {s}.tasks (ns, queue, due)
    WHERE state = 3;
CREATE INDEX IF NOT EXISTS tasks_expiry ON {s}.tasks (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS {s}.dead_letters (
    ns text NOT NULL,
    uuid text NOT NULL,
    queue text NOT NULL,
    reason text NOT NULL,
    dead_at double precision NOT NULL,
    record bytea,
    raw text,
    PRIMARY KEY (ns, uuid)
);
CREATE INDEX IF NOT EXISTS dead_letters_order ON {s}.dead_letters (ns, dead_at);
CREATE TABLE IF NOT EXISTS {s}.workers (
    ns text NOT NULL,
    worker_id text NOT NULL,
    info bytea NOT NULL,
    expires_at double precision NOT NULL,
    PRIMARY KEY (ns, worker_id)
);
""",
    ),
    (
        2,
        """
CREATE TABLE IF NOT EXISTS {s}.leases (
    ns text NOT NULL,
    name text NOT NULL,
    holder text NOT NULL,
    expires_at double precision NOT NULL,
    PRIMARY KEY (ns, name)
);
CREATE TABLE IF NOT EXISTS {s}.documents (
    ns text NOT NULL,
    collection text NOT NULL,
    key text NOT NULL,
    document bytea NOT NULL,
    PRIMARY KEY (ns, collection, key)
);
""",
    ),
    (
        3,
        """
CREATE INDEX IF NOT EXISTS tasks_by_status ON {s}.tasks (status, ns, created_at, uuid);
CREATE INDEX IF NOT EXISTS tasks_by_name ON {s}.tasks (task_name, ns, created_at, uuid);
CREATE TABLE IF NOT EXISTS {s}.paused (
    ns text NOT NULL,
    queue text NOT NULL,
    PRIMARY KEY (ns, queue)
);
""",
    ),
)

LATEST = MIGRATIONS[-1][0]


def check_name(name: str) -> str:
    """`name` if it can be a schema name here, else ValueError saying what is allowed."""
    if not _NAME.match(name):
        raise ValueError(
            f"Invalid PostgreSQL schema name {name!r}: use lower-case letters, digits and "
            "underscores, starting with a letter or underscore (at most 63)"
        )
    return name


def lock_key(schema: str) -> int:
    """The advisory-lock key that serialises migrations of `schema` (a signed 64-bit
    number derived from its name)."""
    digest = hashlib.sha256(f"qtasks-migrate:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def preamble(schema: str) -> str:
    return (
        f"CREATE SCHEMA IF NOT EXISTS {schema};\n"
        f"CREATE TABLE IF NOT EXISTS {schema}.schema_version "
        "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());\n"
    )


def migration_sql(schema: str, version: int) -> str:
    for number, body in MIGRATIONS:
        if number == version:
            return body.format(s=schema)
    raise KeyError(version)


def schema_sql(schema: str = DEFAULT_SCHEMA) -> str:
    """Every statement of the latest schema, as one script a team can run itself."""
    parts = [f"-- qtasks PostgreSQL schema, version {LATEST}\n", preamble(schema)]
    for number, body in MIGRATIONS:
        parts.append(f"\n-- migration {number}\n{body.format(s=schema).strip()}\n")
        parts.append(
            f"INSERT INTO {schema}.schema_version (version) VALUES ({number}) "
            "ON CONFLICT DO NOTHING;\n"
        )
    return "".join(parts)


def channel(schema: str, namespace: str, kind: str) -> str:
    """The LISTEN/NOTIFY channel of one app's queue wake-ups (`kind` "q") or finished
    records ("r"): a short lower-case identifier derived from schema and namespace."""
    digest = hashlib.sha256(f"{schema}\x00{namespace}".encode()).hexdigest()[:24]
    return f"qtasks_{kind}_{digest}"


__all__ = [
    "DEFAULT_SCHEMA",
    "DELAYED",
    "LATEST",
    "LEASED",
    "MIGRATIONS",
    "OFF_QUEUE",
    "READY",
    "channel",
    "check_name",
    "lock_key",
    "migration_sql",
    "preamble",
    "schema_sql",
]
