"""`qtasks db upgrade|status|sql`: the schema of an SQL backend, for teams that run
their migrations themselves (workers otherwise create and migrate it on first use).

Exit codes: 0 done (`status`: the schema is current); 1 `status` found the schema
behind this qtasks; 2 usage, or a backend without a versioned schema.
"""

from __future__ import annotations

import argparse

from qtasks.cli.common import UsageError, load_app
from qtasks.core.ports import SchemaMigrations

name = "db"
summary = "create, migrate or show the schema of the app's database (PostgreSQL)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One action: `upgrade` applies what is missing, `status` compares the applied
    version with this qtasks', `sql` prints the whole schema as one script."""
    parser.add_argument("action", choices=("upgrade", "status", "sql"))


def run(args: argparse.Namespace) -> int:
    app = load_app(args)
    backend = app.backend
    if not isinstance(backend, SchemaMigrations):
        raise UsageError(
            f"{backend.describe()} has no versioned schema to manage: it keeps its own "
            "tables up to date (db applies to PostgreSQL)"
        )
    if args.action == "sql":
        print(backend.schema_script(), end="")
        return 0
    if args.action == "upgrade":
        applied = backend.migrate_sync()
        version, latest = backend.schema_version_sync()
        if applied:
            print(f"Applied migrations {', '.join(map(str, applied))}: schema at version {latest}")
        else:
            print(f"Schema already at version {version}: nothing to apply")
        return 0
    version, latest = backend.schema_version_sync()
    if version == latest:
        print(f"Schema at version {version}: current")
        return 0
    print(f"Schema at version {version}, this qtasks needs {latest}: run `qtasks db upgrade`")
    return 1


__all__ = ["add_arguments", "name", "run", "summary"]
