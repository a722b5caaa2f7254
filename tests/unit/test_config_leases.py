"""The config fields of the lease thread and the stuck-thread bound."""

from __future__ import annotations

import pytest

from qtasks.configs import QueueConfig
from qtasks.exc import ConfigError


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = QueueConfig()
    assert (config.loop_block_warning, config.max_stuck_threads) == (1.0, None)
    monkeypatch.setenv("QTASKS_LOOP_BLOCK_WARNING", "0")
    monkeypatch.setenv("QTASKS_MAX_STUCK_THREADS", "3")
    config = QueueConfig()
    assert (config.loop_block_warning, config.max_stuck_threads) == (0.0, 3)
    monkeypatch.setenv("QTASKS_MAX_STUCK_THREADS", "none")
    assert QueueConfig().max_stuck_threads is None


@pytest.mark.parametrize(
    ("field", "value"), [("loop_block_warning", -1.0), ("max_stuck_threads", -1)]
)
def test_negative_values_are_refused_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=field):
        QueueConfig(**{field: value})
