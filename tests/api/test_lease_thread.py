"""The worker's lease thread with backends that implement `extend_sync` in each of the
three ways: directly, through the portal (the generic fallback of
`qtasks.backends.base`), or not at all (the leases are then renewed on the loop). And
the registration, refreshed while the loop is blocked."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

import qtasks
from qtasks.backends.base import Delivery, PortalTwins
from qtasks.backends.memory import MemoryBackend
from qtasks.configs import QueueConfig
from qtasks.logs import Logger

LIMIT = 10.0


class CountingBackend(MemoryBackend):
    """memory:// that records on which thread the leases were renewed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.renewed_on: list[str] = []

    async def extend(self, deliveries: Sequence[Delivery], lease: float) -> None:
        self.renewed_on.append(threading.current_thread().name)
        await super().extend(deliveries, lease)

    def extend_sync(self, deliveries: Sequence[Delivery], lease: float) -> None:
        self.renewed_on.append(threading.current_thread().name)
        super().extend_sync(deliveries, lease)


class PortalRenewals(CountingBackend):
    """No direct twin: the portal's, as a backend built on `base.Backend` gets it."""

    def extend_sync(self, deliveries: Sequence[Delivery], lease: float) -> None:
        PortalTwins.extend_sync(self, deliveries, lease)


class LoopRenewals(CountingBackend):
    """No twins at all, like a third-party broker with an async client only."""

    def extend_sync(self, deliveries: Sequence[Delivery], lease: float) -> None:
        raise NotImplementedError

    def register_worker_sync(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        raise NotImplementedError


def _app(cls: type[CountingBackend], **config: Any) -> tuple[Any, CountingBackend]:
    name = f"lease-thread-{uuid.uuid4().hex[:8]}"
    cfg = QueueConfig(**config)
    backend = cls(f"memory://{name}", namespace=name, config=cfg, log=Logger(name))
    return qtasks.QueueTasks(name, broker=backend, config=cfg), backend


@pytest.mark.parametrize(
    ("cls", "thread"),
    [(CountingBackend, "qtasks-leases"), (PortalRenewals, "qtasks-portal")],
)
def test_the_lease_thread_renews_while_the_task_runs(
    cls: type[CountingBackend], thread: str
) -> None:
    app, backend = _app(cls, lease_timeout=0.3)

    @app.task
    def waits() -> str:
        time.sleep(0.8)
        return "done"

    with app.serve():
        assert waits.add_task(timeout=LIMIT).returning == "done"
    assert len(backend.renewed_on) >= 3, backend.renewed_on
    assert all(name.startswith(thread) for name in backend.renewed_on), backend.renewed_on


def test_without_twins_the_leases_are_renewed_on_the_loop() -> None:
    app, backend = _app(LoopRenewals, lease_timeout=0.3)

    @app.task
    def waits() -> str:
        time.sleep(0.8)
        return "done"

    with app.serve():
        assert waits.add_task(timeout=LIMIT).returning == "done"
        assert app.ping()  # the registration was refreshed on the loop too
    renewals = [n for n in backend.renewed_on if n != "MainThread"]
    assert len(renewals) >= 3, backend.renewed_on
    assert all(n.startswith(f"qtasks-{app.name}") for n in renewals), renewals  # the loop's thread


def test_the_registration_stays_fresh_while_the_loop_is_blocked() -> None:
    app, _ = _app(CountingBackend, lease_timeout=0.6)
    started = threading.Event()

    @app.task
    async def hog() -> None:
        started.set()
        time.sleep(2.0)  # blocks the worker's loop for more than three leases

    with app.serve():
        task = hog.add_task()
        assert started.wait(LIMIT)
        time.sleep(1.5)  # more than the registration's time to live (the lease)
        assert len(app.backend.live_workers_sync()) == 1
        assert app.wait(task.uuid, LIMIT).status == "success"
