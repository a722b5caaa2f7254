"""A driver's own exception never reaches the user: an unreachable server or an unusable
file is `BackendUnavailableError` naming where (no password), anything else from the
driver is `BackendError`; the driver's error is kept as `__cause__`."""

from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path

import pytest
import redis.exceptions

from qtasks.backends import Backend, create_backend
from qtasks.backends.redis import driver as redis_driver
from qtasks.configs import QueueConfig
from qtasks.exc import BackendError, BackendUnavailableError
from qtasks.logs import Logger

pytestmark = pytest.mark.anyio

REDIS_URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def make(url: str) -> Backend:
    ns = f"errors-{uuid.uuid4().hex[:8]}"
    return create_backend(url, namespace=ns, config=QueueConfig(), log=Logger("errors"))


async def test_redis_down_names_the_url_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redis_driver, "_RETRIES", 1)
    backend = make("redis://:secret@127.0.0.1:1/0")
    try:
        with pytest.raises(BackendUnavailableError) as async_error:
            await backend.get("x")
        with pytest.raises(BackendUnavailableError) as sync_error:
            backend.get_sync("x")
        for error in (async_error.value, sync_error.value):
            assert "redis://:***@127.0.0.1:1/0" in str(error)
            assert "secret" not in str(error)
            assert isinstance(error.__cause__, redis.exceptions.ConnectionError)
    finally:
        await backend.close()


async def test_redis_other_errors_are_backend_errors() -> None:
    backend = make(REDIS_URL)
    raw = redis.Redis.from_url(REDIS_URL)
    try:
        key = f"qtasks:{{{backend.namespace}}}:gc:wrong"
        raw.set(key, "a string, not a hash")
        with pytest.raises(BackendError) as error:
            await backend.settings_get_all("wrong")  # type: ignore[attr-defined]
        assert not isinstance(error.value, BackendUnavailableError)
        assert isinstance(error.value.__cause__, redis.exceptions.ResponseError)
    finally:
        raw.delete(key)
        raw.close()
        await backend.close()


async def test_sqlite_path_under_a_file_names_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    path = blocker / "qtasks.db"
    backend = make(f"sqlite:///{path}")
    try:
        with pytest.raises(BackendUnavailableError) as async_error:
            await backend.get("x")
        with pytest.raises(BackendUnavailableError) as sync_error:
            backend.get_sync("x")
        for error in (async_error.value, sync_error.value):
            assert str(path) in str(error)
            assert isinstance(error.__cause__, OSError)
    finally:
        await backend.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
async def test_sqlite_in_a_directory_without_write_permission(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    path = locked / "qtasks.db"
    backend = make(f"sqlite:///{path}")
    try:
        with pytest.raises(BackendUnavailableError, match=str(path)) as error:
            await backend.enqueue([])
            await backend.get("x")
        assert isinstance(error.value.__cause__, (sqlite3.Error, OSError))
    finally:
        locked.chmod(0o700)
        await backend.close()


async def test_sqlite_path_that_is_a_directory_cannot_be_opened(tmp_path: Path) -> None:
    path = tmp_path / "a-directory.db"
    path.mkdir()
    backend = make(f"sqlite:///{path}")
    try:
        with pytest.raises(BackendUnavailableError, match=str(path)) as error:
            backend.get_sync("x")
        assert isinstance(error.value.__cause__, sqlite3.OperationalError)
    finally:
        await backend.close()


async def test_sqlite_other_errors_are_backend_errors(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not an SQLite database file" * 100)
    backend = make(f"sqlite:///{path}")
    try:
        with pytest.raises(BackendError, match=str(path)) as error:
            await backend.get("x")
        assert not isinstance(error.value, BackendUnavailableError)
        assert isinstance(error.value.__cause__, sqlite3.DatabaseError)
    finally:
        await backend.close()


@pytest.mark.parametrize(
    "url",
    ["redis://127.0.0.1:6379/abc", "redis://:secret@127.0.0.1:99999/0", "redis://h:6379/0/1"],
)
def test_a_malformed_redis_url_is_a_config_error_without_its_password(url: str) -> None:
    import qtasks
    from qtasks.exc import ConfigError

    with pytest.raises(ConfigError, match="Invalid Redis URL") as error:
        qtasks.QueueTasks("bad-url", broker_url=url)
    assert "secret" not in str(error.value)
