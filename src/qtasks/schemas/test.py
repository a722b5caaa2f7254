"""`TestConfig`: which components of an app a test keeps real."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class TestConfig:
    """True keeps the app's real component; False swaps in an in-memory one.

    A disabled broker/storage/global config means the app runs on `memory://`, so
    tasks still run without any server; a disabled worker means nothing executes.
    """

    __test__ = False  # not a pytest test class

    worker: bool = False
    broker: bool = False
    storage: bool = False
    global_config: bool = False
    plugins: bool = False

    @classmethod
    def full(cls) -> TestConfig:
        return cls(worker=True, broker=True, storage=True, global_config=True, plugins=True)

    @classmethod
    def only_worker(cls, plugins: bool = False) -> TestConfig:
        return cls(worker=True, plugins=plugins)

    @classmethod
    def only_broker(cls, plugins: bool = False) -> TestConfig:
        return cls(broker=True, plugins=plugins)

    @classmethod
    def full_broker(cls) -> TestConfig:
        return cls(broker=True, storage=True, global_config=True, plugins=True)


__all__ = ["TestConfig"]
