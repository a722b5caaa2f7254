"""The costs of `isolation="process"` measured without a backend: a child's start-up,
the overhead of one call through the pool against one through the worker's threads,
and a child's memory. Used by `bench/run.py -w procs`; runnable alone:

    python bench/processes.py            # prints the figures as JSON
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def _figures(calls: int) -> dict[str, Any]:
    import orjson

    from bench import apps
    from qtasks.core.models import TaskRecord
    from qtasks.engine.processes import ProcessPool
    from qtasks.engine.threads import TaskThreads

    record = TaskRecord("bench", "cpu0", 0, [1], {}, "process", time.time(), time.time())
    arguments = orjson.dumps([[1], {}])
    pool = ProcessPool()
    try:
        started = time.perf_counter()
        await pool.run("bench.apps", "cpu0", record, arguments, "cpu0")
        start_ms = (time.perf_counter() - started) * 1000
        in_child = []
        for _ in range(calls):
            t = time.perf_counter()
            await pool.run("bench.apps", "cpu0", record, arguments, "cpu0")
            in_child.append(time.perf_counter() - t)
        child_rss = _rss_mb(pool.pids[0])
    finally:
        await pool.aclose()
    threads = TaskThreads(1)
    try:
        in_thread = []
        for _ in range(calls):
            t = time.perf_counter()
            await threads.call(apps.cpu0, 1)
            in_thread.append(time.perf_counter() - t)
    finally:
        threads.shutdown()
    return {
        "child_start_ms": start_ms,
        "call_child_p50_us": statistics.median(in_child) * 1e6,
        "call_thread_p50_us": statistics.median(in_thread) * 1e6,
        "child_rss_mb": child_rss,
    }


def measure(calls: int = 500) -> dict[str, Any]:
    """Start-up of one child (ms, first call included), p50 of a 0 ms call through a
    child and through a thread (µs), and the child's resident memory (MB)."""
    return asyncio.run(_figures(calls))


if __name__ == "__main__":
    print(json.dumps(measure(), indent=1))
