"""QTasks 1.7's Redis command queues (`qtasks.contrib.redis`): fire-and-forget Redis
commands on a client the caller owns.

`AsyncRedisCommandQueue(redis).execute("hset", key, mapping=...)` schedules the command on
the running loop and returns at once; a failure is logged, never raised to the caller.
`SyncRedisCommandQueue` runs each command on one background thread, in order.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any


class AsyncRedisCommandQueue:
    def __init__(self, redis: Any, log: Any = None) -> None:
        self.redis = redis
        self.log = log
        self._pending: set[asyncio.Task[Any]] = set()

    async def execute(self, cmd: str, *args: Any, **kwargs: Any) -> None:
        """Send `redis.<cmd>(*args, **kwargs)` without waiting for its reply."""
        task = asyncio.ensure_future(self._run(cmd, args, kwargs))
        self._pending.add(task)  # keep a reference until it is done
        task.add_done_callback(self._pending.discard)

    async def _run(self, cmd: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            await getattr(self.redis, cmd)(*args, **kwargs)
        except Exception as exc:
            if self.log is not None:
                self.log.error(f"Redis command {cmd} failed: {exc!r}")

    async def wait(self) -> None:
        """Wait until every command sent so far was answered."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


class SyncRedisCommandQueue:
    def __init__(self, redis: Any, log: Any = None) -> None:
        self.redis = redis
        self.log = log
        self._commands: queue.SimpleQueue[tuple[str, tuple[Any, ...], dict[str, Any]]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._unsent = 0
        self._idle = threading.Event()
        self._idle.set()

    def execute(self, cmd: str, *args: Any, **kwargs: Any) -> None:
        """Queue `redis.<cmd>(*args, **kwargs)`; one background thread sends them in order."""
        with self._lock:
            self._unsent += 1
            self._idle.clear()
            self._commands.put((cmd, args, kwargs))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="qtasks-redis-commands", daemon=True
                )
                self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                cmd, args, kwargs = self._commands.get(timeout=1.0)
            except queue.Empty:
                with self._lock:
                    if self._unsent == 0:
                        self._thread = None
                        return
                continue
            try:
                getattr(self.redis, cmd)(*args, **kwargs)
            except Exception as exc:
                if self.log is not None:
                    self.log.error(f"Redis command {cmd} failed: {exc!r}")
            with self._lock:
                self._unsent -= 1
                if self._unsent == 0:
                    self._idle.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every command queued so far was sent; False on timeout."""
        return self._idle.wait(timeout)


__all__ = ["AsyncRedisCommandQueue", "SyncRedisCommandQueue"]
