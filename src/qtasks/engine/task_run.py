"""One delivery from lease to final record: the worker-side flow around the executor.

Order: `worker_execute_before` -> event `task_running` -> `worker_run_task_before` ->
executor (middlewares, arguments, function, result) -> outcome (success / error / cancel /
retry, with `worker_task_error_retry`) -> `task_executor_task_close` (always) -> event
`task_success|task_error|task_cancel` -> event `task_stopping` ->
`worker_remove_finished_task` -> `worker_execute_after`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import TYPE_CHECKING, Any, Protocol

from qtasks.core import policy as outcome
from qtasks.core.models import Completion, Delivery, TaskRecord, TaskSpec
from qtasks.core.status import CANCEL, ERROR, SUCCESS
from qtasks.engine import task_log
from qtasks.engine.executor import TaskExecutor
from qtasks.exc import HookAbort, TaskNotRegisteredError, TaskPluginTriggerError

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from qtasks.core.config import QueueConfig
    from qtasks.core.hooks import HookRunner
    from qtasks.core.log import Log
    from qtasks.core.ports import Backend
    from qtasks.core.runtime import Injector, Runtime
    from qtasks.engine.injection import WorkerResources


class Worker(Protocol):
    """What running one delivery needs from its worker (`engine.worker.Worker`)."""

    @property
    def app(self) -> Runtime: ...
    @property
    def hooks(self) -> HookRunner: ...
    @property
    def config(self) -> QueueConfig: ...
    @property
    def backend(self) -> Backend: ...
    @property
    def log(self) -> Log: ...
    @property
    def executor_log(self) -> Log: ...
    @property
    def pool(self) -> Executor | None: ...
    @property
    def resources(self) -> WorkerResources: ...

    def cancel_reason(self, uuid: str) -> str | None: ...
    def stopping(self) -> bool: ...
    def injectors_for(self, spec: TaskSpec) -> list[Injector]: ...


_EVENT_FOR_STATUS = {SUCCESS: "task_success", CANCEL: "task_cancel"}


async def run_delivery(
    worker: Worker, delivery: Delivery, settled: Completion | None = None
) -> Completion:
    """Run one delivery and return its completion; `settled` is an outcome decided
    without running the task (a dead letter, a cancel found on redelivery): the body is
    skipped and only the finishing events and hooks run.

    Never raises but for the worker's own cancellation (shutdown: the worker releases the
    lease). Anything else that escapes the task or its handling (any BaseException, a
    failing plugin, hook or event handler, an exception that cannot be rendered) ends
    this task with an `error` record naming it; the worker runs on.
    """
    record = delivery.record
    schema: TaskSpec | None = None
    begun = time.monotonic()
    try:
        schema = worker.app.find_task(record.task_name)
        if settled is not None:
            completion = settled
        else:
            task_log.started(worker.log, record)
            completion, schema = await _run(worker, delivery, schema, begun)
            task_log.finished(worker.log, record, completion.record, time.monotonic() - begun)
    except asyncio.CancelledError:
        if cancelled_by_worker() and worker.stopping():
            raise
        _uncancel()
        completion = crashed(
            worker, delivery, None, "raised CancelledError in the worker's handling"
        )
    except BaseException as exc:
        completion = crashed(worker, delivery, exc, "failed in the worker's handling")
    try:
        return await _finish(worker, schema, record, completion)
    except asyncio.CancelledError:
        if (
            cancelled_by_worker()
            and worker.stopping()
            and worker.cancel_reason(record.uuid) is None
        ):
            raise
        if worker.cancel_reason(record.uuid) is not None:
            _uncancel()  # app.cancel() came after the outcome: the outcome stands
            return completion
        _uncancel()
        failed = crashed(worker, delivery, None, "raised CancelledError in its finishing hooks")
    except BaseException as exc:
        failed = crashed(worker, delivery, exc, "failed in its finishing hooks or events")
    failed.dead_letter = completion.dead_letter
    return failed


async def _run(
    worker: Worker, delivery: Delivery, schema: TaskSpec | None, begun: float
) -> tuple[Completion, TaskSpec | None]:
    """The task itself: hooks before, the executor, and the outcome of what it raised."""
    app, record = worker.app, delivery.record
    executor: TaskExecutor | None = None
    try:
        record, schema = await _before(worker, record, schema)
        if schema is None:
            raise TaskNotRegisteredError(
                f"Task {record.task_name!r} is not registered in app {app.name!r} "
                "(it was enqueued by name; define it in the worker's app)"
            )
        executor = _make_executor(worker, schema, record)
        try:
            value = await executor.execute()
        except TaskPluginTriggerError as exc:
            value = await _plugin_error_result(worker, executor, schema, exc)
        completion = Completion(delivery, outcome.success(record, value))
    except asyncio.CancelledError as exc:
        reason = worker.cancel_reason(record.uuid)
        if reason is not None:
            _uncancel()  # the cancellation was ours to turn into a record
            completion = Completion(delivery, outcome.cancelled(record, reason))
        elif cancelled_by_worker() and worker.stopping():
            raise  # shutdown: the worker releases the lease
        else:  # the task raised CancelledError, or cancelled itself: a failure like any other
            _uncancel()
            completion = await _failed(worker, schema, delivery, record, exc, begun)
    except BaseException as exc:
        # a plugin's HookAbort fails the task with the error it names as its cause
        cause = exc.__cause__ if isinstance(exc, HookAbort) and exc.__cause__ else exc
        completion = await _failed(worker, schema, delivery, record, cause, begun)
    finally:
        if executor is not None:
            await executor.close()
    return completion, schema


def cancelled_by_worker() -> bool:
    """True when someone called `cancel()` on the asyncio task running this delivery
    (the worker stopping, or `app.cancel()`), False when code merely raised
    CancelledError."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _uncancel() -> None:
    task = asyncio.current_task()
    if task is not None and task.cancelling() > 0:
        task.uncancel()


def crashed(worker: Worker, delivery: Delivery, exc: BaseException | None, what: str) -> Completion:
    """The safety net's completion when `what` went wrong around the task (`exc`, or
    None for a stray CancelledError): `error`, the exception rendered under a line
    saying where the handling failed, its frames dropped, and one log line."""
    record = delivery.record
    context = f"Task {record.task_name} ({record.uuid}) {what}"
    if exc is None:
        final = outcome.failure(record, asyncio.CancelledError(), context)
    else:
        final = outcome.failure(record, exc, context)
        outcome.drop_frames(exc)
    worker.log.error("%s: %s", context, "" if exc is None else outcome.describe_exception(exc))
    return Completion(delivery, final)


async def _before(
    worker: Worker, record: TaskRecord, schema: TaskSpec | None
) -> tuple[TaskRecord, TaskSpec | None]:
    """`worker_execute_before`, event `task_running`, `worker_run_task_before`: inside the
    task's try, so a plugin's `HookAbort` there fails this task alone."""
    hooks = worker.hooks
    if hooks.listens("worker_execute_before"):
        changes = await hooks.run(
            "worker_execute_before",
            worker=worker,
            task_broker=record,
            task_func=schema,
            model=record,
        )
        record = _merge_record(record, changes.get("model"))
    await worker.app.events.fire(
        "task_running", worker=worker, task_func=schema, task_broker=record
    )
    if hooks.listens("worker_run_task_before"):
        changes = await hooks.run(
            "worker_run_task_before", worker=worker, task_func=schema, task_broker=record
        )
        schema = changes.get("task_func", schema)
    return record, schema


def _make_executor(worker: Worker, schema: TaskSpec, record: TaskRecord) -> TaskExecutor:
    cls: type[TaskExecutor] = schema.executor or TaskExecutor
    return cls(
        schema,
        record,
        log=worker.executor_log,
        plugins=worker.hooks.tables["worker"],
        app=worker.app,
        pool=worker.pool,
        hooks=worker.hooks,
        injectors=worker.injectors_for(schema),
        resources=worker.resources,
        middlewares_before=[*schema.middlewares_before, *worker.app.middlewares_before],
        middlewares_after=[*schema.middlewares_after, *worker.app.middlewares_after],
    )


async def _plugin_error_result(
    worker: Worker, executor: TaskExecutor, schema: TaskSpec, exc: TaskPluginTriggerError
) -> Any:
    """`ctx.plugin_error(**kw)`: a plugin may answer with a result; else it is an error."""
    if worker.hooks.listens("task_executor_run_task_trigger_error"):
        changes = await worker.hooks.run(
            "task_executor_run_task_trigger_error",
            task_executor=executor,
            task_func=schema,
            task_broker=executor.record,
            e=exc,
        )
        if "result" in changes:
            executor._result = changes["result"]
            return await executor.decode()
    raise exc


async def _failed(
    worker: Worker,
    schema: TaskSpec | None,
    delivery: Delivery,
    record: TaskRecord,
    exc: BaseException,
    begun: float,
) -> Completion:
    if schema is not None and outcome.should_retry(schema, record, exc):
        cfg = worker.config
        attempt = int(schema.retry or 0) - outcome.retries_left(schema, record)
        delay = outcome.retry_delay(
            attempt,
            float(schema.extra.get("retry_backoff", cfg.retry_backoff)),
            float(schema.extra.get("retry_backoff_max", cfg.retry_backoff_max)),
            float(schema.extra.get("retry_jitter", cfg.retry_jitter)),
        )
        failed, child = outcome.retry_records(schema, record, exc, delay)
        if worker.hooks.listens("worker_task_error_retry"):
            changes = await worker.hooks.run(
                "worker_task_error_retry",
                broker=worker.backend,
                task_func=schema,
                task_broker=record,
                trace=failed.traceback,
                model=failed,
            )
            failed = _merge_record(failed, changes.get("model"))
        how = f"retry {attempt + 1}/{schema.retry} as {child.uuid} in {delay:.2f}s"
        task_log.failed(worker.log, record, failed, exc, time.monotonic() - begun, how)
        outcome.drop_frames(exc)
        return Completion(delivery, failed, [child])
    final = outcome.failure(record, exc)
    if final.status == ERROR:
        task_log.failed(worker.log, record, final, exc, time.monotonic() - begun)
    outcome.drop_frames(exc)
    return Completion(delivery, final)


async def _finish(
    worker: Worker, schema: TaskSpec | None, record: TaskRecord, completion: Completion
) -> Completion:
    final = completion.record
    events = worker.app.events
    event = _EVENT_FOR_STATUS.get(final.status, "task_error")
    await events.fire(event, worker=worker, task_func=schema, task_broker=record, model=final)
    await events.fire(
        "task_stopping", worker=worker, task_func=schema, task_broker=record, model=final
    )
    hooks = worker.hooks
    if hooks.listens("worker_remove_finished_task"):
        changes = await hooks.run(
            "worker_remove_finished_task",
            worker=worker,
            broker=worker.backend,
            task_func=schema,
            task_broker=record,
            model=final,
        )
        completion.record = _merge_record(final, changes.get("model"))
    if hooks.listens("worker_execute_after"):
        await hooks.run(
            "worker_execute_after",
            task_func=schema,
            task_broker=record,
            model=completion.record,
        )
    return completion


def _merge_record(record: TaskRecord, model: Any) -> TaskRecord:
    """A plugin's `model` may be a TaskRecord or a dict of fields/extra fields to set."""
    if model is None or model is record:
        return record
    if isinstance(model, TaskRecord):
        return model
    if isinstance(model, dict):
        names = {f.name for f in dataclasses.fields(TaskRecord)}
        known = {k: v for k, v in model.items() if k in names and k != "extra"}
        extra = dict(record.extra, **model.get("extra", {}))
        extra.update({k: v for k, v in model.items() if k not in names})
        return dataclasses.replace(record, **known, extra=extra, updated_at=time.time())
    return record


__all__ = ["cancelled_by_worker", "crashed", "run_delivery"]
