"""`qtasks.utils.tasks.async_task_utils` (QTasks 1.7): `AsyncTaskUtils`, whose `chain()`
builds a `qtasks.chains.AsyncChain`. Defined here: only 1.7 code calls it."""

from __future__ import annotations

from collections.abc import Iterable

from qtasks.chains import AsyncChain
from qtasks.registries.task import BaseTaskCls


class AsyncTaskUtils:
    @staticmethod
    def chain(*calls: BaseTaskCls | Iterable[BaseTaskCls]) -> AsyncChain:
        """`await AsyncTaskUtils.chain(add(1, 2), double()).get(timeout=10)`: run the
        calls in order, each receiving the previous result as its last positional
        argument."""
        return AsyncChain(*calls)


__all__ = ["AsyncTaskUtils"]
