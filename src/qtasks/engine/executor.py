"""Running one task: middlewares, argument plugins, the user function under its time
limit, result plugins and encoding.

`TaskExecutor` is created per execution and is the object middlewares and
`task_executor_*` plugins receive; a task's `executor=` option names a subclass. Async
functions run on the loop; sync functions (and sync generators) run in the worker's
bounded thread pool with the caller's contextvars, so they never block the loop.
`execute()` raises the task's own exception; the worker turns it into a record.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from qtasks.core import codec as serialization
from qtasks.core.argmeta import ArgMeta
from qtasks.core.callables import call_maybe_async
from qtasks.core.hooks import HookRunner, PluginTable
from qtasks.core.models import TaskPrioritySchema, TaskRecord, TaskSpec
from qtasks.engine.current import current_record
from qtasks.engine.injection import ExecutionScope, WorkerResources
from qtasks.engine.threads import run_in_pool
from qtasks.exc import HookAbort, SerializationError, TaskTimeoutError

if TYPE_CHECKING:
    from qtasks.core.runtime import Injector, Log, Runtime


class TaskExecutor:
    """One execution of one task. Override the steps in a subclass and pass it as
    `@app.task(executor=MyExecutor)`; keep the constructor's keyword arguments."""

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
        `task_default_decode`), then a check that it is JSON.

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
        try:
            serialization.dumps(value, what="the result")
        except SerializationError as exc:
            hint = f" (after decode={decoder!r})" if decoder is not None else ""
            raise SerializationError(
                f"Task {self.task_func.name} returned {type(value).__name__}{hint}, which "
                f"cannot be stored as JSON: {exc.__cause__ or exc}"
            ) from exc
        return value

    # --- helpers --------------------------------------------------------------------------
    async def _limited(self, run: Any) -> Any:
        max_time = self.task_func.max_time
        if not max_time:
            return await run
        try:
            return await asyncio.wait_for(run, max_time)
        except TimeoutError:
            raise TaskTimeoutError(
                f"Time limit exceeded for task {self.task_func.name}: {max_time} seconds"
            ) from None

    async def _in_thread(self, call: Any) -> Any:
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
