"""The Redis driver: what a caller sees when the server cannot be reached."""

from __future__ import annotations

import uuid

import pytest

from qtasks.backends.redis import RedisBackend
from qtasks.backends.redis import driver as redis_backend
from qtasks.configs import QueueConfig
from qtasks.exc import BackendUnavailableError
from qtasks.logs import Logger


def make(url: str) -> RedisBackend:
    ns = f"rt-{uuid.uuid4().hex[:8]}"
    return RedisBackend(url, namespace=ns, config=QueueConfig(), log=Logger("redis-test"))


@pytest.mark.anyio
async def test_unreachable_server_is_backend_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_backend, "_RETRIES", 1)
    b = make(url="redis://127.0.0.1:1/0")
    with pytest.raises(BackendUnavailableError):
        await b.get("x")
    with pytest.raises(BackendUnavailableError):
        b.get_sync("x")
    await b.close()
