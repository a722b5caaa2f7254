from __future__ import annotations

import sys
import time

import pytest

from qtasks.backends import TaskRecord, backend_class, resolve_url
from qtasks.configs import QueueConfig
from qtasks.core import policy as outcome
from qtasks.exc import ConfigError, MissingDriverError, TaskCancelError
from qtasks.registries.build import build_schema


def rec(**extra: object) -> TaskRecord:
    now = time.time()
    return TaskRecord("u1", "t", 0, [1], {}, "process", now, now, extra=dict(extra))


def f(x: int) -> int:
    return x


def test_build_schema_stores_every_option() -> None:
    s = build_schema(
        f,
        "name",
        4,
        dict(
            echo=True,
            max_time=2,
            retry=3,
            retry_on_exc=[KeyError],
            tags=["a"],
            description="d",
            custom=1,
        ),
    )
    assert (s.name, s.priority, s.echo, s.max_time, s.retry) == ("name", 4, True, 2, 3)
    assert s.retry_on_exc == [KeyError] and s.tags == ["a"] and s.description == "d"
    assert s.extra == {"custom": 1} and s.awaiting is False and s.generating is False


@pytest.mark.parametrize("bad", ["", "   ", 3])
def test_bad_names(bad: object) -> None:
    with pytest.raises(ValueError, match="non-empty string"):
        build_schema(f, bad, 0, {})  # type: ignore[arg-type]


def test_not_a_function() -> None:
    with pytest.raises(TypeError, match="needs a function"):
        build_schema(None, "x", 0, {})  # type: ignore[arg-type]


def test_retry_rules() -> None:
    s = build_schema(f, None, 0, {"retry": 2, "retry_on_exc": [LookupError]})
    assert outcome.should_retry(s, rec(), KeyError("x"))  # subclass matches
    assert not outcome.should_retry(s, rec(), ValueError("x"))
    assert not outcome.should_retry(s, rec(), TaskCancelError("x"))
    assert not outcome.should_retry(s, rec(retry=0), KeyError("x"))
    failed, child = outcome.retry_records(s, rec(), KeyError("x"), delay=0)
    assert failed.status == "retry" and failed.extra["retry"] == 2
    assert failed.extra["retry_child_uuid"] == child.uuid
    assert child.extra == {"retry": 1, "retry_parent_uuid": "u1"} and child.status == "new"


def test_backoff_grows_and_is_capped() -> None:
    delays = [outcome.retry_delay(n, 1.0, 10.0, 0.0) for n in range(6)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    jittered = outcome.retry_delay(1, 1.0, 10.0, 0.5)
    assert 1.0 <= jittered <= 3.0
    assert outcome.retry_delay(3, 0.0, 10.0, 0.5) == 0.0


def test_cancel_and_error_outcomes() -> None:
    assert outcome.failure(rec(), TaskCancelError("bye")).extra["cancel_reason"] == "bye"
    err = outcome.failure(rec(), ValueError("boom"))
    assert err.status == "error" and "ValueError: boom" in (err.traceback or "")


def test_backend_urls() -> None:
    assert resolve_url(None, QueueConfig()) == "sqlite:///qtasks.db"
    assert resolve_url(None, QueueConfig(broker_url="memory://")) == "memory://"
    assert resolve_url("sqlite:///x.db", QueueConfig(broker_url="memory://")) == "sqlite:///x.db"
    with pytest.raises(ConfigError, match="scheme"):
        backend_class("localhost:6379")
    with pytest.raises(ConfigError, match="No backend"):
        backend_class("kafka://x")


@pytest.mark.parametrize(
    ("driver", "url", "extra"),
    [
        ("redis", "redis://localhost", "redis"),
        ("psycopg", "postgresql://localhost/db", "postgres"),
        ("psycopg", "postgres://localhost/db", "postgres"),
    ],
)
def test_missing_driver_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, driver: str, url: str, extra: str
) -> None:
    # None in sys.modules makes any import of the driver raise ImportError.
    monkeypatch.setitem(sys.modules, driver, None)
    hint = rf'"{extra}" extra \(.*pip install "\.\[{extra}\]"'
    with pytest.raises(MissingDriverError, match=hint):
        backend_class(url)
