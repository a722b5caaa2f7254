"""The worker's threads for blocking task code (sync task functions, sync dependencies).

`loop.run_in_executor` costs the event loop one self-pipe wake-up and one callback per
finished call; with many short sync tasks the loop thread spends most of its time on
that hand-back (and on fighting the task threads for the GIL). Here finished calls are
queued and the loop is woken once for however many finished meanwhile, so under load
one wake-up hands back a whole batch.

It is also a `concurrent.futures.Executor`, for code that wants `submit()`.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from queue import Empty, SimpleQueue
from typing import Any

from qtasks.exc import ConfigError, EngineError

_STOP = None  # the job that tells a thread to exit


class TaskThreads(Executor):
    def __init__(self, size: int, name: str = "qtasks-task") -> None:
        if size < 1:
            raise ConfigError(f"TaskThreads needs at least one thread, got {size}")
        self.size = size
        self.name = name
        self._jobs: SimpleQueue[Any] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        # Threads blocked waiting for a job, and jobs put but not taken yet: a new thread
        # starts only when the jobs outnumber the waiting threads.
        self._idle = 0
        self._queued = 0
        self._lock = threading.Lock()
        self._closed = False
        # Finished calls waiting for the loop, and whether a wake-up is already on its way.
        self._done: collections.deque[tuple[asyncio.Future[Any], bool, Any]] = collections.deque()
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- asyncio side ---------------------------------------------------------------
    async def call(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run `func(*args)` on one of the threads with the caller's contextvars."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:  # one loop per pool: the hand-back targets it
            return await loop.run_in_executor(self, func, *args)
        future: asyncio.Future[Any] = loop.create_future()
        self._put((contextvars.copy_context(), func, args, future))
        return await future

    def _hand_back(self) -> None:
        # Clear the flag before draining: a thread finishing after the drain sees it
        # cleared and schedules the next wake-up itself.
        self._wake_pending = False
        done = self._done
        while done:
            future, ok, value = done.popleft()
            if future.cancelled():  # e.g. max_time: the caller stopped waiting
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _finished(self, future: asyncio.Future[Any], ok: bool, value: Any) -> None:
        self._done.append((future, ok, value))
        if not self._wake_pending:
            self._wake_pending = True
            loop = self._loop
            try:
                if loop is not None:
                    loop.call_soon_threadsafe(self._hand_back)
            except RuntimeError:  # the loop closed: nobody waits any more
                pass

    # --- Executor interface ---------------------------------------------------------
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        result: Future[Any] = Future()
        call = functools.partial(fn, **kwargs) if kwargs else fn
        # A fresh context, as a plain thread pool's thread would run it in.
        self._put((contextvars.Context(), call, args, result))
        return result

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    job = self._jobs.get_nowait()
                except Empty:
                    break
                if job is not _STOP:
                    self._cancel(job)
        for _ in threads:
            self._jobs.put(_STOP)
        if wait:
            for thread in threads:
                thread.join()

    # --- threads --------------------------------------------------------------------
    def _put(self, job: tuple[Any, ...]) -> None:
        with self._lock:
            if self._closed:
                raise EngineError("cannot run new calls after the worker's threads stopped")
            self._jobs.put(job)
            self._queued += 1
            if self._queued > self._idle and len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._serve, name=f"{self.name}_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                self._idle += 1  # it is about to wait for a job
                thread.start()

    def _serve(self) -> None:
        jobs, lock = self._jobs, self._lock
        while True:
            job = jobs.get()
            if job is _STOP:
                return
            with lock:
                self._idle -= 1
                self._queued -= 1
            context, func, args, future = job
            ran = not isinstance(future, Future) or future.set_running_or_notify_cancel()
            if ran:
                try:
                    ok, value = True, context.run(func, *args)
                except BaseException as exc:
                    ok, value = False, exc
            # Idle again before the caller hears back: a call it makes next must find
            # this thread waiting instead of starting another one.
            with lock:
                self._idle += 1
            if ran:
                self._deliver(future, ok, value)

    def _deliver(self, future: Any, ok: bool, value: Any) -> None:
        if not isinstance(future, Future):  # call(): the loop collects it
            self._finished(future, ok, value)
        elif ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def _cancel(self, job: tuple[Any, ...]) -> None:
        future = job[3]
        if isinstance(future, Future):
            future.cancel()
        elif self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(future.cancel)
            except RuntimeError:
                pass


async def run_in_pool(pool: Executor | None, func: Callable[..., Any], *args: Any) -> Any:
    """Run blocking code (sync task functions, sync dependencies) on the worker's threads
    (any executor; None = the loop's default) with the caller's contextvars."""
    if isinstance(pool, TaskThreads):
        return await pool.call(func, *args)
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    return await loop.run_in_executor(pool, functools.partial(context.run, func, *args))


__all__ = ["TaskThreads", "run_in_pool"]
