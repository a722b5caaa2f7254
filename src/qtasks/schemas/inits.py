from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass
class InitsExecSchema:
    """An event handler as registered on `app.events`."""

    name: str
    func: Callable[..., Any]
    awaiting: bool = False


__all__ = ["InitsExecSchema"]
