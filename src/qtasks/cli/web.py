"""`qtasks -A module:app web`: serve the app's dashboard with uvicorn.

    qtasks -A shop.tasks:app web [--host 127.0.0.1] [--port 8000] [--read-only]
                                 [--token T | --basic-auth user:pass]
                                 [--refresh 5] [--sample-interval 5]
                                 [--metrics-dir DIR | --no-metrics]

It binds 127.0.0.1 by default and refuses any other address without `--token` or
`--basic-auth` (exit code 2). Needs the web extra (in a checkout of qtasks:
`pip install ".[web]"`; exit code 3 without). With prometheus-client installed it also
serves `/metrics`, behind the same access checks.
"""

from __future__ import annotations

import argparse
import os

from qtasks.cli.common import UsageError, load_app, warn
from qtasks.exc import ConfigError

name = "web"
summary = "serve the web dashboard (needs qtasks[web])"

#: Addresses that only this machine reaches.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
#: Exit code when the web extra is not installed.
MISSING_EXTRA = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    parser.add_argument("--read-only", action="store_true", help="show everything, allow no action")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument(
        "--token",
        default=os.environ.get("QTASKS_WEB_TOKEN") or None,
        help="require this token (?token=T once, or 'Authorization: Bearer T'); "
        "default $QTASKS_WEB_TOKEN",
    )
    auth.add_argument(
        "--basic-auth",
        metavar="USER:PASS",
        default=None,
        help="require HTTP basic auth with this user and password",
    )
    parser.add_argument(
        "--refresh", type=float, default=5.0, help="seconds between live updates (default 5)"
    )
    parser.add_argument(
        "--sample-interval",
        type=float,
        default=5.0,
        help="seconds between two samples of the counts for the chart (default 5)",
    )
    metrics = parser.add_mutually_exclusive_group()
    metrics.add_argument(
        "--metrics-dir",
        default=os.environ.get("QTASKS_METRICS_DIR") or None,
        help="serve at /metrics the sum of the worker snapshots in this directory "
        "(the workers' QTASKS_METRICS_DIR); default $QTASKS_METRICS_DIR, else the "
        "counters of this process",
    )
    metrics.add_argument("--no-metrics", action="store_true", help="do not serve /metrics")


def check_bind(host: str, token: str | None, basic_auth: str | None) -> None:
    """Raise `UsageError` when `host` is reachable from other machines and no credential
    protects the dashboard."""
    if host not in LOOPBACK and token is None and basic_auth is None:
        raise UsageError(
            f"refusing to bind {host} without --token or --basic-auth: "
            "anyone who reaches it could act on the tasks"
        )


def run(args: argparse.Namespace) -> int:
    check_bind(args.host, args.token, args.basic_auth)
    try:
        import uvicorn

        from qtasks.web.dashboard import dashboard
    except ImportError as exc:
        warn(
            "the dashboard needs the web extra "
            f'(in a checkout of qtasks: pip install ".[web]"): {exc}'
        )
        return MISSING_EXTRA
    app = load_app(args)
    try:
        asgi = dashboard(
            app,
            read_only=args.read_only,
            token=args.token,
            basic_auth=args.basic_auth,
            refresh=args.refresh,
            sample_interval=args.sample_interval,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if not args.no_metrics:
        try:
            asgi.serve_metrics(args.metrics_dir)
        except ConfigError:
            warn('no /metrics: it needs prometheus-client (pip install ".[prometheus]")')
    uvicorn.run(asgi, host=args.host, port=args.port, log_level="info", lifespan="on")
    return 0
