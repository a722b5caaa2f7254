"""`Logger`: a thin adapter over stdlib `logging` under the `qtasks.` namespace.

Each app logs through `qtasks.<app name>`, so setting one app's level never
changes another app's. The subname (component) travels in the record's extra.

Records propagate like any library's, so the host's logging configuration (Django
`LOGGING`, pytest's caplog, a JSON formatter, Sentry) sees them. qtasks prints them
itself, to stderr, only while nothing else would: the fallback handler each app logger
carries steps aside as soon as any other handler is on the record's way up (on the
`qtasks` tree or on the root logger), even one added after the app was created. So a
host that configures logging never gets each line twice.

Calls take %-style arguments (`log.info("Started %s", name)`): the message is built
only when a handler takes the record, and handlers see the template and its arguments.

`format="json"` (config `logs_format`, env `QTASKS_LOGS_FORMAT=json`) makes that output
one JSON object per line (`JsonFormatter`, which a host may also put on its own handler).
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Any

from qtasks.core.config import DEFAULT_FORMAT

#: The `format` (and `logs_format`) that selects `JsonFormatter`.
JSON_FORMAT = "json"

#: The attributes every LogRecord has: the others are a call's `extra` fields.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: `time` (ISO 8601, UTC), `level`, `logger`,
    `subname`, `message`, every `extra` field of the call (a task's line carries
    `task_name`, `task_uuid`, `queue`, and on its outcome `duration` in seconds and
    `outcome`), and `exception` (the formatted traceback) when the call passed
    `exc_info`. Values JSON cannot hold are written as their `str()`."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "subname": getattr(record, "subname", "-"),
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in data:
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, default=str, ensure_ascii=False)


class _SubnameFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "subname"):
            record.subname = "-"
        return super().format(record)


class _FallbackHandler(logging.Handler):
    """qtasks' own output, for a process whose logging nobody configured."""

    def filter(self, record: logging.LogRecord) -> Any:
        return _is_only_output(self, record) and super().filter(record)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # The current stderr, looked up at each record: a swapped sys.stderr is honoured.
            sys.stderr.write(self.format(record) + "\n")
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def _is_only_output(handler: _FallbackHandler, record: logging.LogRecord) -> bool:
    """True when `handler` is the first fallback on the record's way up and no other
    handler (the host's) is on that way: then, and only then, it prints."""
    logger: Any = logging.root.manager.loggerDict.get(record.name)
    if not isinstance(logger, logging.Logger):
        return True
    first = None
    while logger is not None:
        for other in logger.handlers:
            if not isinstance(other, _FallbackHandler):
                return False
            if first is None:
                first = other
        if not logger.propagate:
            break
        logger = logger.parent
    return first is handler


class Logger:
    """Logger(name, subname=None, default_level=logging.INFO, format=None).

    `default_level` is a default: it is applied only when neither the user nor an
    earlier `Logger` set a level on `qtasks.<name>` (or on `qtasks`). `format` is the
    format of qtasks' own fallback output.
    """

    def __init__(
        self,
        name: str,
        subname: str | None = None,
        default_level: int = logging.INFO,
        format: str | None = None,
    ) -> None:
        self.name = name
        self.subname = subname or "-"
        self.default_level = default_level
        self.logger = logging.getLogger(_qualified(name))
        _set_default_level(self.logger, default_level)
        self.format = _ensure_handler(self.logger, format)

    def _log(self, level: int, msg: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if not self.logger.isEnabledFor(level):
            return
        extra = dict(kwargs.pop("extra", None) or {})
        extra.setdefault("subname", self.subname)
        kwargs.setdefault("stacklevel", 3)
        self.logger.log(level, msg, *args, extra=extra, **kwargs)

    def _line(self, level: int, msg: str, args: tuple[Any, ...], extra: dict[str, Any]) -> None:
        """A line whose call site tells nothing (the worker's line per task): the record
        is built without looking up the caller's frame, a third of a line's cost."""
        logger = self.logger
        if not logger.isEnabledFor(level):
            return
        extra.setdefault("subname", self.subname)
        logger.handle(logger.makeRecord(logger.name, level, "", 0, msg, args, None, extra=extra))

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._log(logging.DEBUG, msg, args, kwargs)

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._log(logging.INFO, msg, args, kwargs)

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._log(logging.WARNING, msg, args, kwargs)

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._log(logging.ERROR, msg, args, kwargs)

    def critical(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._log(logging.CRITICAL, msg, args, kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("exc_info", True)
        self._log(logging.ERROR, msg, args, kwargs)

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._log(level, msg, args, kwargs)

    def with_subname(
        self, new_subname: str, default_level: int | None = None, format: str | None = None
    ) -> Logger:
        """A new Logger for another component of the same app (same level, same output)."""
        return Logger(
            self.name,
            new_subname,
            self.default_level if default_level is None else default_level,
            format,
        )

    def update_logger(self, **kwargs: Any) -> Logger:
        """Change name, subname, default_level or format in place; returns self.

        An explicit `default_level` sets the level; the other keys leave it alone.
        """
        unknown = set(kwargs) - {"name", "subname", "default_level", "format"}
        if unknown:
            raise TypeError(f"update_logger() got unexpected keys: {sorted(unknown)}")
        if "default_level" in kwargs:
            self.default_level = kwargs["default_level"]
        if "name" in kwargs:
            self.name = kwargs["name"]
            self.logger = logging.getLogger(_qualified(self.name))
            _set_default_level(self.logger, self.default_level)
        if "default_level" in kwargs:
            self.logger.setLevel(self.default_level)
        self.subname = kwargs.get("subname", self.subname)
        self.format = _ensure_handler(self.logger, kwargs.get("format"))
        return self

    def __repr__(self) -> str:
        level = logging.getLevelName(self.logger.getEffectiveLevel())
        return f"Logger(name={self.name!r}, subname={self.subname!r}, level={level})"


def _qualified(name: str) -> str:
    return name if name.startswith("qtasks.") else f"qtasks.{name}"


def _set_default_level(logger: logging.Logger, level: int) -> None:
    """Set `level` unless a level is already set on `logger` or on an ancestor in the
    `qtasks` tree (by the user, their logging config, or an earlier `Logger`)."""
    node: Any = logger
    while node is not None and node is not logging.root:
        if node.level != logging.NOTSET:
            return
        node = node.parent
    logger.setLevel(level)


def _ensure_handler(logger: logging.Logger, format: str | None) -> str:
    """Give `logger` its fallback handler; returns the format in use. An explicit
    `format` replaces the current one; None keeps it."""
    for handler in logger.handlers:
        if isinstance(handler, _FallbackHandler):
            if format is not None:
                handler.setFormatter(_formatter(format))
                return format
            if isinstance(handler.formatter, JsonFormatter):
                return JSON_FORMAT
            current = handler.formatter._fmt if handler.formatter is not None else None
            return current or DEFAULT_FORMAT
    handler = _FallbackHandler()
    handler.setFormatter(_formatter(format or DEFAULT_FORMAT))
    logger.addHandler(handler)
    return format or DEFAULT_FORMAT


def _formatter(format: str) -> logging.Formatter:
    if format.strip().lower() == JSON_FORMAT:
        return JsonFormatter()
    return _SubnameFormatter(format)


__all__ = ["DEFAULT_FORMAT", "JSON_FORMAT", "JsonFormatter", "Logger"]
