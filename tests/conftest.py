from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

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


@pytest.fixture(autouse=True)
def _isolate_log_levels() -> Iterator[None]:
    """A level set on a `qtasks` logger (by a test or an app it built) ends with the test:
    qtasks applies its default level only to a logger nobody has set."""
    before = _qtasks_levels()
    yield
    for name, level in _qtasks_levels().items():
        if level != before.get(name, logging.NOTSET):
            logging.getLogger(name).setLevel(before.get(name, logging.NOTSET))


def _qtasks_levels() -> dict[str, int]:
    return {
        name: logger.level
        for name, logger in list(logging.root.manager.loggerDict.items())
        if isinstance(logger, logging.Logger) and (name == "qtasks" or name.startswith("qtasks."))
    }


@contextlib.contextmanager
def _root_handlers(*handlers: logging.Handler) -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = list(handlers)
    try:
        yield
    finally:
        root.handlers[:] = saved


@pytest.fixture
def root_handlers() -> Callable[..., contextlib.AbstractContextManager[None]]:
    """`with root_handlers(*handlers):` gives the root logger exactly these handlers
    (none: logging is unconfigured) for the block. pytest puts its own handlers on the
    root at the start of each test phase, so this must run inside the test body."""
    return _root_handlers


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """A RabbitMQ vhost of this test run (QTASKS_TEST_AMQP_URL, or one made with
    rabbitmqctl on the local server for guest and deleted at the end)."""
    import os
    import subprocess
    import uuid

    given = os.environ.get("QTASKS_TEST_AMQP_URL")
    if given:
        yield given
        return
    vhost = f"qtasks-test-{uuid.uuid4().hex[:8]}"

    def ctl(*args: str) -> None:
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)

    ctl("add_vhost", vhost)
    try:
        ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        ctl("delete_vhost", vhost)
