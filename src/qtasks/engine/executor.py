"""Running one task: middlewares, argument plugins, the user function under its time
limit, result plugins and encoding.

`TaskExecutor` is created per execution and is the object middlewares and
`task_executor_*` plugins receive; a task's `executor=` option names a subclass. Async
functions run on the loop; sync functions (and sync generators) run in the worker's
bounded thread pool with the caller's contextvars, so they never block the loop, or,
with `isolation="process"`, in a child process (`engine/processes.py`).
`execute()` raises the task's own exception; the worker turns it into a record.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from qtasks.core import codec as serialization
from qtasks.core.argmeta import ArgMeta
from qtasks.core.callables import call_maybe_async
from qtasks.core.hooks import HookRunner, PluginTable
from qtasks.core.models import TaskPrioritySchema, TaskRecord, TaskSpec
from qtasks.engine.current import current_record
from qtasks.engine.injection import ExecutionScope, WorkerResources
from qtasks.engine.processes import process_isolated, run_in_child
from qtasks.engine.threads import TaskThreads, ThreadCall, run_in_pool
from qtasks.exc import HookAbort, SerializationError, TaskTimeoutError

if TYPE_CHECKING:
    from qtasks.core.runtime import Injector, Log, Runtime


class TaskExecutor:
    """One execution of one task. Override the steps in a subclass and pass it as
    `@app.task(executor=MyExecutor)`; keep the constructor's keyword arguments."""

    #: The time limit of a sync body, while it runs under one.
    _clock: _BodyClock | None = None

    def __init__(
        self,
        task_func: TaskSpec,
        task_broker: TaskRecord,
        log: Log | None = None,
        plugins: dict[str, list[Any]] | None = None,
        *,
        app: Runtime | None = None,
        pool: Executor | None = None,
        middlewares_before: list[Any] | None = None,
        middlewares_after: list[Any] | None = None,
        hooks: HookRunner | None = None,
        injectors: list[Injector] | None = None,
        resources: WorkerResources | None = None,
    ) -> None:
        self.task_func = task_func
        self.record = task_broker
        self.app = app
        self.pool = pool
        self.log: Log = log or (
            app.log.with_subname(type(self).__name__) if app else _default_log()
        )
        #: The worker's plugins, as QTasks 1.7 gave them to executors.
        self.plugins: dict[str, list[Any]] = plugins if plugins is not None else {}
        self.hooks = hooks or HookRunner({"worker": PluginTable(self.plugins)}, self.log)
        #: The hooks with listeners, read once: each step checks it before building a call.
        self._listened = self.hooks.active
        #: The argument injectors this task needs, and their shared state.
        self.injectors: list[Injector] = injectors or []
        self.resources = resources
        self.injection = ExecutionScope()
        self.echo = task_func.echo
        self._args: list[Any] = list(task_broker.args)
        self._kwargs: dict[str, Any] = dict(task_broker.kwargs)
        self._result: Any = None
        self.middlewares_before = middlewares_before or []
        self.middlewares_after = middlewares_after or []

    @property
    def task_broker(self) -> TaskPrioritySchema:
        """The running task in the original's shape (priority, uuid, name, args...)."""
        r = self.record
        return TaskPrioritySchema(
            priority=r.priority,
            uuid=r.uuid,
            name=r.task_name,
            args=list(r.args),
            kwargs=dict(r.kwargs),
            created_at=r.created_at,
            updated_at=r.updated_at,
        )

    # --- the steps ------------------------------------------------------------------------
    async def execute(self, decode: bool = True) -> Any:
        token = current_record.set(self.record)
        try:
            return await self._execute(decode)
        except HookAbort as abort:  # a plugin failed this task: its cause is the error
            raise (abort.__cause__ or abort) from None
        finally:
            current_record.reset(token)

    async def _execute(self, decode: bool) -> Any:
        await self.execute_middlewares_before()
        await self.before_execute()
        if self.task_func.generating:
            self._result = await self._limited(self.run_task_gen())
        else:
            self._result = await self._limited(self.run_task())
        await self.after_execute()
        await self.execute_middlewares_after()
        if decode:
            self._result = await self.decode()
        return self._result

    async def execute_middlewares_before(self) -> None:
        await self._middlewares(self.middlewares_before, "middlewares_before")

    async def execute_middlewares_after(self) -> None:
        await self._middlewares(self.middlewares_after, "middlewares_after")

    async def _middlewares(self, classes: list[Any], label: str) -> None:
        if not classes:
            return
        await self._trigger("task_executor_middlewares_execute", **{label: classes})
        for cls in classes:
            # A middleware may change the executor's args/kwargs/result in place.
            await call_maybe_async(cls(self))

    async def before_execute(self) -> None:
        if self.echo and self.app is not None:
            self._args.insert(0, self.app.echo_handle(self.task_func, self.record))
        for injector in self.injectors:
            self._args, self._kwargs = await injector.prepare(self, self._args, self._kwargs)
        if "task_executor_args_replace" in self._listened:
            changes = await self._trigger(
                "task_executor_args_replace",
                args=self._args,
                kw=self._kwargs,
                args_info=self.args_info(),
            )
            if "args" in changes and changes["args"] is not None:
                self._args = list(changes["args"])
            if "kw" in changes and changes["kw"] is not None:
                self._kwargs = dict(changes["kw"])
        if "task_executor_before_execute" in self._listened:
            await self._trigger("task_executor_before_execute")

    async def run_task(self) -> Any:
        func, schema = self.task_func.func, self.task_func
        if schema.awaiting:
            result = await func(*self._args, **self._kwargs)
        elif process_isolated(self):  # isolation="process": a child runs the body
            result = await run_in_child(self, self._args, self._kwargs)
        else:
            result = await self._in_thread(functools.partial(func, *self._args, **self._kwargs))
            if inspect.isawaitable(result):  # a sync wrapper that returned a coroutine
                result = await result
        if "task_executor_run_task" not in self._listened:
            return result
        changes = await self._trigger("task_executor_run_task", result=result)
        return changes.get("result", result)

    async def run_task_gen(self) -> list[Any]:
        func, handler = self.task_func.func, self.task_func.generate_handler
        if self.task_func.generating == "async":
            items = [item async for item in func(*self._args, **self._kwargs)]
        else:
            items = await self._in_thread(lambda: list(func(*self._args, **self._kwargs)))
        if handler is not None:
            items = [await call_maybe_async(handler, item) for item in items]
        changes = await self._trigger("task_executor_run_task_gen", results=items)
        return list(changes.get("results", items))

    async def after_execute(self) -> None:
        if "task_executor_after_execute" in self._listened:
            await self._trigger("task_executor_after_execute")
        for injector in self.injectors:
            self._result = await injector.finish(self, self._result)
        if "task_executor_after_execute_result_replace" in self._listened:
            changes = await self._trigger(
                "task_executor_after_execute_result_replace", result=self._result
            )
            self._result = changes.get("result", self._result)

    async def close(self) -> None:
        """After the execution, whatever its outcome: the injectors' clean-up, then the
        `task_executor_task_close` hook."""
        for injector in self.injectors:
            try:
                await injector.close(self)
            except Exception:
                self.log.exception("Closing %r after task %s failed", injector, self.record.uuid)
        if "task_executor_task_close" in self._listened:
            await self._trigger(
                "task_executor_task_close", task_func=self.task_func, task_broker=self.record
            )

    async def decode(self) -> Any:
        """Turn the result into what is stored: the task's `decode=` (or the config's
        `task_default_decode`), then a check that it comes back equal from JSON (a tuple
        as a list). Raises `SerializationError` naming the part at fault (`result`,
        `result['rows'][3]`) for NaN or infinite floats, non-str keys and types JSON
        cannot hold: the task ends `error` rather than store a changed value.

        A decoder that returns JSON text (`decode=json.dumps`, QTasks 1.7's form) has
        encoded the result: the text is read back, so `returning` is the value and not
        the text. Other text is stored as a string."""
        value = self._result
        decoder = self.task_func.decode
        if decoder is None and self.app is not None:  # the app's config, read at run time
            decoder = self.app.config.task_default_decode
        if decoder is not None:
            value = _encoded_to_value(await call_maybe_async(decoder, value))
        if "task_executor_decode" in self._listened:
            changes = await self._trigger("task_executor_decode", result=value)
            value = changes.get("result", value)
        problem = serialization.faithful_problem(value, "result")
        if problem is not None:  # stored, it would come back changed: fail the task instead
            hint = f" (after decode={decoder!r})" if decoder is not None else ""
            raise SerializationError(
                f"Task {self.task_func.name} returned {type(value).__name__}{hint}, which "
                f"cannot be stored as JSON unchanged: {problem}; or convert the result "
                f"with the task's decode= option"
            )
        return value

    # --- helpers --------------------------------------------------------------------------
    async def _limited(self, run: Any) -> Any:
        """Run the body under `max_time`, counted from now; for a sync body handed to the
        worker's threads, from the moment it starts on its thread (waiting for a free
        thread does not count)."""
        max_time = self.task_func.max_time
        if not max_time:
            return await run
        scope = asyncio.timeout(max_time)
        clock: _BodyClock | None = None
        try:
            async with scope:
                clock = self._clock = _BodyClock(scope, max_time)  # `_in_thread` uses it
                return await run
        except TimeoutError:
            if not scope.expired():
                raise  # the body's own TimeoutError
            raise TaskTimeoutError(
                f"Time limit exceeded for task {self.task_func.name}: {max_time} seconds"
            ) from None
        finally:
            if clock is not None:
                clock.close()
                self._clock = None

    async def _in_thread(self, call: Any) -> Any:
        clock = self._clock
        if clock is not None and isinstance(self.pool, TaskThreads):
            return await self.pool.call(call, follow=clock.follow)
        # Another executor: when the body starts cannot be seen; the limit counts from
        # the start of `_limited`.
        return await run_in_pool(self.pool, call)

    async def _trigger(self, name: str, **kwargs: Any) -> dict[str, Any]:
        if not self.hooks.listens(name):
            return {}
        return await self.hooks.run(name, task_executor=self, **kwargs)

    def args_info(self) -> list[ArgMeta]:
        """Each argument with the parameter it binds to, for argument plugins."""
        described = _describe(self.task_func.func)
        if described is None:
            return []
        positional, hints = described
        info = []
        for index, value in enumerate(self._args):
            param = positional[index] if index < len(positional) else None
            name = param.name if param else f"arg{index}"
            annotation = hints.get(name, param.annotation if param else None)
            info.append(
                ArgMeta(
                    name, value, _origin(annotation), annotation, annotation, False, index=index
                )
            )
        for key, value in self._kwargs.items():
            annotation = hints.get(key)
            info.append(
                ArgMeta(key, value, _origin(annotation), annotation, annotation, True, key=key)
            )
        return info


class _BodyClock:
    """`max_time` of a sync body, counted from the moment it starts on its thread.

    Once the body is handed to the threads the deadline is lifted. The thread only
    writes down when the body started; the loop looks `max_time` after the hand-off,
    and sets the deadline to `max_time` after that start, or, if the body has not
    started yet, looks again `max_time` later. So a body that waits for a thread is not
    timed out before it ran, and the common case (the body ends in time) costs no
    wake-up at all."""

    __slots__ = ("_check", "_job", "_loop", "_scope", "_seconds")

    def __init__(self, scope: asyncio.Timeout, seconds: float) -> None:
        self._scope = scope
        self._seconds = seconds
        self._loop = asyncio.get_running_loop()
        self._check: asyncio.TimerHandle | None = None
        self._job: ThreadCall | None = None

    def follow(self, job: ThreadCall) -> None:
        """Count from `job`'s start on its thread (the first call handed off)."""
        if self._job is None:
            self._job = job
            self._scope.reschedule(None)
            self._check = self._loop.call_later(self._seconds, self._look)

    def _look(self) -> None:
        assert self._job is not None
        started = self._job.started
        if started is None:  # still waiting for a thread: its clock has not started
            self._check = self._loop.call_later(self._seconds, self._look)
            return
        self._check = None
        left = started + self._seconds - time.monotonic()
        self._scope.reschedule(self._loop.time() + left)

    def close(self) -> None:
        if self._check is not None:
            self._check.cancel()
            self._check = None


@functools.lru_cache(maxsize=1024)
def _describe(func: Any) -> tuple[list[inspect.Parameter], dict[str, Any]] | None:
    """Positional parameters and type hints of a task function, worked out once."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return positional, _type_hints(func)


def _type_hints(func: Any) -> dict[str, Any]:
    import typing

    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception:
        return dict(getattr(func, "__annotations__", {}))


def _origin(annotation: Any) -> Any:
    import typing

    return typing.get_origin(annotation) or annotation


def _default_log() -> Log:
    from qtasks.logs import Logger

    return Logger("qtasks")


def _encoded_to_value(value: Any) -> Any:
    # QTasks 1.7 stored a decoder's output as the result's JSON text and parsed it on
    # every read; parsing it once here keeps what 1.7 callers read, and text that is
    # not JSON (where 1.7's reads failed) stays a plain string.
    if isinstance(value, str | bytes):
        try:
            return serialization.loads(value)
        except ValueError:
            return value
    return value


__all__ = ["TaskExecutor"]
