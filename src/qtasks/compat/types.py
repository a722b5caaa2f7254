"""`qtasks.types` (QTasks 1.7): the type variables `P`, `R`, `T`, `TAsyncFlag`, defined
here because only code written for 1.7 uses them (qtasks' own modules declare their own)."""

from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

if TYPE_CHECKING:
    from qtasks.compat.registries import AsyncTask, SyncTask

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
TAsyncFlag = TypeVar("TAsyncFlag", Literal[True], Literal[False])
#: A task handle of either app (`qtasks.types.typing.TTask`).
TTask = TypeVar("TTask", "AsyncTask[Any, Any]", "SyncTask[Any, Any]")

#: QTasks 1.7's submodule paths beneath this module (`.annotations`, `.typing`)
#: import too: the compat finder serves them, and submodules need a `__path__`.
__path__: list[str] = []

__all__ = ["P", "R", "T", "TAsyncFlag", "TTask"]
