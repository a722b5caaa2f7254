"""JSON encoding of arguments and results (orjson; no pickle, nothing executable).

Arguments and results follow one rule: what goes in comes out, or is refused.
`faithful_problem` and `check_call` refuse a value that would not come back equal from
storage, naming where it is (`kwargs['ratio']`, `args[2][0]`, `result['rows'][3]`) and
how to fix it:

- kept as they are: None, bool, str, int in [-2**63, 2**64 - 1], finite float, list,
  dict with str keys (and subclasses of str, int, list and dict, which come back as
  the base type and compare equal, e.g. a `str` Enum member or an OrderedDict);
- converted: tuple comes back as a list (JSON has one kind of array);
- refused: NaN and +/-Infinity (JSON has no such number: they would come back as None),
  keys that are not str (they would come back as str, and two keys such as 1 and "1"
  would collide), and every other type (set, bytes, Decimal, datetime, UUID, a plain
  Enum, dataclasses, pydantic models, numpy arrays...).

The check costs one orjson encode and decode and a comparison; the slow walk runs only
when those disagree, to find what to name (or to see that the difference is a tuple).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import math
import uuid
from typing import Any

import orjson

from qtasks.exc import SerializationError

_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

#: The integers orjson writes and reads back exactly (int64 and uint64 together).
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1
#: orjson refuses containers nested deeper than this (and a container inside itself).
MAX_DEPTH = 254


def dumps(value: Any, *, what: str = "value") -> bytes:
    """Encode `value` as JSON bytes or raise `SerializationError` naming `what`.

    The storage encoding of the backends: it converts what it can (non-str keys to str,
    NaN to null). Arguments and results are checked with `check_call` and
    `faithful_problem` before they get here."""
    try:
        return orjson.dumps(value, option=_OPTS)
    except TypeError as exc:
        raise SerializationError(f"{what} is not JSON-serialisable: {exc}") from exc


def loads(data: bytes | str | None) -> Any:
    if data is None:
        return None
    return orjson.loads(data)


def faithful_problem(value: Any, path: str) -> str | None:
    """None when `value` comes back from JSON equal (tuples as lists); else a sentence
    naming the part of `value` at fault by its path from `path`, and the fix."""
    try:
        # Strict orjson: non-str keys, numpy arrays and ints beyond 64 bits raise.
        same = orjson.loads(orjson.dumps(value)) == value
    except Exception:  # TypeError from orjson, or an __eq__ that raises: the walk decides
        same = False
    if same:
        return None
    return _problem(value, path, 0)


def check_call(args: list[Any], kwargs: dict[str, Any], *, context: str = "") -> None:
    """Raise `SerializationError` when the call's arguments would not come back equal
    (see the module docstring): `context` (e.g. "Cannot enqueue task 'add'"), then the
    path of the part at fault from `args` or `kwargs`, what is wrong and the fix. One
    encode and decode for both on the usual path."""
    call = [args, kwargs]
    try:
        same = orjson.loads(orjson.dumps(call)) == call
    except Exception:
        same = False
    if same:
        return
    problem = _problem(args, "args", 0) or _problem(kwargs, "kwargs", 0)
    if problem is not None:
        raise SerializationError(f"{context}: {problem}" if context else problem)


def _problem(value: Any, path: str, depth: int) -> str | None:
    """The first part of `value` that does not round-trip through JSON, described; None
    when everything does (a tuple is accepted: it comes back as a list). Mirrors what
    strict orjson accepts: subclasses of str, int, list and dict, but not of float or
    tuple."""
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return None
    if kind is float:
        if math.isfinite(value):
            return None
        return (
            f"{path} is {value!r}, which JSON cannot hold (it would arrive as None); "
            f"use None, a finite number or a string such as {str(value)!r}"
        )
    if isinstance(value, int):
        if INT_MIN <= value <= INT_MAX:
            return None
        return (
            f"{path} is an integer outside [-2**63, 2**64 - 1], the range stored exactly; "
            f"use a string, str(n), and int() it back"
        )
    if isinstance(value, str):
        return None
    if kind is tuple or isinstance(value, (list, dict)):
        if depth >= MAX_DEPTH:
            return f"{path} is nested more than {MAX_DEPTH} levels deep (or contains itself)"
        if isinstance(value, dict):
            return _dict_problem(value, path, depth)
        for i, item in enumerate(value):
            found = _problem(item, f"{path}[{i}]", depth + 1)
            if found is not None:
                return found
        return None
    return f"{path} is {_describe(value)}, which JSON cannot hold; {_fix(value)}"


def _dict_problem(value: dict[Any, Any], path: str, depth: int) -> str | None:
    for key, item in value.items():
        if type(key) is not str:
            return _key_problem(value, key, path)
        found = _problem(item, f"{path}[{key!r}]", depth + 1)
        if found is not None:
            return found
    return None


def _key_problem(value: dict[Any, Any], key: Any, path: str) -> str:
    try:  # the text the storage encoding would make of it
        text = next(iter(orjson.loads(orjson.dumps({key: None}, option=_OPTS))))
    except TypeError:
        arrival = ""
    else:
        clash = f" and collide with the key {text!r}" if text in value else ""
        arrival = f", so it would arrive as {text!r}{clash}"
    return (
        f"{path} has the key {key!r} ({type(key).__name__}): JSON object keys are plain "
        f"strings{arrival}; use str keys, converting them back in the task if needed"
    )


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__module__}.{type(value).__qualname__})"


def _fix(value: Any) -> str:
    """How to turn `value` into JSON types, by its type."""
    if isinstance(value, (set, frozenset)):
        return "use a list, e.g. sorted(x)"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "use text, e.g. base64.b64encode(x).decode() or x.decode()"
    if isinstance(value, decimal.Decimal):
        return "use str(x) (exact) and Decimal() it back"
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return "use x.isoformat() and fromisoformat() it back"
    if isinstance(value, datetime.timedelta):
        return "use x.total_seconds()"
    if isinstance(value, uuid.UUID):
        return "use str(x) and UUID() it back"
    if isinstance(value, enum.Enum):
        return "use x.value, or use a str or int Enum"
    if isinstance(value, tuple):  # a named tuple
        return "use tuple(x) or x._asdict()"
    if isinstance(value, float):
        return "use float(x)"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return "use dataclasses.asdict(x)"
    if callable(getattr(value, "model_dump", None)):
        return (
            "use x.model_dump(mode='json') (a task parameter annotated with the model "
            "gets the model back)"
        )
    if callable(getattr(value, "tolist", None)):
        return "use x.tolist()"
    return "convert it to JSON types (dict with str keys, list, str, int, float, bool, None)"


__all__ = [
    "INT_MAX",
    "INT_MIN",
    "MAX_DEPTH",
    "check_call",
    "dumps",
    "faithful_problem",
    "loads",
]
