"""The worker's threads for blocking task code (sync task functions, sync dependencies).

`loop.run_in_executor` costs the event loop one self-pipe wake-up and one callback per
finished call; with many short sync tasks the loop thread spends most of its time on
that hand-back (and on fighting the task threads for the GIL). Here finished calls are
queued and the loop is woken once for however many finished meanwhile, so under load
one wake-up hands back a whole batch.

Started means started. A call (`ThreadCall`) is queued, then running on a thread (its
`started` time is set there), then done. A caller that stops waiting before the call
started (its task was cancelled, or shut down) abandons it: the thread that takes it
from the queue skips it, so the function never runs. A caller that stops waiting while
the function runs (its time limit, `app.cancel()`) writes that thread off: Python cannot
stop a thread, so it runs on until the function returns and its result is thrown away.
The pool then starts a replacement thread, so the worker keeps its concurrency, for up
to `max_stuck` written-off threads at a time; one more calls `on_overflow(stuck)` (the
worker recycles itself) and holds its place meanwhile. With `max_stuck=0` a written-off
thread is never replaced: it holds its place until its function returns.

It is also a `concurrent.futures.Executor`, for code that wants `submit()`.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from queue import Empty, SimpleQueue
from typing import Any

from qtasks.exc import ConfigError, EngineError

_STOP = None  # the job that tells a thread to exit

# The states of a ThreadCall.
QUEUED, RUNNING, DONE, ABANDONED, WRITTEN_OFF = (
    "queued",
    "running",
    "done",
    "abandoned",
    "written off",
)


class ThreadCall:
    """One call handed to the threads: `func(*args)` run in `context`, its outcome for
    `future` (an asyncio future from `call()`, a concurrent one from `submit()`)."""

    __slots__ = ("args", "context", "func", "future", "replaced", "started", "state")

    def __init__(
        self,
        context: contextvars.Context,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        future: Any,
    ) -> None:
        self.context = context
        self.func = func
        self.args = args
        self.future = future
        #: QUEUED, RUNNING, DONE, ABANDONED (never ran) or WRITTEN_OFF (its caller gave up
        #: while it ran).
        self.state = QUEUED
        #: `time.monotonic()` when the function started on its thread; None while queued.
        self.started: float | None = None
        #: Written off, and a replacement thread was started for it.
        self.replaced = False


class TaskThreads(Executor):
    """Up to `size` threads, started when calls wait for one. `max_stuck` written-off
    threads are replaced (0: never); `on_overflow(stuck)` is called on the caller's
    thread when a thread is written off beyond that."""

    def __init__(
        self,
        size: int,
        name: str = "qtasks-task",
        *,
        max_stuck: int = 0,
        on_overflow: Callable[[int], Any] | None = None,
    ) -> None:
        if size < 1:
            raise ConfigError(f"TaskThreads needs at least one thread, got {size}")
        if max_stuck < 0:
            raise ConfigError(
                f"TaskThreads max_stuck must be >= 0 (0 = never replace), got {max_stuck}"
            )
        self.size = size
        self.name = name
        self.max_stuck = max_stuck
        self.on_overflow = on_overflow
        self._jobs: SimpleQueue[ThreadCall | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._started = 0  # threads started so far, for their names
        # Threads blocked waiting for a job, and jobs put but not taken yet: a new thread
        # starts only when the jobs outnumber the waiting threads.
        self._idle = 0
        self._queued = 0
        # Written-off threads still running, and how many of them were replaced: the
        # pool may then have `size + _replaced` threads.
        self._stuck = 0
        self._replaced = 0
        self._lock = threading.Lock()
        self._closed = False
        # Finished calls waiting for the loop, and whether a wake-up is already on its way.
        self._done: collections.deque[tuple[asyncio.Future[Any], bool, Any]] = collections.deque()
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def stuck(self) -> int:
        """Threads still running a function whose caller gave up on it."""
        return self._stuck

    # --- asyncio side ---------------------------------------------------------------
    async def call(
        self,
        func: Callable[..., Any],
        *args: Any,
        follow: Callable[[ThreadCall], Any] | None = None,
    ) -> Any:
        """Run `func(*args)` on one of the threads with the caller's contextvars.

        `follow(call)` is called once the call is queued, with its `ThreadCall`, so that
        the caller can watch for it to start (a time limit counts from there). If the
        caller is cancelled, a call not started yet never runs and a running one writes
        its thread off (see the module docs)."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        # One loop per pool: the batched hand-back targets it; another loop's calls
        # come back through a concurrent future, one wake-up each.
        own = self._loop is loop
        future: Any = loop.create_future() if own else Future()
        job = ThreadCall(contextvars.copy_context(), func, args, future)
        self._put(job)
        if follow is not None:
            follow(job)
        try:
            return await (future if own else asyncio.wrap_future(future))
        except asyncio.CancelledError:
            self._abandon(job)
            raise

    def _abandon(self, job: ThreadCall) -> None:
        overflow = 0
        with self._lock:
            if job.state == QUEUED:
                job.state = ABANDONED  # the thread that takes it skips it
                return
            if job.state != RUNNING:
                return  # finished meanwhile: only its result is lost
            job.state = WRITTEN_OFF
            self._stuck += 1
            if not self.max_stuck:
                return  # never replaced: the thread keeps its place
            if self._stuck <= self.max_stuck:
                job.replaced = True
                self._replaced += 1
                self._grow()  # calls may already wait for a thread
            else:
                overflow = self._stuck
        if overflow and self.on_overflow is not None:
            self.on_overflow(overflow)

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
        self._put(ThreadCall(contextvars.Context(), call, args, result))
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
    def _put(self, job: ThreadCall) -> None:
        with self._lock:
            if self._closed:
                raise EngineError("cannot run new calls after the worker's threads stopped")
            self._jobs.put(job)
            self._queued += 1
            self._grow()

    def _grow(self) -> None:
        """Start a thread if calls wait for one and there is room (under the lock)."""
        if self._closed:
            return
        if self._queued > self._idle and len(self._threads) < self.size + self._replaced:
            thread = threading.Thread(
                target=self._serve, name=f"{self.name}_{self._started}", daemon=True
            )
            self._started += 1
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
                run = job.state == QUEUED  # not abandoned by its caller meanwhile
                if run:
                    job.state = RUNNING
                    job.started = time.monotonic()
            if (
                run
                and isinstance(job.future, Future)
                and not job.future.set_running_or_notify_cancel()
            ):
                run, job.state = False, ABANDONED  # cancelled through its future
            ok, value = False, None
            if run:
                try:
                    ok, value = True, job.context.run(job.func, *job.args)
                except BaseException as exc:
                    ok, value = False, exc
            with lock:
                if job.state == WRITTEN_OFF:
                    self._stuck -= 1
                    if job.replaced:  # its replacement took its place: this thread goes
                        self._replaced -= 1
                        self._threads.remove(threading.current_thread())
                        return
                elif run:
                    job.state = DONE
                # Idle again before the caller hears back: a call it makes next must
                # find this thread waiting instead of starting another one.
                self._idle += 1
            if run and job.state == DONE:
                self._deliver(job.future, ok, value)

    def _deliver(self, future: Any, ok: bool, value: Any) -> None:
        if not isinstance(future, Future):  # call(): the loop collects it
            self._finished(future, ok, value)
        elif ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def _cancel(self, job: ThreadCall) -> None:
        job.state = ABANDONED
        future = job.future
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


__all__ = ["ThreadCall", "TaskThreads", "run_in_pool"]
