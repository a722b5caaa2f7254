"""Rendering failures and deciding about redeliveries: pure functions of the core,
tested without a loop or a backend."""

from __future__ import annotations

import time
import weakref
from typing import Any

import pytest

from qtasks.core import policy
from qtasks.core.models import TaskRecord, TaskSpec


class Unprintable(Exception):
    def __repr__(self) -> str:
        raise ValueError("repr is broken")

    def __str__(self) -> str:
        raise ValueError("str is broken")


class Unformattable(Exception):
    @property
    def __notes__(self) -> Any:
        raise RuntimeError("notes are broken")


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def record(attempts: int = 1, **extra: Any) -> TaskRecord:
    now = time.time()
    return TaskRecord("u1", "job", 0, [], {}, "process", now, now, extra=extra, attempts=attempts)


def spec(**options: Any) -> TaskSpec:
    return TaskSpec(priority=0, name="job", func=lambda: None, **options)


def test_describe_exception_falls_back_when_repr_raises() -> None:
    assert policy.describe_exception(KeyError("k")) == "KeyError('k')"
    assert (
        policy.describe_exception(Unprintable())
        == "<unprintable Unprintable: repr failed with ValueError>"
    )


def test_format_exception_never_raises_and_keeps_the_frames() -> None:
    text = policy.format_exception(raised(Unformattable("x")))
    assert text.startswith("Traceback (most recent call last):")
    assert "in raised" in text
    assert text.rstrip().endswith(
        "Unformattable: <unprintable Unformattable: formatting the exception failed with "
        "RuntimeError>"
    )
    assert "Unprintable: <exception str() failed>" in policy.format_exception(raised(Unprintable()))


def test_failure_with_context_puts_the_line_first() -> None:
    final = policy.failure(record(), raised(ValueError("bad")), "Task job (u1) failed in a hook")
    assert final.status == "error"
    assert final.traceback.startswith("Task job (u1) failed in a hook\nTraceback")
    assert final.traceback.rstrip().endswith("ValueError: bad")


def test_drop_frames_frees_the_locals_of_the_whole_chain() -> None:
    class Big:
        pass

    refs = []

    def inner() -> None:
        big = Big()
        refs.append(weakref.ref(big))
        raise KeyError("inner")

    def outer() -> None:
        try:
            inner()
        except KeyError as exc:
            big = Big()
            refs.append(weakref.ref(big))
            raise ValueError("outer") from exc

    exc = raised_by(outer)
    assert all(ref() is not None for ref in refs)
    policy.drop_frames(exc)
    assert [ref() for ref in refs] == [None, None]
    assert exc.__traceback__ is None and exc.__cause__ is not None


def raised_by(func: Any) -> BaseException:
    try:
        func()
    except BaseException as exc:
        return exc
    raise AssertionError("did not raise")


def test_base_exceptions_retry_only_when_named() -> None:
    exits = SystemExit(2)
    assert not policy.should_retry(spec(retry=3), record(), exits)
    assert not policy.should_retry(spec(retry=3), record(), KeyboardInterrupt())
    assert policy.should_retry(spec(retry=3, retry_on_exc=[SystemExit]), record(), exits)
    assert policy.should_retry(spec(retry=3), record(), ValueError())


@pytest.mark.parametrize(
    ("attempts", "limit", "dead"), [(1, 1, False), (2, 1, True), (5, 5, False), (6, 5, True)]
)
def test_dead_letter_reason(attempts: int, limit: int, dead: bool) -> None:
    reason = policy.dead_letter_reason(record(attempts), limit)
    assert (reason is not None) == dead
    if reason is not None:
        assert reason == (
            f"delivered {attempts} times without its worker reporting back "
            f"(the worker died or lost its lease each time); max_deliveries={limit}"
        )
        final = policy.dead_lettered(record(attempts, keep="me"), reason)
        assert final.status == "error" and final.traceback == reason
        assert final.extra == {"keep": "me", "dead_letter": reason}


def test_max_deliveries_of_a_task_or_the_default() -> None:
    assert policy.max_deliveries(None, 5) == 5
    assert policy.max_deliveries(spec(), 5) == 5
    assert policy.max_deliveries(spec(extra={"max_deliveries": 2}), 5) == 2


def test_an_unstorable_record_keeps_what_encodes() -> None:
    bad = record(ok=1, handle=object())
    bad.returning = {1, 2}
    final = policy.unstorable(bad, TypeError("set is not JSON"))
    assert final.status == "error" and final.returning is None
    assert final.extra == {"ok": 1}
    assert final.traceback == (
        "The task's final record could not be stored: TypeError('set is not JSON')"
    )


def test_huge_exceptions_are_cut_for_the_record_and_the_log() -> None:
    from qtasks.core import policy

    try:
        raise ValueError("x" * 5_000_000)
    except ValueError as exc:
        text = policy.format_exception(exc)
        line = policy.describe_exception(exc)
    assert len(text) < policy.TRACEBACK_LIMIT + 100 and "characters cut]" in text
    assert text.startswith("Traceback") and len(line) < policy.LOG_TEXT_LIMIT + 100


def test_a_long_chain_is_cut_to_its_latest_exceptions() -> None:
    from qtasks.core import policy

    exc: BaseException = ValueError("first")
    for i in range(5_000):
        try:
            try:
                raise exc
            except BaseException:
                raise RuntimeError(f"link {i}") from None
        except RuntimeError as newer:
            newer.__cause__ = exc
            exc = newer
    text = policy.format_exception(exc)
    assert text.startswith(f"[{5_001 - policy.CHAIN_LIMIT} earlier chained exceptions cut]")
    assert "link 4999" in text and "link 0\n" not in text
