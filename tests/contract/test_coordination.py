"""Coordination (named leases, shared documents) on every backend, against the real
servers: one holder at a time, renewal by the holder, take-over after expiry, release
fenced by holder, documents shared between backend objects of one namespace and apart
between namespaces."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import pytest

from qtasks.backends import Backend
from qtasks.core.ports import Coordination

pytestmark = pytest.mark.anyio


def coordination(backend: Backend) -> Coordination:
    assert backend.capabilities.coordination, f"{type(backend).__name__} lacks coordination"
    assert isinstance(backend, Coordination)
    return backend


async def test_one_holder_at_a_time_and_renewal(make_backend: Callable[..., Backend]) -> None:
    a, b = coordination(make_backend()), coordination(make_backend())
    name = f"leader-{uuid.uuid4().hex[:6]}"
    before = time.time()
    clock = await a.acquire_lease(name, "A", 30)
    assert clock is not None
    assert abs(clock - before) < 5  # the deciding clock is a wall clock in epoch seconds
    assert await b.acquire_lease(name, "B", 30) is None
    assert await a.acquire_lease(name, "A", 30) is not None  # a renewal
    assert await b.lease_holder(name) == "A"
    await b.release_lease(name, "B")  # not B's: left alone
    assert await a.lease_holder(name) == "A"
    await a.release_lease(name, "A")
    assert await a.lease_holder(name) is None
    assert await b.acquire_lease(name, "B", 30) is not None
    assert await a.lease_holder(name) == "B"
    await b.release_lease(name, "B")


async def test_an_expired_lease_is_taken_over(make_backend: Callable[..., Backend]) -> None:
    a, b = coordination(make_backend()), coordination(make_backend())
    name = f"leader-{uuid.uuid4().hex[:6]}"
    assert await a.acquire_lease(name, "A", 0.5) is not None
    assert await b.acquire_lease(name, "B", 0.5) is None
    await asyncio.sleep(0.8)
    assert await a.lease_holder(name) is None
    assert await b.acquire_lease(name, "B", 30) is not None
    assert await a.acquire_lease(name, "A", 30) is None  # A lost it: no renewal
    await b.release_lease(name, "B")


async def test_racing_acquirers_one_wins(make_backend: Callable[..., Backend]) -> None:
    name = f"race-{uuid.uuid4().hex[:6]}"
    contenders = [coordination(make_backend()) for _ in range(5)]
    won = await asyncio.gather(
        *(c.acquire_lease(name, f"H{i}", 30) for i, c in enumerate(contenders))
    )
    assert sum(w is not None for w in won) == 1
    winner = next(i for i, w in enumerate(won) if w is not None)
    assert await contenders[0].lease_holder(name) == f"H{winner}"
    await contenders[winner].release_lease(name, f"H{winner}")


async def test_documents_are_shared_within_a_namespace(
    make_backend: Callable[..., Backend],
) -> None:
    a, b = coordination(make_backend()), coordination(make_backend())
    other = coordination(make_backend(f"other-{uuid.uuid4().hex[:8]}"))
    col = f"schedules-{uuid.uuid4().hex[:6]}"
    doc = {"cron": "*/5 * * * *", "args": [1, "x"], "kwargs": {"k": None}, "paused": False}
    await a.put_document(col, "report", doc)
    await a.put_document(col, "poll", {"every": 30.5})
    assert await b.get_document(col, "report") == doc
    assert await b.get_document(col, "nope") is None
    assert await b.list_documents(col) == {"report": doc, "poll": {"every": 30.5}}
    assert await other.list_documents(col) == {}
    assert await other.get_document(col, "report") is None
    await b.put_document(col, "report", {**doc, "paused": True})  # replaced whole
    assert (await a.get_document(col, "report")) == {**doc, "paused": True}
    assert await a.list_documents(f"{col}-empty") == {}
    assert await b.delete_document(col, "report") is True
    assert await b.delete_document(col, "report") is False
    assert await a.list_documents(col) == {"poll": {"every": 30.5}}
    assert await a.delete_document(col, "poll") is True
