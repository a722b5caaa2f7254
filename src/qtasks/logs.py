"""`Logger`: a thin adapter over stdlib `logging` under the `qtasks.` namespace.

Each app logs through `qtasks.<app name>`, so setting one app's level never
changes another app's. The subname (component) travels in the record's extra.
"""

from __future__ import annotations

import logging
from typing import Any

DEFAULT_FORMAT = "%(asctime)s [%(name)s: %(levelname)s] (%(subname)s) %(message)s"


class _SubnameFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "subname"):
            record.subname = "-"
        return super().format(record)


class Logger:
    """Logger(name, subname=None, default_level=logging.INFO, format=None)."""

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
        self.format = format or DEFAULT_FORMAT
        self.logger = logging.getLogger(_qualified(name))
        self.logger.setLevel(default_level)
        self.logger.propagate = False
        self._ensure_handler()

    def _ensure_handler(self) -> None:
        for handler in self.logger.handlers:
            if getattr(handler, "_qtasks", False):
                handler.setFormatter(_SubnameFormatter(self.format))
                return
        handler = logging.StreamHandler()
        handler._qtasks = True  # type: ignore[attr-defined]
        handler.setFormatter(_SubnameFormatter(self.format))
        self.logger.addHandler(handler)

    def _log(self, level: int, msg: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if not self.logger.isEnabledFor(level):
            return
        extra = dict(kwargs.pop("extra", None) or {})
        extra.setdefault("subname", self.subname)
        kwargs.setdefault("stacklevel", 3)
        self.logger.log(level, msg, *args, extra=extra, **kwargs)

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

    def with_subname(
        self, new_subname: str, default_level: int | None = None, format: str | None = None
    ) -> Logger:
        """A new Logger for another component of the same app."""
        return Logger(
            self.name,
            new_subname,
            self.logger.level if default_level is None else default_level,
            format or self.format,
        )

    def update_logger(self, **kwargs: Any) -> Logger:
        """Change name, subname, default_level or format in place; returns self."""
        unknown = set(kwargs) - {"name", "subname", "default_level", "format"}
        if unknown:
            raise TypeError(f"update_logger() got unexpected keys: {sorted(unknown)}")
        if "name" in kwargs:
            self.name = kwargs["name"]
            self.logger = logging.getLogger(_qualified(self.name))
            self.logger.propagate = False
        self.subname = kwargs.get("subname", self.subname)
        self.format = kwargs.get("format", self.format)
        if "default_level" in kwargs:
            self.default_level = kwargs["default_level"]
        self.logger.setLevel(self.default_level)
        self._ensure_handler()
        return self

    def __repr__(self) -> str:
        level = logging.getLevelName(self.logger.level)
        return f"Logger(name={self.name!r}, subname={self.subname!r}, level={level})"


def _qualified(name: str) -> str:
    return name if name.startswith("qtasks.") else f"qtasks.{name}"


__all__ = ["DEFAULT_FORMAT", "Logger"]
