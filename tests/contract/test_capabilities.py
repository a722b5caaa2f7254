"""Every backend declares what it can do, truthfully."""

from __future__ import annotations

import pytest

from qtasks.backends import Backend
from qtasks.core import ports
from qtasks.core.ports import Capabilities

pytestmark = pytest.mark.anyio

_ALL = {
    "priorities": True,
    "delays": True,
    "atomic_completion": True,
    "cancel_queued": True,
    "inspection": True,
    "coordination": True,
}
EXPECTED = {
    "memory": Capabilities(**_ALL, push=True, dead_letters=True, worker_registry=True),
    "sqlite": Capabilities(**_ALL, dead_letters=True, worker_registry=True),
    "redis": Capabilities(
        **_ALL, push=True, dead_letters=True, shared_settings=True, worker_registry=True
    ),
    "postgres": Capabilities(
        **_ALL, push=True, dead_letters=True, worker_registry=True, transactional_enqueue=True
    ),
    # memory broker + SQLite store: the store polls, completion is two steps, dead
    # letters are the broker's
    "paired": Capabilities(
        **{**_ALL, "atomic_completion": False}, dead_letters=True, worker_registry=True
    ),
    # JetStream broker + key-value store: pushed both ways, completion is two steps
    "nats": Capabilities(
        **{**_ALL, "atomic_completion": False}, push=True, dead_letters=True, worker_registry=True
    ),
    # JetStream broker + SQLite store: the store polls; cancelling is the whole NATS
    # backend's (it writes the record), the broker alone keeps no dead letters of its
    # own through a pair, and the registry is the store's
    "nats-sqlite": Capabilities(
        priorities=True,
        delays=True,
        dead_letters=False,
        worker_registry=True,
        inspection=True,
        coordination=True,
    ),
    # RabbitMQ broker + Redis store: no cancel of queued messages, leases held by the
    # consumer's connection, the worker registry is the store's
    "amqp": Capabilities(
        priorities=True,
        delays=True,
        push=True,
        dead_letters=True,
        worker_registry=True,
        connection_leases=True,
        inspection=True,
        coordination=True,
    ),
}


async def test_capabilities_as_declared(backend: Backend, backend_kind: str) -> None:
    caps = backend.capabilities
    assert caps == EXPECTED[backend_kind]
    assert isinstance(backend, ports.Backend)
    assert backend.pushes == caps.push
    if caps.cancel_queued:
        assert isinstance(backend, ports.CancelQueued)
    if caps.worker_registry:
        assert isinstance(backend, ports.WorkerRegistry)
    if caps.dead_letters:
        assert isinstance(backend, ports.DeadLetters)
    assert isinstance(backend, ports.SharedSettings) == caps.shared_settings
    assert isinstance(backend, ports.TransactionalEnqueue) == caps.transactional_enqueue
    if caps.inspection:
        assert isinstance(backend, ports.Inspection)
    if caps.coordination:
        assert isinstance(backend, ports.Coordination)


async def test_shared_settings_where_declared(backend: Backend) -> None:
    if not backend.capabilities.shared_settings:
        assert not hasattr(backend, "settings_set")
        return
    assert isinstance(backend, ports.SharedSettings)
    await backend.settings_set("limits", "rate", "10")
    await backend.settings_set("limits", "burst", 3)
    assert await backend.settings_get("limits", "rate") == "10"
    assert backend.settings_get_sync("limits", "burst") == "3"
    assert await backend.settings_get_all("limits") == {"rate": "10", "burst": "3"}
    assert backend.settings_get_match_sync("lim*") == {"limits": {"rate": "10", "burst": "3"}}
