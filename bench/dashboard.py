#!/usr/bin/env python3
"""Page loads of the web dashboard over many task records (SQLite).

    python bench/dashboard.py [-n 1000000] [-r 50]

Loads `-n` records into a new SQLite file, as `bench/listing.py` does (10 task names
in turn; 80 % success, 10 % error, 10 % queued; finished records stored with the
backend's batch `put`, queued ones with its batch enqueue), serves the dashboard of
that app with uvicorn on a free local port, and times `-r` GETs of each page over HTTP
(a new connection each, as a browser's first load), printing the median and 90th
percentile in milliseconds. The overview reads the counts its sampler took in the
background (every 5 s); the time of one `count_tasks()` is printed apart. The target:
p50 under 200 ms for every page with 1,000,000 records.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import uvicorn
from listing import load  # the same load, from the script beside this one

from qtasks import QueueTasks
from qtasks.configs import QueueConfig
from qtasks.web.dashboard import dashboard


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, headers: dict[str, str] | None = None) -> bytes:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200, (url, response.status)
        body: bytes = response.read()
        return body


def timed(url: str, repeats: int, headers: dict[str, str] | None = None) -> tuple[float, float]:
    get(url, headers)  # warm: the sampler's first counts, SQLite's page cache
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        get(url, headers)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.9) - 1)]


def serve(asgi: Any, port: int) -> uvicorn.Server:
    server = uvicorn.Server(
        uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the dashboard did not start")
        time.sleep(0.05)
    return server


def run(n: int, repeats: int, path: Path) -> None:
    app = QueueTasks(
        name="bench-dashboard",
        broker_url=f"sqlite:///{path}",
        config=QueueConfig(result_ttl=7 * 86400),
    )
    t0 = time.perf_counter()
    load(app, n)
    loaded = time.perf_counter() - t0
    t0 = time.perf_counter()
    app.count_tasks()
    counted = (time.perf_counter() - t0) * 1000
    port = free_port()
    server = serve(dashboard(app), port)
    base = f"http://127.0.0.1:{port}"
    one = app.list_tasks(status="error", limit=1).tasks[0].uuid
    cursor = app.list_tasks(limit=50).cursor or ""
    pages = {
        "overview": ("/", None),
        "overview, live fragment": ("/", {"X-Qtasks-Fragment": "1"}),
        "chart JSON": ("/series.json", None),
        "tasks": ("/tasks", None),
        "tasks, status=error": ("/tasks?status=error", None),
        "tasks, name=task_3": ("/tasks?name=task_3", None),
        "tasks, since=1h": ("/tasks?since=1h", None),
        "tasks, next page": (f"/tasks?cursor={urllib.request.quote(cursor)}", None),
        "task detail": (f"/tasks/{one}", None),
        "dead letters": ("/dead", None),
        "schedules": ("/schedules", None),
    }
    try:
        results = {label: timed(base + p, repeats, h) for label, (p, h) in pages.items()}
    finally:
        server.should_exit = True
        app.flush_all()
    print(f"\nSQLite: {n} records (loaded in {loaded:.1f} s), {repeats} GETs of each page")
    print(f"one count_tasks() (the overview's sampler, in the background): {counted:.1f} ms")
    print("| page | p50 ms | p90 ms |\n|---|---:|---:|")
    for label, (p50, p90) in results.items():
        print(f"| {label} | {p50:.2f} | {p90:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="records to load")
    parser.add_argument("-r", type=int, default=50, help="GETs timed per page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(args.n, args.r, Path(tmp) / "dashboard.db")


if __name__ == "__main__":
    main()
