"""Running one task: the user function, its time limit, its result encoding.

Async functions run on the loop; sync functions (and sync generators) run in the
worker's bounded thread pool with the caller's contextvars, so they never block
the loop. The executor never raises for a task's own failure: every outcome
becomes a `Completion`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from qtasks import serialization
from qtasks._callables import call_maybe_async
from qtasks.backends.base import Completion, Delivery
from qtasks.engine import outcome
from qtasks.exc import SerializationError, TaskNotRegisteredError
from qtasks.schemas.task_exec import TaskExecSchema

if TYPE_CHECKING:
    from qtasks.app.base import BaseQueueTasks


class TaskExecutor:
    def __init__(self, app: BaseQueueTasks, pool: ThreadPoolExecutor) -> None:
        self.app = app
        self.pool = pool
        self.log = app.log.with_subname("Executor")

    async def run(self, delivery: Delivery) -> Completion:
        record = delivery.record
        schema = self.app._find_task(record.task_name)
        try:
            if schema is None:
                raise TaskNotRegisteredError(
                    f"Task {record.task_name!r} is not registered in app {self.app.name!r} "
                    "(it is enqueued by name; define it in the worker's app)"
                )
            value = await self._call(schema, delivery)
            value = await self._encode(schema, value)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the task's own failure: stored, never raised
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            return self._failed(schema, delivery, exc)
        return Completion(delivery, outcome.success(record, value))

    def _failed(
        self, schema: TaskExecSchema | None, delivery: Delivery, exc: BaseException
    ) -> Completion:
        record = delivery.record
        if schema is not None and outcome.should_retry(schema, record, exc):
            cfg = self.app.config
            attempt = int(schema.retry or 0) - outcome.retries_left(schema, record)
            delay = outcome.retry_delay(
                attempt,
                float(schema.extra.get("retry_backoff", cfg.retry_backoff)),
                float(schema.extra.get("retry_backoff_max", cfg.retry_backoff_max)),
                float(schema.extra.get("retry_jitter", cfg.retry_jitter)),
            )
            failed, child = outcome.retry_records(schema, record, exc, delay)
            self.log.warning(
                f"Task {record.task_name} ({record.uuid}) failed: {exc!r}; "
                f"retrying as {child.uuid} in {delay:.2f}s"
            )
            return Completion(delivery, failed, [child])
        final = outcome.failure(record, exc)
        if final.status == "error":
            self.log.error(f"Task {record.task_name} ({record.uuid}) failed: {exc!r}")
        return Completion(delivery, final)

    async def _call(self, schema: TaskExecSchema, delivery: Delivery) -> Any:
        args, kwargs = self._arguments(schema, delivery)
        run = self._invoke(schema, args, kwargs)
        if schema.max_time:
            try:
                return await asyncio.wait_for(run, schema.max_time)
            except asyncio.TimeoutError:
                raise TimeoutError(
                    f"Time limit exceeded for task {schema.name}: {schema.max_time} seconds"
                ) from None
        return await run

    def _arguments(
        self, schema: TaskExecSchema, delivery: Delivery
    ) -> tuple[list[Any], dict[str, Any]]:
        args = list(delivery.record.args)
        kwargs = dict(delivery.record.kwargs)
        if schema.echo:
            args.insert(0, self.app._echo_handle(schema, delivery.record))
        return args, kwargs

    async def _invoke(self, schema: TaskExecSchema, args: list[Any], kwargs: dict[str, Any]) -> Any:
        func = schema.func
        if schema.generating == "async":
            items = [item async for item in func(*args, **kwargs)]
            return await self._handle_items(schema, items)
        if schema.generating == "sync":
            items = await self._in_thread(lambda: list(func(*args, **kwargs)))
            return await self._handle_items(schema, items)
        if schema.awaiting:
            return await func(*args, **kwargs)
        result = await self._in_thread(functools.partial(func, *args, **kwargs))
        if asyncio.iscoroutine(result):  # a sync wrapper that returned a coroutine
            result = await result
        return result

    async def _handle_items(self, schema: TaskExecSchema, items: list[Any]) -> list[Any]:
        handler = schema.generate_handler
        if handler is None:
            return items
        return [await call_maybe_async(handler, item) for item in items]

    async def _in_thread(self, call: Any) -> Any:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        return await loop.run_in_executor(self.pool, context.run, call)

    async def _encode(self, schema: TaskExecSchema, value: Any) -> Any:
        decode = schema.decode or self.app.config.task_default_decode
        if decode is not None:
            value = await call_maybe_async(decode, value)
        try:
            serialization.dumps(value, what="the result")
        except SerializationError as exc:
            hint = f" (after decode={decode!r})" if decode is not None else ""
            raise SerializationError(
                f"Task {schema.name} returned {type(value).__name__}{hint}, which cannot be "
                f"stored as JSON: {exc.__cause__ or exc}"
            ) from exc
        return value


__all__ = ["TaskExecutor"]
