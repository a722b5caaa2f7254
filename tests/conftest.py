from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _isolate_cwd(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never write a default qtasks.db into the checkout, nor read the user's env."""
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    monkeypatch.delenv("QTASKS_BROKER_URL", raising=False)
