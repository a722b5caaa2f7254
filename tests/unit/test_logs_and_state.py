from __future__ import annotations

import logging
from typing import Any

import pytest

import qtasks._state as state
from qtasks import QueueTasks
from qtasks.asyncio import QueueTasks as AsyncQueueTasks
from qtasks.configs import QueueConfig
from qtasks.logs import Logger


def test_logger_levels_are_per_app_name() -> None:
    a = Logger("app-a", default_level=logging.DEBUG)
    b = Logger("app-b", default_level=logging.ERROR)
    assert a.logger.level == logging.DEBUG and b.logger.level == logging.ERROR
    Logger("app-c", default_level=logging.CRITICAL)
    assert a.logger.level == logging.DEBUG


def test_logger_subname_and_format(capsys: pytest.CaptureFixture[str], root_handlers: Any) -> None:
    with root_handlers():  # nothing configured: qtasks prints its own lines
        log = Logger("fmt-app", "Main", logging.INFO, "%(name)s|%(subname)s|%(message)s")
        log.info("hello %s", "you")
        worker = log.with_subname("Worker")
        worker.warning("careful")
        worker.debug("hidden")
    err = capsys.readouterr().err.splitlines()
    assert err == ["qtasks.fmt-app|Main|hello you", "qtasks.fmt-app|Worker|careful"]


def test_update_logger() -> None:
    log = Logger("upd-app")
    assert log.update_logger(subname="X", default_level=logging.WARNING) is log
    assert log.subname == "X" and log.logger.level == logging.WARNING
    with pytest.raises(TypeError):
        log.update_logger(colour="red")


def test_set_state_and_aliases() -> None:
    app = QueueTasks("state-app", broker_url="memory://state")
    assert state.app_main is app
    assert state.logger_main is app.log and state.log_main is app.log
    other = AsyncQueueTasks("state-app-2", broker_url="memory://state")
    assert state.app_main is other
    app._set_state()
    assert state.app_main is app


def test_app_logger_follows_config_level() -> None:
    cfg = QueueConfig(logs_default_level_server=logging.WARNING)
    app = QueueTasks("lvl-app", broker_url="memory://", config=cfg)
    other = QueueTasks("lvl-other", broker_url="memory://")
    assert app.log.logger.level == logging.WARNING
    app.config.logs_default_level_server = logging.DEBUG
    assert app.log.logger.level == logging.DEBUG
    assert other.log.logger.level == logging.INFO


def test_components_share_the_app_config() -> None:
    app = QueueTasks("cfg-app", broker_url="memory://")
    assert app.backend.config is app.config
