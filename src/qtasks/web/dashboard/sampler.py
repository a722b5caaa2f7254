"""Throughput and failures over time, for the overview's chart: the dashboard samples
`count_tasks()` every `interval` seconds in the background and keeps the last `keep`
samples in memory (one process: a restarted dashboard starts a new series).

The finished tasks of an interval are the growth of the `success` and `error` counts
between two samples; a purge or records expiring in between can hide some (a count that
shrinks counts as zero growth)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import time
from typing import Any

from qtasks.web.dashboard.client import AppClient

#: Statuses whose growth the chart draws.
CHARTED = ("success", "error")


class Sampler:
    """Samples the app's counts: `latest()` for the last counts (read fresh when the
    last sample is older than `interval`), `series()` for the chart."""

    def __init__(self, client: AppClient, interval: float = 5.0, keep: int = 720) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be > 0 seconds, got {interval!r}")
        self.client = client
        self.interval = interval
        self.samples: collections.deque[tuple[float, dict[str, dict[str, int]]]] = (
            collections.deque(maxlen=keep)
        )
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.error: str | None = None

    def ensure_running(self) -> None:
        """Start the sampling loop in the running event loop, unless it runs there already
        (a host app's lifespan may not reach a mounted app, so the first request starts it)."""
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._loop is loop:
            return
        self._loop = loop
        self._task = loop.create_task(self._run(), name="qtasks-dashboard-sampler")

    async def stop(self) -> None:
        """Stop the sampling loop (a no-op when it is not running)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            if not self.samples or time.time() - self.samples[-1][0] >= self.interval * 0.9:
                with contextlib.suppress(Exception):  # shown as self.error; retried next time
                    await self.sample()
            await asyncio.sleep(self.interval)

    async def sample(self) -> dict[str, dict[str, int]]:
        """Read the counts now and add them to the series; `{queue: {status: count}}`."""
        try:
            counts: dict[str, dict[str, int]] = await self.client.call("count_tasks")
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            raise
        self.error = None
        self.samples.append((time.time(), counts))
        return counts

    async def latest(self) -> dict[str, dict[str, int]]:
        """The last sampled counts, or fresh ones when the sampling loop has taken none
        for three intervals (it is not running, or the backend is slow)."""
        if self.samples and time.time() - self.samples[-1][0] < self.interval * 3:
            return self.samples[-1][1]
        return await self.sample()

    def series(self) -> dict[str, Any]:
        """The chart's data: `t` (epoch seconds of each interval's end), and for each of
        `success` and `error` the tasks that reached it in that interval, per minute."""
        out: dict[str, Any] = {"interval": self.interval, "t": []}
        out.update({status: [] for status in CHARTED})
        samples = list(self.samples)
        for (t0, before), (t1, after) in itertools.pairwise(samples):
            span = max(t1 - t0, 1e-3)
            out["t"].append(round(t1, 3))
            for status in CHARTED:
                grown = max(0, total(after, status) - total(before, status))
                out[status].append(round(grown * 60.0 / span, 2))
        return out


def total(counts: dict[str, dict[str, int]], status: str) -> int:
    """The count of `status` over every queue."""
    return sum(by_status.get(status, 0) for by_status in counts.values())


__all__ = ["CHARTED", "Sampler", "total"]
