"""The table of docs/features/encoding.md, observed on every backend.

Each row's value is sent as an argument through the client (`add_task`) and returned as
a result by a task run by a real worker; what the task received and what `get()` gives
back are described and rendered as the table. The test fails unless the table in the
docs is exactly what every backend does. After changing the rules, regenerate it with

    QTASKS_WRITE_ENCODING_TABLE=1 python -m pytest tests/features/test_encoding_table.py -k memory
"""

from __future__ import annotations

import dataclasses
import enum
import os
import re
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import pydantic
import pytest

import qtasks
from qtasks.exc import SerializationError

REDIS_URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
DOC = Path(__file__).resolve().parents[2] / "docs" / "features" / "encoding.md"
START, END = "<!-- encoding-table:start -->", "<!-- encoding-table:end -->"
LIMIT = 10.0


class Color(str, enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Shape(enum.Enum):
    SQUARE = 4


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Pair(NamedTuple):
    a: int
    b: int


class Item(pydantic.BaseModel):
    name: str
    qty: int


#: (what the docs call the value, how to build it, whether the result task is annotated
#: `-> Item` so the pydantic plugin dumps the model before it is stored)
ROWS: list[tuple[str, Callable[[], Any], bool]] = [
    ("`None`, `True`", lambda: [None, True], False),
    ("`int`", lambda: 42, False),
    ("`int` at the limits, `2**64 - 1`", lambda: 2**64 - 1, False),
    ("`int` beyond them, `2**64`", lambda: 2**64, False),
    ("`float`", lambda: 0.1, False),
    ("`float('nan')`", lambda: float("nan"), False),
    ("`float('inf')`, `-inf`", lambda: float("-inf"), False),
    ("`str`", lambda: "héllo ✓", False),
    ("`list`", lambda: [1, "a", [2.5]], False),
    ("`tuple`, nested too", lambda: (1, (2, 3)), False),
    ("`dict` with str keys", lambda: {"a": {"b": [1]}}, False),
    ("`dict` with int keys", lambda: {1: "a"}, False),
    ("`dict` with keys `1` and `'1'`", lambda: {1: "a", "1": "b"}, False),
    ("NaN deep inside", lambda: {"rows": [[1.0, float("nan")]]}, False),
    ("`OrderedDict`", lambda: OrderedDict(a=1), False),
    ("`set`", lambda: {1}, False),
    ("`bytes`", lambda: b"ab", False),
    ("`Decimal`", lambda: Decimal("9.99"), False),
    ("`datetime`", lambda: datetime(2024, 1, 2, 3, 4, 5), False),
    ("`date`", lambda: date(2024, 1, 2), False),
    ("`UUID`", lambda: uuid.UUID("12345678-1234-5678-1234-567812345678"), False),
    ("`str` Enum member", lambda: Color.RED, False),
    ("`IntEnum` member", lambda: Level.HIGH, False),
    ("other Enum member", lambda: Shape.SQUARE, False),
    ("dataclass", lambda: Point(1, 2), False),
    ("named tuple", lambda: Pair(1, 2), False),
    ("pydantic model", lambda: Item(name="pen", qty=2), False),
    ("pydantic model, task annotated `-> Item`", lambda: Item(name="pen", qty=2), True),
]

ARRIVED: dict[int, Any] = {}


def _url(kind: str, tmp_path: Path) -> str:
    return {
        "memory": f"memory://encoding-{uuid.uuid4().hex[:8]}",
        "sqlite": f"sqlite:///{tmp_path}/encoding.db",
        "redis": REDIS_URL,
    }[kind]


def _describe(original: Any, got: Any) -> str:
    if type(got) is type(original) and got == original:
        return "the same"
    return f"{type(got).__name__} `{got!r}`"


def _observe(kind: str, tmp_path: Path) -> list[tuple[str, str, str]]:
    app = qtasks.QueueTasks(f"encoding-{uuid.uuid4().hex[:8]}", broker_url=_url(kind, tmp_path))

    @app.task
    def take(row: int, value: Any) -> None:
        ARRIVED[row] = value

    @app.task
    def give(row: int) -> Any:
        return ROWS[row][1]()

    @app.task
    def give_item(row: int) -> Item:
        result: Item = ROWS[row][1]()
        return result

    facts = []
    try:
        with app.serve():
            for row, (label, build, annotated) in enumerate(ROWS):
                value = build()
                ARRIVED.pop(row, None)
                try:
                    sent = take.add_task(row, value, timeout=LIMIT)
                except SerializationError:
                    as_arg = "refused at enqueue (`SerializationError`)"
                else:
                    assert sent is not None and sent.status == "success", (label, sent)
                    as_arg = _describe(value, ARRIVED[row])
                done = (give_item if annotated else give).add_task(row, timeout=LIMIT)
                assert done is not None, label
                stored = app.get(done.uuid)
                assert stored is not None and stored.status == done.status, label
                if done.status == "error":
                    assert "SerializationError" in done.traceback, (label, done.traceback)
                    as_result = "the task ends `error` (`SerializationError`)"
                else:
                    assert done.status == "success", (label, done)
                    as_result = _describe(value, stored.returning)
                facts.append((label, as_arg, as_result))
    finally:
        if kind == "redis":  # a shared server: leave nothing behind
            app.flush_all()
        app.backend.close_sync()
    return facts


def render(facts: list[tuple[str, str, str]]) -> str:
    lines = [
        "| Python value | as an argument, the task receives | as a result, `get()` returns |",
        "|---|---|---|",
    ]
    lines += [f"| {label} | {arg} | {result} |" for label, arg, result in facts]
    return "\n".join(lines)


def _doc_table() -> str:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(re.escape(START) + r"\n(.*?)\n" + re.escape(END), text, re.S)
    assert found, f"{DOC.name} has no {START} ... {END} section"
    return found.group(1)


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
def test_the_encoding_table_is_what_every_backend_does(kind: str, tmp_path: Path) -> None:
    table = render(_observe(kind, tmp_path))
    if os.environ.get("QTASKS_WRITE_ENCODING_TABLE"):
        text = DOC.read_text(encoding="utf-8")
        head, rest = text.split(START, 1)
        DOC.write_text(f"{head}{START}\n{table}\n{END}{rest.split(END, 1)[1]}", encoding="utf-8")
    assert table == _doc_table()
