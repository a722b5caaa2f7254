"""`qtasks.schemas.global_config` (QTasks 1.7): `GlobalConfigSchema`, an app's name and
status as published in the global config. Defined here: nothing of qtasks uses it."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class GlobalConfigSchema:
    name: str = ""
    status: str = ""


__all__ = ["GlobalConfigSchema"]
