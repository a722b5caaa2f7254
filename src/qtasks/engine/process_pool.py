"""The pool of child processes behind `isolation="process"` (see `engine.processes`):
one per worker, children started as needed and reused, the pipes to them, and how a
child's answer becomes a result or an exception.

A child is spawned as a fresh interpreter (`sys.executable -c ...` with the worker's
`sys.path`), never forked from the worker, which has threads, and not through
`multiprocessing`, whose spawn and forkserver methods import the worker's main script
again in every child (an unguarded `app.run_forever()` there would start a second
worker). The child's side is `engine.process_child`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from qtasks.engine.process_child import HEADER, job
from qtasks.exc import EngineError, SerializationError, TaskError

if TYPE_CHECKING:
    from qtasks.core.models import TaskRecord

#: Children started at the same time, at most: starting one is CPU-bound (a fresh
#: interpreter importing qtasks and the tasks module).
_PARALLEL_STARTS = 2
#: Children started without waiting for a busy one to be set free.
_CORES = os.cpu_count() or 1
#: Seconds a child is expected to take to start before one was measured.
_FIRST_BOOT_GUESS = 0.3
#: Seconds a child gets to leave on its own when the pool closes, before SIGKILL.
_CLOSE_GRACE = 2.0


class ChildProcessDiedError(TaskError):
    """The child process running a task body ended before answering: it called
    `os._exit()`, crashed (segfault) or was killed (OOM killer). `exitcode` is the
    process's exit code, negative for a signal (-11 = SIGSEGV)."""

    def __init__(self, message: str, exitcode: int | None = None) -> None:
        super().__init__(message)
        self.exitcode = exitcode

    def __reduce__(self) -> Any:
        return (type(self), (str(self), self.exitcode))


class RemoteTaskError(TaskError):
    """Stands in for an exception raised in a child process that could not be sent
    back as itself (not picklable): `type_name` and `message` are the original's."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message

    def __reduce__(self) -> Any:
        return (type(self), (self.type_name, self.message))


class ChildTraceback(Exception):
    """The traceback text of an exception raised in a child process, attached as the
    `__cause__` of the exception the worker re-raises (so the stored traceback shows
    where the body failed)."""

    def __str__(self) -> str:
        return f"raised in the child process running the task:\n{self.args[0]}" if self.args else ""


class _Child:
    """One child process and the worker's ends of its pipes."""

    __slots__ = ("alive", "jobs", "process", "replies", "replies_pipe")

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        jobs: asyncio.StreamWriter,
        replies: asyncio.StreamReader,
        replies_pipe: asyncio.BaseTransport,
        alive: int,
    ) -> None:
        self.process = process
        self.jobs = jobs
        self.replies = replies
        self.replies_pipe = replies_pipe
        self.alive = alive  # never written: the child leaves when it closes

    @property
    def pid(self) -> int:
        return self.process.pid

    def close_pipes(self) -> None:
        self.jobs.close()
        self.replies_pipe.close()
        if self.alive >= 0:  # a child still running leaves at once
            os.close(self.alive)
            self.alive = -1

    def kill(self) -> None:
        try:
            self.process.kill()
        except OSError:  # already gone
            pass
        self.close_pipes()


class ProcessPool:
    """Child processes that run sync task bodies, one task at a time each.

    `run()` takes an idle child or starts one; `aclose()` stops them all. There are
    never more children than tasks running in them at once. A child is a fresh
    interpreter (`sys.executable`, the "spawn" way, never a fork of the worker, which
    has threads) with the worker's `sys.path`; it imports only qtasks and the modules
    of the tasks it runs.
    """

    def __init__(self) -> None:
        self._idle: list[_Child] = []
        #: Signalled when a child becomes idle or a start ends.
        self._changed = asyncio.Condition()
        self._starts = 0  # children starting now
        self._children: set[_Child] = set()
        #: Killed children not reaped yet (polled on each start, waited for on close).
        self._dying: list[_Child] = []
        self._closed = False
        #: Children started so far.
        self.started = 0
        #: Seconds a child takes to start, smoothed over the last starts.
        self.boot_seconds = _FIRST_BOOT_GUESS

    @property
    def pids(self) -> list[int]:
        """Process ids of the live children."""
        return [c.pid for c in self._children]

    async def run(
        self, module: str, qualname: str, record: TaskRecord, arguments: bytes, task_name: str
    ) -> Any:
        """Run `module.qualname` with `arguments` (JSON `[args, kwargs]`) in a child;
        see `run_in_child`."""
        message = job(module, qualname, record, arguments)
        child = await self._take(task_name)
        try:
            reply = await self._call(child, message, task_name)
        except BaseException:
            # Cancelled (max_time, app.cancel, shutdown) or the child died: this child
            # is done for; the next task gets a fresh one.
            self._discard(child)
            raise
        if self._closed:
            self._discard(child)
            return _unpack(reply)
        try:
            async with self._changed:
                self._idle.append(child)
                self._changed.notify()
        except BaseException:  # cancelled while waiting for the lock: not handed back
            self._discard(child)
            raise
        return _unpack(reply)

    async def aclose(self) -> None:
        """Stop every child: idle ones leave when their pipes close (their output is
        flushed), one that does not within a short grace is killed."""
        self._closed = True
        async with self._changed:
            self._changed.notify_all()  # a task waiting for a child hears it is over
        children, self._idle = list(self._children), []
        self._children.clear()
        for child in children:
            # End of jobs: the child leaves its loop and exits normally (its output
            # flushed, its atexit handlers run).
            child.jobs.close()
        children += self._dying
        self._dying = []
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + _CLOSE_GRACE
        for child in children:
            left = max(0.0, deadline - time.monotonic())
            try:
                await loop.run_in_executor(None, child.process.wait, left)
            except subprocess.TimeoutExpired:
                child.kill()
                await loop.run_in_executor(None, child.process.wait)
            child.close_pipes()

    # --- children ---------------------------------------------------------------------
    async def _take(self, task_name: str) -> _Child:
        """An idle child, or a new one.

        A task that finds no idle child waits for one to be set free, but not longer
        than starting a child takes (measured; a first guess until then), and then
        starts its own; at most `_PARALLEL_STARTS` start at once. So a burst of short
        tasks is served by the first children instead of booting one interpreter per
        task, and long tasks still get a child each after one start-up time.
        """
        loop = asyncio.get_running_loop()
        async with self._changed:
            entered = loop.time()
            while True:
                # Up to one child per core starts without waiting for a busy one to be
                # set free; more only when a task has waited longer than a start takes
                # (bodies that block rather than compute).
                many = len(self._children) + self._starts >= _CORES
                deadline = entered + (self.boot_seconds if many else 0.0)
                if self._closed:
                    raise EngineError("the worker's task processes are stopped")
                while self._idle:
                    child = self._idle.pop()
                    if child.process.poll() is None:
                        return child
                    self._discard(child)
                left: float | None = deadline - loop.time()
                if self._starts >= _PARALLEL_STARTS:
                    left = None  # a start ending wakes this task
                elif left is not None and left <= 0:
                    self._starts += 1
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), left)
        self._dying = [c for c in self._dying if c.process.poll() is None]  # reap
        started = loop.time()
        try:
            child = await self._start(task_name)
        finally:
            self._starts -= 1
            async with self._changed:
                self._changed.notify()
        # Remember how long a start takes (smoothed): the patience of the next waiters.
        self.boot_seconds += (loop.time() - started - self.boot_seconds) / 4
        return child

    async def _start(self, task_name: str) -> _Child:
        if os.name != "posix":  # the pipes reach the child as inherited descriptors
            raise EngineError("isolation='process' needs a POSIX system (Linux, macOS)")
        if not sys.executable:
            raise EngineError(
                "isolation='process' needs sys.executable to start child processes, and "
                "this interpreter has none"
            )
        loop = asyncio.get_running_loop()
        job_r, job_w = os.pipe()
        reply_r, reply_w = os.pipe()
        alive_r, alive_w = os.pipe()
        theirs = (job_r, reply_w, alive_r)
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _boot(), *map(str, theirs)],
                stdin=subprocess.DEVNULL,
                pass_fds=theirs,
            )
        except BaseException:
            for fd in (job_w, reply_r, alive_w):
                os.close(fd)
            raise
        finally:
            for fd in theirs:  # the child has its copies
                os.close(fd)
        try:
            replies = asyncio.StreamReader(limit=2**31)
            replies_pipe, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(replies), os.fdopen(reply_r, "rb", 0)
            )
            transport, protocol = await loop.connect_write_pipe(
                asyncio.streams.FlowControlMixin, os.fdopen(job_w, "wb", 0)
            )
        except BaseException:  # cancelled meanwhile: this child never serves
            process.kill()
            os.close(alive_w)
            await loop.run_in_executor(None, process.wait)
            raise
        jobs = asyncio.StreamWriter(transport, protocol, None, loop)
        child = _Child(process, jobs, replies, replies_pipe, alive_w)
        self._children.add(child)
        try:
            # Ready once it has imported qtasks: a start slot is held until then.
            await _receive(child, task_name, starting=True)
        except BaseException:
            self._discard(child)
            raise
        self.started += 1
        return child

    def _discard(self, child: _Child) -> None:
        self._children.discard(child)
        if child in self._idle:
            self._idle.remove(child)
        child.kill()
        self._dying.append(child)

    async def _call(self, child: _Child, message: bytes, task_name: str) -> Any:
        try:
            child.jobs.write(message)
            await child.jobs.drain()
        except (ConnectionError, OSError):
            raise await _died(child, task_name) from None
        return await _receive(child, task_name)


async def _receive(child: _Child, task_name: str, *, starting: bool = False) -> Any:
    """The child's next message; `ChildProcessDiedError` if it ends first."""
    try:
        header = await child.replies.readexactly(HEADER.size)
        (size,) = HEADER.unpack(header)
        reply = await child.replies.readexactly(size)
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        raise await _died(child, task_name, starting) from None
    try:
        return pickle.loads(reply)
    except Exception as exc:
        raise SerializationError(
            f"The result of task {task_name!r} came back from its child process but "
            f"cannot be rebuilt in the worker: {exc!r}"
        ) from exc


def _boot() -> str:
    """The child's program: the worker's import path, then the job loop."""
    return (
        f"import sys; sys.path[:] = {sys.path!r}; "
        "from qtasks.engine.process_child import main; main(*map(int, sys.argv[1:4]))"
    )


async def _died(child: _Child, task_name: str, starting: bool = False) -> ChildProcessDiedError:
    loop = asyncio.get_running_loop()
    try:
        code: int | None = await loop.run_in_executor(None, child.process.wait, 5.0)
    except subprocess.TimeoutExpired:
        code = None
    if code is not None and code < 0:
        try:
            how = f"was killed by signal {signal.Signals(-code).name} (exit code {code})"
        except ValueError:
            how = f"was killed by signal {-code} (exit code {code})"
    elif code is not None:
        how = f"exited with code {code}"
    else:
        how = "closed its pipe"
    if starting:
        return ChildProcessDiedError(
            f"The child process (pid {child.pid}) started for task {task_name!r} {how} "
            "while starting, before it could run anything (its error is on the worker's "
            "stderr)",
            code,
        )
    return ChildProcessDiedError(
        f"The child process (pid {child.pid}) running task {task_name!r} {how} before "
        "the task finished",
        code,
    )


def _unpack(reply: tuple[Any, ...]) -> Any:
    if reply[0] == "ok":
        return reply[1]
    _, blob, type_name, message, text = reply
    error: BaseException | None = None
    if blob is not None:
        try:
            error = pickle.loads(blob)
        except Exception:
            error = None
    if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit... stay there
        error = RemoteTaskError(type_name, message)
    raise error from ChildTraceback(text.rstrip())


__all__ = ["ChildProcessDiedError", "ChildTraceback", "ProcessPool", "RemoteTaskError"]
