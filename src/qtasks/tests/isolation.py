"""An app of the user's on a fresh in-memory backend for one test, with or without a
worker: `in_memory(app)` and `eager(app)` (context managers), and the pytest fixtures of
`qtasks.tests.pytest_plugin` built on them."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import uuid as uuid_mod
from collections.abc import Iterator
from typing import Any, TypeVar

from qtasks.backends.memory import MemoryBackend

AppT = TypeVar("AppT")


@contextlib.contextmanager
def in_memory(app: AppT) -> Iterator[AppT]:
    """Within the block, `app` (sync or async) stores and queues on a new in-memory
    backend of its own, seen by nobody else: nothing reaches its real broker, and what
    one test enqueues is gone in the next. The real backend is put back on exit."""
    target: Any = app
    original = target.backend
    target.backend = MemoryBackend(
        f"memory://test-{uuid_mod.uuid4().hex}",
        namespace=target.name,
        config=target.config,
        log=target.log,
    )
    try:
        yield app
    finally:
        target.backend = original


@contextlib.contextmanager
def eager(app: AppT, num_workers: int | None = None) -> Iterator[AppT]:
    """`in_memory(app)` with the app's worker running in this process (on a thread and
    event loop of its own, sync and async apps alike): a task enqueued in the block
    runs at once, through the real engine (arguments encoded, retries, injection), and
    `add_task(..., timeout=5)` or `app.wait(uuid)` returns its result. Works whether
    or not the calling thread runs an event loop (pytest-asyncio, anyio, Jupyter).
    The worker is stopped on exit (running tasks finish within shutdown_grace)."""
    target: Any = app
    with in_memory(app):
        target.start_in_background(num_workers)
        try:
            yield app
        finally:
            stopped = target.stop()
            if inspect.iscoroutine(stopped):
                _run_apart(stopped)


def _run_apart(coroutine: Any) -> None:
    """Run `coroutine` to its end, also when this thread already runs an event loop
    (an async test's teardown): then on a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    import threading

    thread = threading.Thread(target=asyncio.run, args=(coroutine,), name="qtasks-test-stop")
    thread.start()
    thread.join()


__all__ = ["eager", "in_memory"]
