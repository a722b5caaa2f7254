"""Sync task bodies in child processes (`isolation="process"`), so they can be stopped.

A thread cannot be killed: when a sync task passes its `max_time` or is cancelled with
`app.cancel()`, the worker stops waiting but the body runs on in its thread. A task
marked `@app.task(isolation="process")` (or every sync task of a worker with
`task_isolation="process"`) runs its body in a child process instead; then the worker
kills the child (SIGKILL) and its slot is free at once; the next task gets a fresh
child. A child that crashes (`os._exit`, a segfault, the OOM killer) fails only its
task, with a `ChildProcessDiedError` naming the exit code or signal.

The children form one pool per worker (`ProcessPool`, a worker resource closed when the
worker stops): started lazily, reused between tasks, at most one per running task, so
never more than the worker's concurrency. Each is spawned as a fresh interpreter, never
forked from the worker (which has threads), and not through `multiprocessing`, whose
spawn and forkserver methods import the worker's main script again in every child (an
unguarded `app.run_forever()` there would start a second worker). A child imports the
task's module and finds the function by its qualified name through the task object, so
no closure is pickled; arguments go there as JSON (they are stored as JSON anyway) and
the result comes back pickled (so the task's `decode=` still runs in the worker).
Middlewares, hooks, argument injection and `decode=` run in the worker as for a thread;
only the function call moves.
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

import orjson

from qtasks.engine.process_child import HEADER, job
from qtasks.exc import ConfigError, EngineError, SerializationError, TaskError

if TYPE_CHECKING:
    from qtasks.core.models import TaskRecord, TaskSpec
    from qtasks.engine.injection import WorkerResources

THREAD = "thread"
PROCESS = "process"
#: The values of the `isolation` task option and of `QueueConfig.task_isolation`.
ISOLATIONS = (THREAD, PROCESS)

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


# --- which tasks run in a child -------------------------------------------------------------


def check_isolation(value: Any, what: str = "isolation") -> str:
    """`value` if it is "thread" or "process"; else a ConfigError naming `what`."""
    if value not in ISOLATIONS:
        raise ConfigError(f"{what} must be 'thread' or 'process', got {value!r}")
    return str(value)


def process_target(func: Any, task_name: str, *, main_ok: bool = False) -> tuple[str, str]:
    """The module and qualified name under which a child process finds `func`.

    Raises `ConfigError` naming the fix for a function a fresh process cannot import:
    a lambda or callable object without a module-level name, one defined inside another
    function, or (unless `main_ok`: a script may define the tasks a worker elsewhere
    imports as a module) one defined in `__main__`, the script being run.
    """
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    where = f"Task {task_name!r} cannot run in a child process (isolation='process'): "
    fix = "; or give this task isolation='thread'"
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise ConfigError(
            where + f"{func!r} has no module-level name; decorate a plain function "
            "defined at the top of an importable module" + fix
        )
    if "<locals>" in qualname or "<lambda>" in qualname:
        raise ConfigError(
            where + f"{module}.{qualname} is defined inside a function (or is a lambda), "
            "so a child process cannot import it; define it at module level" + fix
        )
    if module in ("__main__", "__mp_main__") and not main_ok:
        raise ConfigError(
            where + f"it is defined in the script being run ({qualname} in __main__), "
            "which a child process does not import; move it to a module the worker imports "
            "(e.g. tasks.py) and start the worker with `qtasks -A tasks:app run`" + fix
        )
    return module, qualname


def process_isolated(execution: Any) -> bool:
    """Whether this execution's sync body runs in a child process: the task's
    `isolation` option, else the app's `config.task_isolation`. Async functions and
    generators always run as before."""
    spec: TaskSpec = execution.task_func
    if spec.awaiting or spec.generating:
        return False
    chosen = spec.extra.get("isolation")
    if chosen is None:
        app = execution.app
        if app is None:
            return False
        chosen = check_isolation(
            getattr(app.config, "task_isolation", THREAD), "config.task_isolation"
        )
    return bool(chosen == PROCESS)


async def run_in_child(execution: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Call the execution's task function with `args`/`kwargs` in a child process of
    its worker's pool and return its result, or raise its exception.

    Raises `ConfigError` for what cannot cross (an `echo=True` task's `self`, injected
    values that are not JSON, a function a child cannot import), and
    `ChildProcessDiedError` when the child ends before answering. Cancelling the call
    (max_time, `app.cancel()`, shutdown) kills the child.
    """
    spec: TaskSpec = execution.task_func
    if spec.echo:
        raise ConfigError(
            f"Task {spec.name!r} has echo=True and runs in a child process: its `self` (the "
            "task object with its ctx and app) cannot cross to another process. Drop echo "
            "(the task's uuid is in qtasks.engine.current.current_record) or give this "
            "task isolation='thread'"
        )
    module, qualname = process_target(spec.func, spec.name)
    arguments = _encode_arguments(spec.name, args, kwargs)
    pool = pool_of(execution.resources)
    return await pool.run(module, qualname, execution.record, arguments, spec.name)


def _encode_arguments(task_name: str, args: list[Any], kwargs: dict[str, Any]) -> bytes:
    """`[args, kwargs]` as JSON, only if the child gets back exactly these values:
    an injected object (a `State`, a `Depends` value, a Pydantic model, a datetime)
    would arrive as a copy or as text, never as itself, so it is refused by name."""
    try:
        data = orjson.dumps([args, kwargs])
        same = orjson.loads(data) == [args, kwargs]
    except (TypeError, orjson.JSONEncodeError):
        same = False
    if same:
        return data
    named = [(f"argument {i}", v) for i, v in enumerate(args)] + list(kwargs.items())
    bad = [(n, v) for n, v in named if not _is_json_value(v)]
    listed = ", ".join(f"{n} ({type(v).__name__})" for n, v in bad) or "an argument"
    raise ConfigError(
        f"Task {task_name!r} runs in a child process, where arguments arrive as JSON "
        f"values; {listed} would not arrive as itself. Injected parameters (State, "
        "Depends, Pydantic models) and other objects stay in the worker: pass plain "
        "values, or give this task isolation='thread'"
    )


def _is_json_value(value: Any) -> bool:
    try:
        return bool(orjson.loads(orjson.dumps(value)) == value)
    except (TypeError, orjson.JSONEncodeError):
        return False


def pool_of(resources: WorkerResources | None) -> ProcessPool:
    """The worker's pool of child processes, made on first use and closed (children
    stopped) when the worker stops."""
    if resources is None:
        raise EngineError("isolation='process' needs a worker: run the task through one")

    def make() -> ProcessPool:
        pool = ProcessPool()
        resources.on_close("the task processes", pool.aclose)
        return pool

    found: ProcessPool = resources.get(ProcessPool, make)
    return found


# --- the pool -------------------------------------------------------------------------------


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
        """The child leaves its loop (and flushes its output) when the job pipe closes."""
        self.jobs.close()
        self.replies_pipe.close()
        if self.alive >= 0:
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
        else:
            async with self._changed:
                self._idle.append(child)
                self._changed.notify()
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
            child.close_pipes()
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
            await _receive(child, task_name)
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


async def _receive(child: _Child, task_name: str) -> Any:
    """The child's next message; `ChildProcessDiedError` if it ends first."""
    try:
        header = await child.replies.readexactly(HEADER.size)
        (size,) = HEADER.unpack(header)
        reply = await child.replies.readexactly(size)
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        raise await _died(child, task_name) from None
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


async def _died(child: _Child, task_name: str) -> ChildProcessDiedError:
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


__all__ = [
    "ISOLATIONS",
    "PROCESS",
    "THREAD",
    "ChildProcessDiedError",
    "ChildTraceback",
    "ProcessPool",
    "RemoteTaskError",
    "check_isolation",
    "pool_of",
    "process_isolated",
    "process_target",
    "run_in_child",
]
