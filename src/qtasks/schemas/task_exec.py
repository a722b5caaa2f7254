"""`TaskExecSchema`: everything the decorator knows about a task."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal


@dataclasses.dataclass
class TaskExecSchema:
    priority: int
    name: str
    func: Callable[..., Any]
    awaiting: bool = False
    generating: Literal["async", "sync", False] = False
    echo: bool = False
    max_time: float | None = None
    retry: int | None = None
    retry_on_exc: list[type[BaseException]] | None = None
    decode: Callable[[Any], Any] | None = None
    tags: list[str] | None = None
    description: str | None = None
    generate_handler: Callable[[Any], Any] | None = None
    executor: Any = None
    middlewares_before: list[Any] = dataclasses.field(default_factory=list)
    middlewares_after: list[Any] = dataclasses.field(default_factory=list)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(order=True)
class TaskPrioritySchema:
    """A fetched task as the executor sees it (priority is the only compared field)."""

    priority: int
    uuid: Any = dataclasses.field(compare=False)
    name: str = dataclasses.field(compare=False)
    args: list[Any] = dataclasses.field(compare=False, default_factory=list)
    kwargs: dict[str, Any] = dataclasses.field(compare=False, default_factory=dict)
    created_at: float = dataclasses.field(compare=False, default=0.0)
    updated_at: float = dataclasses.field(compare=False, default=0.0)


__all__ = ["TaskExecSchema", "TaskPrioritySchema"]
