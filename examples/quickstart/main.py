"""Quickstart: start a worker process, enqueue tasks from this process, print results.

Run from anywhere: `python examples/quickstart/main.py`. Both processes work in this
folder, so they meet in ./qtasks.db without any server.
"""

import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
os.chdir(HERE)
sys.path.insert(0, HERE)

from tasks import add, app, slow_square  # noqa: E402

worker = subprocess.Popen(
    [sys.executable, "-m", "qtasks", "-A", "tasks:app", "run", "--concurrency", "4"], cwd=HERE
)
try:
    started = time.perf_counter()
    result = add.add_task(2, 3, timeout=30)
    print(f"add(2, 3) -> {result.returning!r} [{result.status}]" if result else "no result")
    pending = [slow_square.add_task(n) for n in range(8)]
    squares = [app.wait(task.uuid, timeout=30) for task in pending]
    print("squares ->", [t.returning for t in squares if t is not None])
    print(f"done in {time.perf_counter() - started:.2f}s")
finally:
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=30)
    print(f"worker exited with code {worker.returncode}")
