"""`sqlite:///path`: the embedded default backend, a file shared by the processes of
one machine.

```
  backend.py   SqliteBackend: the port contracts, sync and async callers, waits as flows
  ops.py       the schema and the SQL operations, plain functions over a connection
  driver.py    the path, the connection, write transactions, error translation
```
"""

from __future__ import annotations

from qtasks.backends.sqlite.backend import SqliteBackend
from qtasks.backends.sqlite.driver import path_from_url

__all__ = ["SqliteBackend", "path_from_url"]
