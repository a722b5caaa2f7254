"""`SyncChain`: a chain run with blocking calls (see `chains.base` for the rules)."""

from __future__ import annotations

from typing import Any

from qtasks.app.task import Task
from qtasks.registries.task import SyncTask
from qtasks.utils.tasks.chains.base import DEFAULT_TIMEOUT, BaseChain, Step, chain_flow


class SyncChain(BaseChain):
    def get(self, timeout: float = DEFAULT_TIMEOUT) -> list[Task | None]:
        """Run the calls in order; one entry per call (None where none ran or finished)."""
        flow = chain_flow(self.calls, timeout)
        try:
            step = next(flow)
            while True:
                result = _send(step)
                step = flow.send(result)
        except StopIteration as stop:
            return list(stop.value)


def _send(step: Step) -> Task | None:
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


__all__ = ["SyncChain"]
