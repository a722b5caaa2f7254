"""Sync task bodies in child processes (`isolation="process"`), so they can be stopped.

A thread cannot be killed: when a sync task passes its `max_time` or is cancelled with
`app.cancel()`, the worker stops waiting but the body runs on in its thread. A task
marked `@app.task(isolation="process")` (or every sync task of a worker with
`task_isolation="process"`) runs its body in a child process instead; then the worker
kills the child (SIGKILL) and its slot is free at once; the next task gets a fresh
child. A child that crashes (`os._exit`, a segfault, the OOM killer) fails only its
task, with a `ChildProcessDiedError` naming the exit code or signal.

The children form one pool per worker (`engine.process_pool.ProcessPool`, a worker
resource closed when the worker stops): started lazily, reused between tasks, at most
one per running task, so never more than the worker's concurrency. A child imports the
task's module and finds the function by its qualified name through the task object, so
no closure is pickled; arguments go there as JSON (they are stored as JSON anyway) and
the result comes back pickled (so the task's `decode=` still runs in the worker).
Middlewares, hooks, argument injection and `decode=` run in the worker as for a thread;
only the function call moves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from qtasks.engine.process_pool import (
    ChildProcessDiedError,
    ChildTraceback,
    ProcessPool,
    RemoteTaskError,
)
from qtasks.exc import ConfigError, EngineError

if TYPE_CHECKING:
    from qtasks.core.models import TaskSpec
    from qtasks.engine.injection import WorkerResources

THREAD = "thread"
PROCESS = "process"
#: The values of the `isolation` task option and of `QueueConfig.task_isolation`.
ISOLATIONS = (THREAD, PROCESS)


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
