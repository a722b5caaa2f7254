"""Fencing and the delivery count, on every backend (see `qtasks.core.ports`).

A worker whose lease expired and was taken by another changes nothing with its late
calls; an expired lease nobody took is still its holder's. `attempts` counts the fetches
that were not given back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid

import pytest

from qtasks.backends import Backend, Completion, Delivery, TaskRecord
from qtasks.core.status import NEW, PROCESS, SUCCESS

from .conftest import lease_expiry

pytestmark = pytest.mark.anyio

SHORT = 0.3  # seconds: the lease that is left to expire


def record() -> TaskRecord:
    now = time.time()
    return TaskRecord(str(uuid.uuid4()), "t", 0, [1], {}, NEW, now, now)


def finished(d: Delivery, value: object) -> TaskRecord:
    """The final record a worker would write for `d` (a copy: `d` stays as fetched)."""
    return dataclasses.replace(d.record, status=SUCCESS, returning=value, updated_at=time.time())


async def lapse(backend: Backend) -> None:
    """Let a SHORT lease expire, and run the upkeep that requeues it where one does."""
    await asyncio.sleep(SHORT + 0.2)
    await backend.recover_expired("default")


async def taken_over(backend: Backend) -> tuple[TaskRecord, Delivery, Delivery]:
    """A fetches with a short lease that expires; then B fetches the same task."""
    lease_expiry(backend)
    r = record()
    await backend.enqueue([r])
    (a,) = await backend.fetch("default", 1, SHORT, "worker-a", 0)
    await lapse(backend)
    (b,) = await backend.fetch("default", 1, 30, "worker-b", 2.0)
    assert b.record.uuid == r.uuid and b.token != a.token
    return r, a, b


async def assert_still_bs(backend: Backend, r: TaskRecord) -> None:
    stored = await backend.get(r.uuid)
    assert stored is not None and stored.status == PROCESS and stored.attempts == 2
    assert (await backend.stats())["leased"] == 1
    await backend.recover_expired("default")
    assert await backend.fetch("default", 1, 30, "worker-c", 0) == []  # B's lease stands


async def test_a_stale_complete_changes_nothing(backend: Backend) -> None:
    r, a, b = await taken_over(backend)
    await backend.complete([Completion(a, finished(a, "from A"))])
    await assert_still_bs(backend, r)
    await backend.complete([Completion(b, finished(b, "from B"))])
    stored = await backend.get(r.uuid)
    assert stored is not None and stored.status == SUCCESS and stored.returning == "from B"
    assert (await backend.stats())["leased"] == 0


async def test_a_stale_complete_queues_no_follow_up(backend: Backend) -> None:
    r, a, _b = await taken_over(backend)
    child = record()
    await backend.complete([Completion(a, finished(a, None), [child])])
    assert await backend.get(child.uuid) is None
    await assert_still_bs(backend, r)


async def test_a_stale_ack_extend_and_release_change_nothing(backend: Backend) -> None:
    r, a, b = await taken_over(backend)
    await backend.ack([a])
    await assert_still_bs(backend, r)
    await backend.extend([a], 30)
    await assert_still_bs(backend, r)
    await backend.release([a])
    await assert_still_bs(backend, r)
    await backend.nack([a])
    await assert_still_bs(backend, r)
    await backend.complete([Completion(b, finished(b, 2))])
    stored = await backend.get(r.uuid)
    assert stored is not None and stored.status == SUCCESS and stored.returning == 2


async def test_b_keeps_its_lease_alive_after_a_stale_extend(backend: Backend) -> None:
    r, a, b = await taken_over(backend)
    await backend.extend([a], 30)
    await backend.extend([b], 1.0)
    await asyncio.sleep(1.2)  # B's lease ran out: A's extend did not renew it
    await backend.recover_expired("default")
    (c,) = await backend.fetch("default", 1, 30, "worker-c", 2.0)
    assert c.record.uuid == r.uuid and c.record.attempts == 3


async def test_an_expired_lease_nobody_took_is_still_the_holders(backend: Backend) -> None:
    r = record()
    await backend.enqueue([r])
    (a,) = await backend.fetch("default", 1, SHORT, "worker-a", 0)
    await lapse(backend)
    await backend.complete([Completion(a, finished(a, "late but mine"))])
    stored = await backend.get(r.uuid)
    assert stored is not None and stored.status == SUCCESS and stored.returning == "late but mine"
    await backend.recover_expired("default")
    assert await backend.fetch("default", 1, 30, "worker-b", 0) == []
    stats = await backend.stats()
    assert (stats["queued"], stats["leased"]) == (0, 0)


async def test_an_expired_lease_nobody_took_can_be_extended(backend: Backend) -> None:
    r = record()
    await backend.enqueue([r])
    (a,) = await backend.fetch("default", 1, SHORT, "worker-a", 0)
    await lapse(backend)
    await backend.extend([a], 30)
    await backend.recover_expired("default")
    assert await backend.fetch("default", 1, 30, "worker-b", 0) == []
    await backend.complete([Completion(a, finished(a, 1))])
    stored = await backend.get(r.uuid)
    assert stored is not None and stored.status == SUCCESS


# --- the delivery count --------------------------------------------------------------------
async def test_attempts_count_deliveries(backend: Backend) -> None:
    lease_expiry(backend)
    r = record()
    await backend.enqueue([r])
    (first,) = await backend.fetch("default", 1, SHORT, "worker-a", 0)
    assert first.record.attempts == 1
    stored = await backend.get(r.uuid)
    assert stored is not None and stored.attempts == 1
    await lapse(backend)  # the worker died: an expiry does not give the count back
    (second,) = await backend.fetch("default", 1, 30, "worker-b", 2.0)
    assert second.record.attempts == 2
    stored = await backend.get(r.uuid)
    assert stored is not None and stored.attempts == 2


async def test_release_gives_the_count_back(backend: Backend) -> None:
    r = record()
    await backend.enqueue([r])
    (d,) = await backend.fetch("default", 1, 30, "worker-a", 0)
    await backend.release([d])
    stored = await backend.get(r.uuid)
    assert stored is not None and stored.status == NEW and stored.attempts == 0
    (again,) = await backend.fetch("default", 1, 30, "worker-b", 0)
    assert again.record.attempts == 1


async def test_nack_gives_the_count_back(backend: Backend) -> None:
    r = record()
    await backend.enqueue([r])
    (d,) = await backend.fetch("default", 1, 30, "worker-a", 0)
    await backend.nack([d])
    (again,) = await backend.fetch("default", 1, 30, "worker-b", 1.0)
    assert again.record.uuid == r.uuid and again.record.attempts == 1
