"""Every backend declares what it can do, truthfully."""

from __future__ import annotations

import pytest

from qtasks.backends import Backend
from qtasks.core import ports
from qtasks.core.ports import Capabilities

pytestmark = pytest.mark.anyio

# priorities, delays, push, atomic_completion, cancel_queued, shared_settings, worker_registry
EXPECTED = {
    "memory": Capabilities(True, True, True, True, True, False, True),
    "sqlite": Capabilities(True, True, False, True, True, False, True),
    "redis": Capabilities(True, True, True, True, True, True, True),
    # memory broker + SQLite store: the store polls, completion is two steps
    "paired": Capabilities(True, True, False, False, True, False, True),
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
    assert isinstance(backend, ports.SharedSettings) == caps.shared_settings


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
