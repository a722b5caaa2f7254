from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class GlobalConfigSchema:
    name: str = ""
    status: str = ""


__all__ = ["GlobalConfigSchema"]
