"""`qtasks.types` (QTasks 1.7): the type variables `P`, `R`, `T`, `TAsyncFlag`, defined
here because only code written for 1.7 uses them (qtasks' own modules declare their own)."""

from typing import Literal, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
TAsyncFlag = TypeVar("TAsyncFlag", Literal[True], Literal[False])

__all__ = ["P", "R", "T", "TAsyncFlag"]
