"""The backend contract fixture: one suite, every backend, real servers.

Each backend gets a fresh namespace per test, so tests never see each other's data.
Redis runs against the local server (REDIS_URL, default redis://127.0.0.1:6379/15),
PostgreSQL against the local one (QTASKS_TEST_PG_URL, default database `test`).
"paired" is a memory backend used as the broker with an SQLite result store
(`create_backend(url, storage_url=...)`, see `qtasks.backends.paired`). NATS runs against
the local server (QTASKS_TEST_NATS_URL, default nats://127.0.0.1:4222), whole ("nats")
and as the broker of an SQLite result store ("nats-sqlite"); each test deletes its
streams and buckets. "amqp" is the RabbitMQ broker on a vhost of this run (the
`amqp_url` fixture) with its records in Redis.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from qtasks.backends import Backend, create_backend
from qtasks.configs import QueueConfig
from qtasks.logs import Logger

REDIS_URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

PG_URL = os.environ.get("QTASKS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
NATS_URL = os.environ.get("QTASKS_TEST_NATS_URL", "nats://127.0.0.1:4222")

BACKENDS = ["memory", "sqlite", "redis", "postgres", "paired", "nats", "nats-sqlite", "amqp"]
#: kind -> the kind of its separate result store
STORES = {"paired": "sqlite", "nats-sqlite": "sqlite"}


def requires(backend: Backend, capability: str, why: str) -> None:
    """Skip the calling test, saying so, where `backend` does not declare `capability`."""
    if not getattr(backend.capabilities, capability):
        pytest.skip(f"{type(backend).__name__} does not declare {capability}: {why}")


def lease_expiry(backend: Backend) -> None:
    """Skip where leases do not expire: they are held by the consumer's connection."""
    if backend.capabilities.connection_leases:
        pytest.skip(
            "leases are held by the consumer's connection: none expires while its holder "
            "is connected, so there is no expired lease to take over or fence"
        )


def backend_url(kind: str, tmp_path: object) -> str:
    if kind in ("memory", "paired"):
        return f"memory://contract-{uuid.uuid4().hex[:8]}"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/contract.db"
    if kind == "redis":
        return REDIS_URL
    if kind == "postgres":
        return PG_URL
    if kind in ("nats", "nats-sqlite"):
        return NATS_URL
    raise AssertionError(kind)


@pytest.fixture(params=BACKENDS)
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_backend(
    backend_kind: str, tmp_path: object, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[..., Backend]]:
    """Build backends of the parametrised kind; same namespace -> same data."""
    if backend_kind == "amqp":
        url, storage_url = request.getfixturevalue("amqp_url"), REDIS_URL
    else:
        url = backend_url(backend_kind, tmp_path)
        store = STORES.get(backend_kind)
        storage_url = backend_url(store, tmp_path) if store else None
    default_ns = f"contract-{uuid.uuid4().hex[:8]}"
    made: list[Backend] = []

    def make(namespace: str | None = None, **config: object) -> Backend:
        cfg = QueueConfig()
        for key, value in config.items():
            setattr(cfg, key, value)
        backend = create_backend(
            url,
            namespace=namespace or default_ns,
            config=cfg,
            log=Logger("contract"),
            storage_url=storage_url,
        )
        made.append(backend)
        return backend

    make.made = made  # type: ignore[attr-defined]
    yield make
    for backend in made:
        # NATS: delete the test's streams and buckets (a pair's are its broker's)
        drop = getattr(getattr(backend, "broker", backend), "drop", None)
        if drop is not None:
            await drop()
            await backend.close()


@pytest.fixture
async def backend(make_backend: Callable[..., Backend]) -> AsyncIterator[Backend]:
    b = make_backend()
    yield b
    await b.purge()
    for made in make_backend.made:  # type: ignore[attr-defined]
        await made.close()
