"""`redis://` and `rediss://`: broker and result store on one Redis server.

```
  backend.py    RedisBackend: the port contracts, each operation a flow run by the driver
  flows.py      the operations as flows (generators of commands; no I/O)
  driver.py     connections, pipelines, script loading, error translation
  scripts.py    the Lua scripts, read from scripts/*.lua
  codec.py      the stored task format and the scripts' arguments
  commands.py   what flows yield: commands, scripts, pipelines
```
"""

from __future__ import annotations

from qtasks.backends.redis.backend import RedisBackend

__all__ = ["RedisBackend"]
