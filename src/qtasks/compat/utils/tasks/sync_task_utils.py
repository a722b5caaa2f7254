"""`qtasks.utils.tasks.sync_task_utils` (QTasks 1.7): `SyncTaskUtils`, whose `chain()`
builds a `qtasks.chains.SyncChain`. Defined here: only 1.7 code calls it."""

from __future__ import annotations

from collections.abc import Iterable

from qtasks.chains import SyncChain
from qtasks.registries.task import BaseTaskCls


class SyncTaskUtils:
    @staticmethod
    def chain(*calls: BaseTaskCls | Iterable[BaseTaskCls]) -> SyncChain:
        """`SyncTaskUtils.chain(add(1, 2), double()).get(timeout=10)`: run the calls in
        order, each receiving the previous result as its last positional argument."""
        return SyncChain(*calls)


__all__ = ["SyncTaskUtils"]
