"""Pausing a queue for every worker: each worker reads the backend's paused queues
(`Inspection.queue_paused`) every `PAUSE_CHECK_INTERVAL` seconds, and its consumers
stop fetching while their queue is paused. Running tasks go on; a fetch already waiting
ends within `FETCH_WAIT` and may still bring a task."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qtasks.core.log import Log

#: Seconds between two reads of the paused queues.
PAUSE_CHECK_INTERVAL = 1.0


class PauseWatch:
    """Whether `queue` is paused, as last read from `backend` (one with the `inspection`
    capability; without it the queue is never paused)."""

    def __init__(self, backend: Any, queue: str, log: Log) -> None:
        self.backend = backend
        self.queue = queue
        self.log = log
        self.paused = False
        self._resumed = asyncio.Event()
        self._resumed.set()

    async def watch(self) -> None:
        """Read the paused queues until cancelled (a job of the worker's helpers)."""
        if not self.backend.capabilities.inspection:
            return
        while True:
            try:
                paused = await self.backend.queue_paused(self.queue)
            except Exception as exc:  # keep the last known state; the next read may work
                self.log.error("Reading the paused queues failed: %r", exc)
            else:
                if paused != self.paused:
                    self.log.info("Queue %r %s", self.queue, "paused" if paused else "resumed")
                    self.paused = paused
                    (self._resumed.clear if paused else self._resumed.set)()
            await asyncio.sleep(PAUSE_CHECK_INTERVAL)

    async def wait_resumed(self, stopping: asyncio.Event) -> None:
        """Return when the queue is resumed or the worker stops."""
        waits = [
            asyncio.ensure_future(self._resumed.wait()),
            asyncio.ensure_future(stopping.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
            await asyncio.gather(*waits, return_exceptions=True)


__all__ = ["PAUSE_CHECK_INTERVAL", "PauseWatch"]
