"""qtasks' logging inside a host's logging configuration.

pytest puts handlers on the root logger while a test runs, so a test that needs
"nothing configured" swaps the root's handlers inside its body (`root_handlers`).
"""

from __future__ import annotations

import io
import logging
import uuid
from typing import Any

import pytest

from qtasks import QueueTasks
from qtasks.logs import Logger


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


# --- levels ------------------------------------------------------------------------------------


def test_a_second_logger_keeps_the_level_of_the_first() -> None:
    name = unique("lvl")
    first = Logger(name, default_level=logging.DEBUG)
    Logger(name, "Other", default_level=logging.ERROR)
    assert first.logger.level == logging.DEBUG
    first.with_subname("Worker", default_level=logging.CRITICAL)
    first.update_logger(subname="Renamed")
    assert first.logger.level == logging.DEBUG


def test_an_app_keeps_a_level_the_user_set() -> None:
    name = unique("user-lvl")
    logging.getLogger(f"qtasks.{name}").setLevel(logging.WARNING)
    app = QueueTasks(name, broker_url="memory://")
    QueueTasks(name, broker_url="memory://")  # a client app of the same name
    assert app.log.logger.level == logging.WARNING
    app.config.logs_default_level_server = logging.DEBUG  # an explicit change still applies
    assert app.log.logger.level == logging.DEBUG


def test_a_level_on_the_qtasks_logger_applies_to_every_app() -> None:
    logging.getLogger("qtasks").setLevel(logging.ERROR)
    app = QueueTasks(unique("tree-lvl"), broker_url="memory://")
    assert app.log.logger.level == logging.NOTSET
    assert app.log.logger.getEffectiveLevel() == logging.ERROR


def test_one_apps_level_never_changes_another() -> None:
    one = QueueTasks(unique("one"), broker_url="memory://")
    two = QueueTasks(unique("two"), broker_url="memory://")
    one.config.logs_default_level_server = logging.ERROR
    assert two.log.logger.level == logging.INFO
    assert logging.getLogger("qtasks").level == logging.NOTSET


# --- where records go --------------------------------------------------------------------------


def test_caplog_sees_app_records_with_their_arguments(caplog: pytest.LogCaptureFixture) -> None:
    app = QueueTasks(unique("cap"), broker_url="memory://")
    app.log.with_subname("Worker").info("Started %s with %d slots", "w1", 4)
    [record] = [r for r in caplog.records if r.name == f"qtasks.{app.name}"]
    assert record.msg == "Started %s with %d slots" and record.args == ("w1", 4)
    assert record.getMessage() == "Started w1 with 4 slots"
    assert record.subname == "Worker"  # type: ignore[attr-defined]
    assert record.levelno == logging.INFO


def test_caplog_sees_the_worker_start_up_line(caplog: pytest.LogCaptureFixture) -> None:
    app = QueueTasks(unique("cap-worker"), broker_url="memory://")
    with app.serve():
        pass
    assert any("Starting app" in r.getMessage() for r in caplog.records)


def test_a_root_handler_gets_each_line_once(
    capsys: pytest.CaptureFixture[str], root_handlers: Any
) -> None:
    out = io.StringIO()
    host = logging.StreamHandler(out)
    host.setFormatter(logging.Formatter("%(name)s %(subname)s %(message)s"))
    with root_handlers(host):
        app = QueueTasks(unique("root"), broker_url="memory://")
        app.log.info("hello %s", "host")
    assert lines(out) == [f"qtasks.{app.name} QueueTasks hello host"]
    assert capsys.readouterr().err == ""


def test_logging_configured_after_the_app_gets_no_duplicates(
    capsys: pytest.CaptureFixture[str],
    root_handlers: Any,
) -> None:
    out = io.StringIO()
    with root_handlers():
        app = QueueTasks(unique("late"), broker_url="memory://", log=None)
        app.log.info("before")
        logging.getLogger().addHandler(logging.StreamHandler(out))
        app.log.info("after")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].endswith("(QueueTasks) before")
    assert lines(out) == ["after"]


def test_qtasks_prints_its_own_lines_when_nothing_is_configured(
    capsys: pytest.CaptureFixture[str],
    root_handlers: Any,
) -> None:
    with root_handlers():
        log = Logger(unique("alone"), "Main", format="%(subname)s|%(message)s")
        log.warning("careful %s", "now")
        log.debug("hidden")
    assert capsys.readouterr().err.splitlines() == ["Main|careful now"]


def test_a_handler_on_the_qtasks_logger_counts_as_configured(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, root_handlers: Any
) -> None:
    out = io.StringIO()
    tree = logging.getLogger("qtasks")
    handler = logging.StreamHandler(out)
    monkeypatch.setattr(tree, "handlers", [handler])
    with root_handlers():
        log = Logger(unique("tree"))
        log.info("once")
    assert lines(out) == ["once"]
    assert capsys.readouterr().err == ""


def test_nested_app_names_print_once(
    capsys: pytest.CaptureFixture[str], root_handlers: Any
) -> None:
    parent = unique("outer")
    with root_handlers():
        Logger(parent, format="%(name)s %(message)s")
        child = Logger(f"{parent}.inner", format="%(name)s %(message)s")
        child.info("one line")
    assert capsys.readouterr().err.splitlines() == [f"qtasks.{parent}.inner one line"]
