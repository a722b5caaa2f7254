"""`SyncTaskUtils`: helpers over pre-built calls for the sync app."""

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
