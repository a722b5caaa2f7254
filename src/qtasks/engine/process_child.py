"""The child side of `isolation="process"`: a loop that runs task bodies sent by its
worker, one at a time, until the worker closes the job pipe.

The worker (`engine.processes`) starts a fresh interpreter that calls `main()` with
three inherited pipe descriptors: jobs in, replies out, and one the worker never
writes to, which reads end-of-file when the worker is gone. Messages on the first two
are length-prefixed pickles (`frame()`); the first reply, `("ready", pid)`, says the
child has started.

A job is JSON, `[module, qualname, record fields, [args, kwargs]]`: the child imports
`module`, follows `qualname` to the task (through the task object `@app.task` left in
the module, to its function), calls it and answers, pickled, `("ok", result)` or
`("error", pickled exception or None, type name, message, traceback text)`. Nothing but
names and JSON goes to the child, so no closure or lock ever crosses.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import pickle
import signal
import struct
import sys
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

import orjson

from qtasks.core.models import TaskRecord, TaskSpec
from qtasks.core.policy import format_exception
from qtasks.engine.current import current_record
from qtasks.exc import ConfigError

#: Exit code of a child whose worker went away while it ran a task.
ORPHANED_EXIT = 70
#: The length prefix of every message: 8 bytes, little-endian.
HEADER = struct.Struct("<Q")


def frame(value: Any) -> bytes:
    """`value` pickled, with its length in front."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def job(module: str, qualname: str, record: TaskRecord, arguments: bytes) -> bytes:
    """The message that runs `module.qualname` with `arguments` (JSON `[args, kwargs]`)
    as `record`, with its length in front."""
    fields = {
        "uuid": record.uuid,
        "task_name": record.task_name,
        "priority": record.priority,
        "args": record.args,
        "kwargs": record.kwargs,
        "status": record.status,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "extra": record.extra,
        "eta": record.eta,
        "attempts": record.attempts,
        "queue": record.queue,
    }
    # The arguments are already JSON: joined in, not encoded again.
    data = b"".join((orjson.dumps([module, qualname, fields])[:-1], b",", arguments, b"]"))
    return HEADER.pack(len(data)) + data


def main(job_fd: int, reply_fd: int, alive_fd: int) -> None:
    """Run jobs until the worker closes the job pipe (the child's entry point)."""
    # The worker decides when its children stop: a Ctrl+C or a SIGTERM sent to the
    # whole process group must not break the body the worker is still waiting for.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _exit_with_worker(alive_fd)
    with os.fdopen(job_fd, "rb") as jobs, os.fdopen(reply_fd, "wb") as replies:
        replies.write(frame(("ready", os.getpid())))  # the worker waits for this
        replies.flush()
        serve(jobs, replies)


def serve(jobs: BinaryIO, replies: BinaryIO) -> None:
    functions: dict[tuple[str, str], Callable[..., Any]] = {}
    while True:
        header = jobs.read(HEADER.size)
        if len(header) < HEADER.size:
            return  # the worker closed the pipe: stop
        (size,) = HEADER.unpack(header)
        module, qualname, fields, (args, kwargs) = orjson.loads(jobs.read(size))
        reply = _run(functions, module, qualname, TaskRecord(**fields), args, kwargs)
        try:
            message = frame(reply)
        except Exception as exc:
            message = frame(_unsendable(reply[1], exc))
        _flush()  # what the body printed shows up now, not when the child exits
        try:
            replies.write(message)
            replies.flush()
        except OSError:
            return


def resolve(module: str, qualname: str) -> Callable[..., Any]:
    """The function a task's `module` and `qualname` name, found through the task
    object the decorator left there. Raises `ConfigError` saying what is missing."""
    try:
        obj: Any = importlib.import_module(module)
    except Exception as exc:
        raise ConfigError(f"cannot import module {module!r} in the child process: {exc!r}") from exc
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(
                f"module {module!r} has no {qualname!r} in the child process (is it "
                "defined only under a condition, or only when the worker script runs?)"
            ) from None
    schema = getattr(obj, "schema", None)
    func = schema.func if isinstance(schema, TaskSpec) else obj
    if not callable(func):
        raise ConfigError(f"{module}.{qualname} is {func!r}, not a task function")
    return func


def _run(
    functions: dict[tuple[str, str], Callable[..., Any]],
    module: str,
    qualname: str,
    record: TaskRecord,
    args: list[Any],
    kwargs: dict[str, Any],
) -> tuple[Any, ...]:
    token = current_record.set(record)
    try:
        func = functions.get((module, qualname))
        if func is None:
            func = functions[module, qualname] = resolve(module, qualname)
        result = func(*args, **kwargs)
        if inspect.isawaitable(result):  # a sync wrapper that returned a coroutine
            result = asyncio.run(_await(result))
        return ("ok", result)
    except BaseException as exc:  # the worker decides what it means, as for a thread
        return _error(exc)
    finally:
        current_record.reset(token)


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _error(exc: BaseException) -> tuple[Any, ...]:
    """The exception as the worker rebuilds it: pickled when it survives a round trip
    here (so the worker's `except` and `retry_on_exc` see its type), with its type
    name, message and this process's traceback text in any case."""
    blob: bytes | None
    try:
        blob = pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(blob)  # some exceptions pickle but cannot be rebuilt
    except BaseException:  # a user's __reduce__ or __init__ may raise anything
        blob = None
    kind = type(exc)
    name = kind.__qualname__
    if kind.__module__ != "builtins":
        name = f"{kind.__module__}.{name}"
    try:
        message = str(exc)
    except BaseException as fault:  # a user's __str__ may raise anything
        message = f"<unprintable {kind.__qualname__}: str failed with {type(fault).__qualname__}>"
    return ("error", blob, name, message, format_exception(exc))


def _unsendable(result: Any, exc: Exception) -> tuple[Any, ...]:
    problem = TypeError(
        f"the task's result ({type(result).__name__}) cannot be sent back from the child "
        f"process: {exc!r}; return JSON values (dict, list, str, int, float, bool, None)"
    )
    return _error(problem)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass


def _exit_with_worker(alive_fd: int) -> None:
    """Leave when the worker process is gone, even in the middle of a task body: a
    child never outlives its worker. The worker holds the other end of `alive_fd`
    and never writes; the read returns when that end closes."""

    def watch() -> None:
        try:
            os.read(alive_fd, 1)
        finally:
            _flush()
            os._exit(ORPHANED_EXIT)

    threading.Thread(target=watch, name="qtasks-worker-watch", daemon=True).start()


__all__ = ["HEADER", "ORPHANED_EXIT", "frame", "job", "main", "resolve", "serve"]
