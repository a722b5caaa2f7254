"""What every `qtasks` command shares: the global options, loading the app named by
`-A module:app`, usage errors and environment defaults.

Third-party commands use these too, so that `-A` and `--log-level` mean the same
everywhere.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import os
import sys
from typing import Any

from qtasks.core.config import cast_env_value

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class AppLoadError(Exception):
    """The `-A module:attribute` value does not name a qtasks app."""


class UsageError(Exception):
    """A mistake on the command line; `main` reports it like argparse does (usage, exit 2)."""


def add_global_options(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """Add `-A/--app/-app` and `--log-level` to `parser`.

    The top-level parser holds the defaults (None); a subcommand's copy suppresses its
    default, so a value given before the subcommand is not overwritten by it.
    """
    default = None if top else argparse.SUPPRESS
    parser.add_argument(
        "-A",
        "--app",
        "-app",
        dest="app",
        default=default,
        action=_AppOption,
        metavar="MODULE:APP",
        help="the app to use, e.g. myproject.tasks:app (`run` takes several: -A a:app -A b:app)",
    )
    parser.add_argument(
        "--log-level",
        dest="log_level",
        default=default,
        type=str.upper,
        choices=LEVELS,
        help="log level of the app's logger",
    )


class _AppOption(argparse.Action):
    """`-A`: `args.app` is the last value given (what one-app commands read), `args.apps`
    every value, in order."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        namespace.app = values
        namespace.apps = [*(getattr(namespace, "apps", None) or []), values]


def get_app(app_arg: str) -> Any:
    """Import `module:attribute` (a dotted module path works); a function is called
    as a factory. Raises `AppLoadError` with the reason."""
    if ":" not in app_arg:
        raise AppLoadError(f"expected module:attribute, got {app_arg!r}")
    module_name, _, attr = app_arg.partition(":")
    # Like `python -m`, the app module is looked for in the current directory first.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AppLoadError(f"cannot import module {module_name!r}: {exc}") from exc
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise AppLoadError(f"module {module_name!r} has no attribute {attr!r}") from None
    if inspect.isfunction(obj):
        obj = obj()
    if not hasattr(obj, "run_forever") or not hasattr(obj, "backend"):
        raise AppLoadError(f"{app_arg} is {obj!r}, not a qtasks app")
    return obj


def load_app(args: argparse.Namespace) -> Any:
    """The app named by `-A`, with `--log-level` applied to its server logs.

    Raises `UsageError` when no app was given, several were, or it cannot be loaded.
    """
    apps = load_apps(args)
    if len(apps) > 1:
        raise UsageError(f"{args.command} takes one app; -A was given {len(apps)} times")
    return apps[0]


def load_apps(args: argparse.Namespace) -> list[Any]:
    """Every app named by `-A` (at least one), in order, with `--log-level` applied.

    Raises `UsageError` when no app was given, one cannot be loaded, or two are the
    same object or have the same name (they would share their queues)."""
    names = getattr(args, "apps", None) or ([args.app] if args.app else [])
    if not names:
        raise UsageError("an app is required: qtasks -A module:app " + args.command)
    apps: list[Any] = []
    for name in names:
        try:
            app = get_app(name)
        except AppLoadError as exc:
            raise UsageError(f"cannot load the app: {exc}") from exc
        if any(other is app or other.name == app.name for other in apps):
            raise UsageError(f"{name} names the app {app.name!r} a second time")
        if args.log_level:
            app.config.logs_default_level_server = getattr(logging, args.log_level)
        apps.append(app)
    return apps


def env_int(name: str, default: int) -> int:
    """The whole number in environment variable `name`, `default` when unset or blank.

    Exits with a message when it is set to something else: the default of an option
    comes from it, so a typo must not silently mean the built-in default.
    """
    raw = os.environ.get(name, "")
    if not raw.strip():
        return default
    try:
        return int(cast_env_value(raw, int))
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a whole number") from None


def warn(message: str) -> None:
    """Print a warning the way argparse prints errors, on stderr."""
    print(f"qtasks: warning: {message}", file=sys.stderr)


__all__ = [
    "LEVELS",
    "AppLoadError",
    "UsageError",
    "add_global_options",
    "env_int",
    "get_app",
    "load_app",
    "load_apps",
    "warn",
]
