from __future__ import annotations

import pytest

from qtasks import _state
from qtasks.registries.registry import TaskRegistry


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _isolate_cwd(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never write a default qtasks.db into the checkout, nor read the user's env."""
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    monkeypatch.delenv("QTASKS_BROKER_URL", raising=False)


@pytest.fixture(autouse=True)
def _isolate_globals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps and shared tasks created by a test never leak into the next one."""
    monkeypatch.setattr(_state, "app_main", _state.app_main)
    monkeypatch.setattr(_state, "logger_main", _state.logger_main)
    monkeypatch.setattr(_state, "log_main", _state.log_main)
    monkeypatch.setattr(TaskRegistry, "_tasks", dict(TaskRegistry._tasks))
    monkeypatch.setattr(TaskRegistry, "_handles", dict(TaskRegistry._handles))
