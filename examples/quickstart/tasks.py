"""The tasks of the quickstart: no URL, so the app uses ./qtasks.db (SQLite)."""

import time

from qtasks import QueueTasks

app = QueueTasks()


@app.task
def add(a: int, b: int) -> int:
    return a + b


@app.task(priority=5, retry=2)
def slow_square(x: int) -> int:
    time.sleep(0.05)
    return x * x
