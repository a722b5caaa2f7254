"""The Redis backend's Lua scripts, read from `scripts/*.lua` (shipped in the package).

Each script gets KEYS[1] = the namespace's key prefix `qtasks:{ns}:` (as `P`; its `{ns}`
hash tag routes every key of the namespace to one Redis Cluster slot) and pastes in only
the helpers (`scripts/_<name>.lua`) it uses: Redis runs a script's whole body, helper
definitions included, on every EVALSHA. A file's leading `--` lines document it and are
not sent. The stored task format the scripts read is described in `codec.py`.
"""

from __future__ import annotations

from importlib.resources import files

from qtasks.backends.redis.commands import Script

_DIR = files("qtasks.backends.redis").joinpath("scripts")


def _read(name: str) -> str:
    lines = _DIR.joinpath(f"{name}.lua").read_text(encoding="utf-8").splitlines(keepends=True)
    start = 0
    while start < len(lines) and lines[start].startswith("--"):
        start += 1
    return "".join(lines[start:])


def _script(name: str, *helpers: str) -> Script:
    return Script(name, "".join(_read(f"_{h}") for h in helpers) + _read(name))


# Task writes: one round trip each, atomic.
ENQUEUE_ONE = _script("enqueue_one", "ix")
ENQUEUE = _script("enqueue", "now", "push", "wake", "ix", "enqueue")
FETCH = _script("fetch", "now", "head", "wake", "ix", "dead", "recover")
COMPLETE = _script("complete", "now", "head", "push", "wake", "done", "ix", "dead", "enqueue")
PUT = _script("put", "head", "done", "ix")
ACK = _script("ack", "head", "push")
EXTEND = _script("extend", "now", "head", "push", "leased")
RELEASE = _script("release", "head", "push", "wake", "leased")
MAINTAIN = _script("maintain", "now", "head", "wake", "ix", "dead", "recover", "sweep")
CANCEL = _script("cancel", "head", "done", "ix")
CANCEL_REQUESTS = _script("cancel_requests", "head")
WATCH = _script("watch", "head", "done")
STATS = _script("stats")
# Dead letters: ZSET dl (uuid scored by when), STRING dl:{uuid} (see _dead.lua).
BURY = _script("bury", "now", "head", "ix", "dead")
DL_READ = _script("dl_read", "now")
DL_REQUEUE = _script("dl_requeue", "now", "wake", "ix")
DL_PURGE = _script("dl_purge")
# Workers: ZSET workers (score = expiry), HASH winfo (id -> info JSON).
WORKER = _script("worker", "now")
LIVE_WORKERS = _script("live_workers", "now")
# Inspection (see _ix.lua): listing is read by inspect.py; SET paused of queues.
PURGE_TASKS = _script("purge_tasks", "head")
COUNT_TASKS = _script("count_tasks")
# Shared settings (QTasks 1.7's global config): HASH gc:{name}, SET gcn of names.
SETTINGS_SET = _script("settings_set")
SETTINGS_ALL = _script("settings_all")
# Coordination: STRING lease:{name} (holder, PX ttl), HASH doc:{collection} (key -> JSON).
LEASE_ACQUIRE = _script("lease_acquire")
LEASE_RELEASE = _script("lease_release")

__all__ = [
    "ACK", "BURY", "CANCEL", "CANCEL_REQUESTS", "COMPLETE", "DL_PURGE", "DL_READ", "DL_REQUEUE",
    "ENQUEUE", "ENQUEUE_ONE", "EXTEND", "FETCH", "LEASE_ACQUIRE", "LEASE_RELEASE",
    "LIVE_WORKERS", "MAINTAIN", "PUT", "RELEASE",
    "SETTINGS_ALL", "SETTINGS_SET", "STATS", "WATCH", "WORKER", "PURGE_TASKS", "COUNT_TASKS",
]  # fmt: skip
