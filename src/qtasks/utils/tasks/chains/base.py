"""The steps of a chain, written once; `SyncChain` and `AsyncChain` only send them.

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
from qtasks.enums import TaskStatusEnum
from qtasks.exc import ArgumentTypeError
from qtasks.registries.task import BaseTaskCls

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
        if task is None or task.status != TaskStatusEnum.SUCCESS.value:
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


__all__ = ["DEFAULT_TIMEOUT", "BaseChain", "ChainFlow", "Step", "chain_flow"]
