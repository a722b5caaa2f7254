"""What goes in comes out, or is refused: the codec's check and the enqueue option checks,
without an app or a backend."""

from __future__ import annotations

import dataclasses
import enum
import math
import uuid
from collections import OrderedDict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest

from qtasks.core import codec
from qtasks.core.codec import check_call, faithful_problem
from qtasks.core.records import (
    PRIORITY_MAX,
    PRIORITY_MIN,
    check_eta,
    check_priority,
    check_seconds,
    new_record,
)
from qtasks.exc import ArgumentTypeError, ConfigError, SerializationError


class Plain(enum.Enum):
    A = 1


class Text(str, enum.Enum):
    A = "a"


@dataclasses.dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(2**63),
        2**64 - 1,
        0.1,
        -0.0,
        1e308,
        "é✓",
        [1, [2, [3]]],
        {"a": {"b": [None, 1.5]}},
        (1, (2, 3)),
        [(1,), {"t": (2,)}],
        Text.A,
        OrderedDict(a=1),
    ],
)
def test_values_that_come_back_equal_pass(value: Any) -> None:
    assert faithful_problem(value, "x") is None
    check_call([value], {"k": value})
    back = orjson.loads(orjson.dumps(value))
    assert back == value or isinstance(value, (tuple, list))


@pytest.mark.parametrize(
    ("value", "path", "fix"),
    [
        (float("nan"), "x", "use None, a finite number"),
        ([1, [2, float("inf")]], "x[1][1]", "'inf'"),
        ({"ratio": -math.inf}, "x['ratio']", "'-inf'"),
        ((1, (2, float("nan"))), "x[1][1]", "arrive as None"),
        ({1: "a"}, "x has the key 1 (int)", "use str keys"),
        ({1: "a", "1": "b"}, "x has the key 1 (int)", "collide with the key '1'"),
        ({Text.A: 1, "a": 2}, "x has the key <Text.A: 'a'> (Text)", "collide with the key 'a'"),
        ({True: 1}, "x has the key True (bool)", "it would arrive as 'true'"),
        ({(1, 2): "a"}, "x has the key (1, 2) (tuple)", "use str keys"),
        ([2**64], "x[0] is an integer outside", "str(n)"),
        ([-(2**63) - 1], "x[0] is an integer outside", "str(n)"),
        ({"s": {1, 2}}, "x['s'] is {1, 2} (builtins.set)", "sorted(x)"),
        ([b"ab"], "x[0] is b'ab'", "base64"),
        ([Decimal("1.1")], "x[0] is Decimal('1.1')", "str(x)"),
        ([datetime(2024, 1, 2)], "x[0] is datetime.datetime(2024, 1, 2, 0, 0)", "isoformat"),
        ([timedelta(seconds=3)], "x[0]", "total_seconds"),
        ([uuid.UUID(int=1)], "x[0] is UUID(", "str(x)"),
        ([Plain.A], "x[0] is <Plain.A: 1>", "x.value"),
        ([Point(1)], "x[0] is Point(x=1)", "dataclasses.asdict"),
        ([object()], "x[0] is <object object", "convert it to JSON types"),
    ],
)
def test_values_that_would_change_are_named_by_path_with_the_fix(
    value: Any, path: str, fix: str
) -> None:
    problem = faithful_problem(value, "x")
    assert problem is not None and problem.startswith(path), problem
    assert fix in problem
    with pytest.raises(SerializationError, match=r"^ctx: kwargs\['k'\]"):
        check_call([], {"k": value}, context="ctx")


def test_a_named_tuple_and_a_float_subclass_are_refused_like_orjson_refuses_them() -> None:
    from typing import NamedTuple

    class Pair(NamedTuple):
        a: int

    class Money(float):
        pass

    assert "x._asdict()" in (faithful_problem([Pair(1)], "x") or "")
    assert "float(x)" in (faithful_problem([Money(1.0)], "x") or "")


def test_too_deep_or_self_containing_values_are_named() -> None:
    deep: Any = 1
    for _ in range(codec.MAX_DEPTH):
        deep = [deep]
    assert faithful_problem(deep, "x") is None
    assert "nested more than" in (faithful_problem([deep], "x") or "")
    loop: list[Any] = []
    loop.append(loop)
    assert "contains itself" in (faithful_problem(loop, "x") or "")


def test_a_value_whose_comparison_raises_is_judged_by_the_walk() -> None:
    class Odd(dict[str, Any]):
        def __eq__(self, other: object) -> bool:
            raise RuntimeError("no comparing")

        __hash__ = None  # type: ignore[assignment]

    assert faithful_problem(Odd(a=1), "x") is None
    assert "nan" in (faithful_problem(Odd(a=math.nan), "x") or "")


def test_check_call_names_args_and_kwargs() -> None:
    check_call([1, "a"], {"k": [1.5]})
    with pytest.raises(SerializationError, match=r"^T: args\[1\]\['r'\] is nan"):
        check_call([1, {"r": math.nan}], {}, context="T")
    with pytest.raises(SerializationError, match=r"kwargs\['when'\] is datetime"):
        check_call([], {"when": datetime(2024, 1, 1)})
    with pytest.raises(SerializationError, match=r"kwargs has the key 1"):
        check_call([], {1: 2})  # type: ignore[dict-item]


def test_plain_arguments_never_take_the_slow_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = codec._problem

    def spy(value: Any, path: str, depth: int) -> str | None:
        calls.append(path)
        return real(value, path, depth)

    monkeypatch.setattr(codec, "_problem", spy)
    check_call([1, "a", [None, 2.5], {"n": {"m": True}}], {"k": "v"})
    assert faithful_problem({"rows": [[1, 2]]}, "result") is None
    assert calls == []
    check_call([(1, 2)], {})  # a tuple inside: the walk runs, and accepts it
    assert calls[0] == "args" and calls[-1] == "kwargs"


def test_the_storage_encoding_is_unchanged_for_the_backends() -> None:
    # Backends store extra fields and settings with `dumps`, which still converts keys.
    assert codec.dumps({1: "a"}) == b'{"1":"a"}'
    with pytest.raises(SerializationError, match="task args is not JSON-serialisable"):
        codec.dumps(object(), what="task args")


# --- enqueue options ---------------------------------------------------------------------


@pytest.mark.parametrize("priority", [PRIORITY_MIN, -1, 0, 7, PRIORITY_MAX])
def test_priorities_in_range_pass(priority: int) -> None:
    assert check_priority(priority) == priority


@pytest.mark.parametrize("priority", [PRIORITY_MAX + 1, PRIORITY_MIN - 1, 2**63, -(2**64)])
def test_priorities_out_of_range_are_config_errors(priority: int) -> None:
    with pytest.raises(ConfigError, match=r"priority .* is out of range: use an int from"):
        check_priority(priority)


@pytest.mark.parametrize("priority", [1.0, "1", True, None, math.nan])
def test_priorities_that_are_not_ints_are_type_errors(priority: Any) -> None:
    with pytest.raises(ArgumentTypeError, match="priority must be an int"):
        check_priority(priority)


@pytest.mark.parametrize("seconds", [None, 0, 0.5, 10**6])
def test_seconds_options_accept_finite_non_negative_numbers(seconds: Any) -> None:
    assert check_seconds("timeout", seconds) == seconds


@pytest.mark.parametrize("seconds", [-1, -0.001, math.nan, math.inf, -math.inf])
def test_seconds_options_refuse_negative_nan_and_infinite(seconds: float) -> None:
    with pytest.raises(ConfigError, match=r"^delay must be a finite number of seconds >= 0"):
        check_seconds("delay", seconds)


@pytest.mark.parametrize("seconds", ["5", True, [1]])
def test_seconds_options_refuse_non_numbers(seconds: Any) -> None:
    with pytest.raises(ArgumentTypeError, match=r"^timeout must be a number of seconds"):
        check_seconds("timeout", seconds)


@pytest.mark.parametrize("eta", [math.nan, math.inf, -1.0])
def test_eta_must_be_finite_and_not_before_the_epoch(eta: float) -> None:
    with pytest.raises(ConfigError, match=r"^eta must be"):
        check_eta(eta)
    assert check_eta(0.0) == 0.0 and check_eta(None) is None


def test_new_record_applies_every_check() -> None:
    record = new_record("t", (1, (2,)), {"k": "v"}, None, spec=None, default_priority=3)
    assert record.args == [1, (2,)] and record.priority == 3  # stored as a list by JSON
    with pytest.raises(ConfigError, match="out of range"):
        new_record("t", (), {}, None, spec=None, default_priority=2**63)
    with pytest.raises(ConfigError, match="eta"):
        new_record("t", (), {}, 0, spec=None, default_priority=0, eta=math.nan)
    with pytest.raises(SerializationError, match=r"^Cannot enqueue task 't': args\[0\] is nan"):
        new_record("t", (math.nan,), {}, 0, spec=None, default_priority=0)


def test_an_eta_without_an_epoch_time_is_a_config_error() -> None:
    from datetime import datetime

    from qtasks.core.policy import eta_from
    from qtasks.exc import ConfigError

    with pytest.raises(ConfigError, match="has no epoch time"):
        eta_from(None, datetime.min)
