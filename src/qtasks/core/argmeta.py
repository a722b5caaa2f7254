from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class ArgMeta:
    """One argument of a task call, as plugins that rewrite arguments see it."""

    name: str
    value: Any
    origin: Any
    raw_type: Any
    annotation: Any
    is_kwarg: bool
    index: int | None = None
    key: str | None = None


__all__ = ["ArgMeta"]
