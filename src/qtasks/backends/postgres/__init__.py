"""`postgresql://user@host:5432/db` (also `postgres://`): a PostgreSQL database as queue
and result store, with enqueue inside the caller's own transaction.
`pip install ".[postgres]"` (psycopg 3).

```
  backend.py    PostgresBackend: the port contracts, sync and async callers, waits
  ops.py        each operation once, as a generator of statements
  sql.py        the statements, written once per schema name
  schema.py     tables, versioned migrations, NOTIFY channel names
  migrations.py applying them under an advisory lock
  driver.py     the URL, connections, running operations, errors
  listener.py   the process's LISTEN thread, waking fetches and waiters
```
"""

from __future__ import annotations

from qtasks.backends.postgres.backend import PostgresBackend
from qtasks.backends.postgres.schema import schema_sql

__all__ = ["PostgresBackend", "schema_sql"]
