from __future__ import annotations

import logging

import pytest

from qtasks.configs import QueueConfig
from qtasks.exc import ConfigError

REFERENCE_DEFAULTS = {
    "max_tasks_process": 10,
    "running_older_tasks": False,
    "delete_finished_tasks": False,
    "task_default_priority": 0,
    "task_default_decode": None,
    "logs_default_level_server": logging.INFO,
    "logs_default_level_client": logging.INFO,
    "logs_format": "%(asctime)s [%(name)s: %(levelname)s] (%(subname)s) %(message)s",
    "result_time_interval": 1.0,
    "result_statuses_end": ["success", "error", "cancel"],
    "environ_prefix": "QTASKS_",
    "global_config_status_ttl": 20,
    "global_config_status_set_periodic": 17,
}


def test_reference_fields_and_defaults() -> None:
    cfg = QueueConfig()
    for name, default in REFERENCE_DEFAULTS.items():
        assert getattr(cfg, name) == default, name


def test_lists_are_not_shared_between_instances() -> None:
    a, b = QueueConfig(), QueueConfig()
    a.result_statuses_end.append("x")
    assert b.result_statuses_end == ["success", "error", "cancel"]


@pytest.mark.parametrize(
    ("var", "raw", "field", "expected"),
    [
        ("QTASKS_MAX_TASKS_PROCESS", "200", "max_tasks_process", 200),
        ("QTASKS_RUNNING_OLDER_TASKS", "yes", "running_older_tasks", True),
        ("QTASKS_DELETE_FINISHED_TASKS", "0", "delete_finished_tasks", False),
        ("QTASKS_RESULT_TIME_INTERVAL", "0.25", "result_time_interval", 0.25),
        (
            "QTASKS_RESULT_STATUSES_END",
            "success, error",
            "result_statuses_end",
            ["success", "error"],
        ),
        ("QTASKS_BROKER_URL", "memory://x", "broker_url", "memory://x"),
        ("QTASKS_BROKER_URL", "none", "broker_url", None),
        ("QTASKS_LEASE_TIMEOUT", "2", "lease_timeout", 2.0),
        ("QTASKS_GLOBAL_CONFIG_STATUS_TTL", "5", "global_config_status_ttl", 5),
        ("QTASKS_LOGS_FORMAT", "%(message)s", "logs_format", "%(message)s"),
    ],
)
def test_environment_overrides_are_typed(
    monkeypatch: pytest.MonkeyPatch, var: str, raw: str, field: str, expected: object
) -> None:
    monkeypatch.setenv(var, raw)
    value = getattr(QueueConfig(), field)
    assert value == expected and type(value) is type(expected)


def test_bad_environment_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QTASKS_MAX_TASKS_PROCESS", "ten")
    with pytest.raises(ConfigError, match="QTASKS_MAX_TASKS_PROCESS"):
        QueueConfig()
    monkeypatch.setenv("QTASKS_MAX_TASKS_PROCESS", "5")
    monkeypatch.setenv("QTASKS_RUNNING_OLDER_TASKS", "maybe")
    with pytest.raises(ConfigError, match="RUNNING_OLDER_TASKS"):
        QueueConfig()


def test_invalid_values_rejected() -> None:
    with pytest.raises(ConfigError):
        QueueConfig(max_tasks_process=0)
    with pytest.raises(ConfigError):
        QueueConfig(lease_timeout=0)


def test_subscribe_sees_fields_and_dynamic_fields() -> None:
    cfg = QueueConfig()
    seen: list[tuple[str, object]] = []
    cfg.subscribe(lambda c, k, v: seen.append((k, v)))
    cfg.max_tasks_process = 3
    cfg.my_setting = "x"
    assert seen == [("max_tasks_process", 3), ("my_setting", "x")]
    assert cfg.my_setting == "x"
    assert "my_setting" in cfg.as_dict()
    with pytest.raises(AttributeError):
        _ = cfg.missing_field


def test_class_level_ttl_fields_are_per_instance() -> None:
    a, b = QueueConfig(), QueueConfig()
    a.global_config_status_ttl = 99
    assert a.global_config_status_ttl == 99 and b.global_config_status_ttl == 20


def test_repr_shows_changes_only() -> None:
    assert repr(QueueConfig(max_tasks_process=3)) == "QueueConfig(max_tasks_process=3)"


def test_repr_never_shows_a_url_password() -> None:
    cfg = QueueConfig(broker_url="redis://user:secret@127.0.0.1:1/0", storage_url="sqlite:///x.db")
    assert "secret" not in repr(cfg) and "user:***@" in repr(cfg)
    assert cfg.broker_url == "redis://user:secret@127.0.0.1:1/0"  # the value itself is kept
