"""Type variables of the public API."""

from typing import Literal, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
TAsyncFlag = TypeVar("TAsyncFlag", Literal[True], Literal[False])

__all__ = ["P", "R", "T", "TAsyncFlag"]
