"""Chains of pre-built task calls: `SyncChain` (blocking) and `AsyncChain` (awaited).

The steps of a chain are written once (`chain_flow`); the two classes only send them.

A chain runs pre-built calls (`task(1, 2)`) one after another. Each waits for its
result within what is left of the chain's total timeout (a call's own `timeout`, if
smaller, bounds its step). From the second call on, the previous result's `returning`
is appended as the last positional argument. A step that does not succeed (error,
cancel, or no result in time) stops the chain: its entry holds what was read (a failed
Task, or None) and every later entry is None. A call not bound to a task is None and
also stops the chain.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Generator, Iterable
from typing import Any

from qtasks.app.task import Task
from qtasks.core.status import SUCCESS
from qtasks.core.steps import run_async, run_sync
from qtasks.exc import ArgumentTypeError
from qtasks.registries.task import AsyncTask, BaseTaskCls, SyncTask

#: Seconds a whole chain may take by default.
DEFAULT_TIMEOUT = 50.0


@dataclasses.dataclass
class Step:
    """Send `call` with these positional args and wait up to `timeout` seconds."""

    call: BaseTaskCls
    args: tuple[Any, ...]
    timeout: float

    @property
    def task_name(self) -> str:
        return str(self.call.task_name or self.call._task_deco.task_name)


ChainFlow = Generator[Step, "Task | None", "list[Task | None]"]


def chain_flow(calls: list[BaseTaskCls], timeout: float) -> ChainFlow:
    deadline = time.monotonic() + timeout
    results: list[Task | None] = [None] * len(calls)
    previous: Task | None = None
    for index, call in enumerate(calls):
        if call._task_deco is None:
            break
        args = tuple(call.args)
        if previous is not None:
            args = (*args, previous.returning)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        if call.timeout is not None:
            remaining = min(float(call.timeout), remaining)
        task = yield Step(call, args, remaining)
        results[index] = task
        if task is None or task.status != SUCCESS:
            break
        previous = task
    return results


class BaseChain:
    """Pre-built calls to run in order; see the module docs."""

    def __init__(self, *calls: BaseTaskCls | Iterable[BaseTaskCls]) -> None:
        flat: list[Any] = []
        for call in calls:
            if isinstance(call, (list, tuple)):
                flat.extend(call)
            else:
                flat.append(call)
        for call in flat:
            if not isinstance(call, BaseTaskCls):
                raise ArgumentTypeError(
                    f"A chain takes pre-built calls such as `my_task(1, 2)`, got {call!r}"
                )
        self.calls: list[BaseTaskCls] = flat

    def __len__(self) -> int:
        return len(self.calls)

    def __repr__(self) -> str:
        names = ", ".join(str(c.task_name) for c in self.calls)
        return f"<{type(self).__name__} [{names}]>"


class SyncChain(BaseChain):
    def get(self, timeout: float = DEFAULT_TIMEOUT) -> list[Task | None]:
        """Run the calls in order; one entry per call (None where none ran or finished)."""
        return list(run_sync(chain_flow(self.calls, timeout), _send_sync))


class AsyncChain(BaseChain):
    async def get(self, timeout: float = DEFAULT_TIMEOUT) -> list[Task | None]:
        """Run the calls in order; one entry per call (None where none ran or finished)."""
        return list(await run_async(chain_flow(self.calls, timeout), _send_async))


def _send_sync(step: Step) -> Task | None:
    call, deco = step.call, step.call._task_deco
    if isinstance(deco, SyncTask):
        return deco.add_task(
            *step.args,
            task_name=call.task_name,
            priority=call.priority,
            timeout=step.timeout,
            **call.kwargs,
        )
    # a call built from an async app's task: that app's blocking twin
    app: Any = deco.app
    result: Task | None = app._add_task_sync(
        step.task_name, step.args, dict(call.kwargs), priority=call.priority, timeout=step.timeout
    )
    return result


async def _send_async(step: Step) -> Task | None:
    call, deco = step.call, step.call._task_deco
    if isinstance(deco, AsyncTask):
        return await deco.add_task(
            *step.args,
            task_name=call.task_name,
            priority=call.priority,
            timeout=step.timeout,
            **call.kwargs,
        )
    # a call built from a sync app's task: that app's async twin
    app: Any = deco.app
    result: Task | None = await app._add_task_async(
        step.task_name, step.args, dict(call.kwargs), priority=call.priority, timeout=step.timeout
    )
    return result


__all__ = [
    "DEFAULT_TIMEOUT",
    "AsyncChain",
    "BaseChain",
    "ChainFlow",
    "Step",
    "SyncChain",
    "chain_flow",
]
