"""`qtasks.utils.builds._build_task` (QTasks 1.7): a copy of a dataclass instance with
fields set from keyword values, extra keywords becoming new fields.

Values that arrive as text (as a store returns them) are converted to the field's type:
int, float, bool ("true"/"false"), list/dict (JSON). An extra keyword's type is guessed
from its text with `ast.literal_eval` (a number, a list...), else it stays a string.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from typing import Any


def _guess_type(value: Any) -> type:
    if not isinstance(value, str):
        return type(value)
    try:
        return type(ast.literal_eval(value))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return str


def _convert(kind: Any, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if kind in (int, "int"):
            return int(value)
        if kind in (float, "float"):
            return float(value)
        if kind in (bool, "bool"):
            return value.strip().lower() == "true"
        if kind in (list, dict, "list", "dict"):
            return json.loads(value)
    except ValueError:
        return value
    return value


def _build_task(cls: Any, **kwargs: Any) -> Any:
    """`cls`: a dataclass instance (`TypeError` otherwise). Returns a new instance."""
    if not dataclasses.is_dataclass(cls) or isinstance(cls, type):
        raise TypeError("Expected a dataclass instance")
    base = type(cls)
    known = {f.name: f for f in dataclasses.fields(base)}
    values = {
        name: _convert(f.type, kwargs[name]) if name in kwargs else getattr(cls, name)
        for name, f in known.items()
    }
    extra = {k: v for k, v in kwargs.items() if k not in known}
    if not extra:
        return base(**values)
    specs = [(k, _guess_type(v), dataclasses.field(default=None)) for k, v in extra.items()]
    extended = dataclasses.make_dataclass(base.__name__, specs, bases=(base,))
    extra_values = {k: _convert(_guess_type(v), v) for k, v in extra.items()}
    return extended(**values, **extra_values)


__all__ = ["_build_task"]
