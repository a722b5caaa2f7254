"""JSON encoding of arguments and results (orjson; no pickle, nothing executable)."""

from __future__ import annotations

from typing import Any

import orjson

from qtasks.exc import SerializationError

_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def dumps(value: Any, *, what: str = "value") -> bytes:
    """Encode `value` as JSON bytes or raise `SerializationError` naming `what`."""
    try:
        return orjson.dumps(value, option=_OPTS)
    except TypeError as exc:
        raise SerializationError(f"{what} is not JSON-serialisable: {exc}") from exc


def loads(data: bytes | str | None) -> Any:
    if data is None:
        return None
    return orjson.loads(data)


__all__ = ["dumps", "loads"]
