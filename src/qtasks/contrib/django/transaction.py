"""Enqueueing when the current database transaction commits."""

from __future__ import annotations

from typing import Any


def _app(app: Any) -> Any:
    if app is not None:
        return app
    from qtasks.contrib.django.project import get_app

    return get_app()


def _raw_connection(app: Any, using: str | None) -> Any:
    """The psycopg 3 connection of Django's database `using` when a task can be written
    inside its open transaction (a PostgreSQL app on the same kind of database), else
    None."""
    from django.db import connections
    from django.db.utils import DEFAULT_DB_ALIAS

    connection = connections[using or DEFAULT_DB_ALIAS]
    if not connection.in_atomic_block or connection.vendor != "postgresql":
        return None
    if not app.backend.capabilities.transactional_enqueue:
        return None
    raw = connection.connection
    return raw if type(raw).__module__.startswith("psycopg") else None


def enqueue_on_commit(
    task_name: str,
    args: tuple[Any, ...] | list[Any] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    app: Any = None,
    using: str | None = None,
    **options: Any,
) -> None:
    """Enqueue `task_name(*args, **kwargs)` so that it exists only if the current
    transaction of Django's database `using` commits.

    With a PostgreSQL app (`transactional_enqueue`) and Django on PostgreSQL through
    psycopg 3, the task is written inside that transaction at once (workers see it at
    the commit; a rollback removes it). Otherwise it is enqueued by
    `transaction.on_commit` after the commit (at once outside a transaction); a crash
    between the commit and that call loses it. `options` are `app.enqueue`'s
    (`priority`, `delay`, `eta`, `queue`). `app` defaults to `get_app()`; a sync app is
    expected (an async app's enqueue is a coroutine: use `app.enqueue` in your own
    code)."""
    from django.db import transaction

    target = _app(app)
    raw = _raw_connection(target, using)
    if raw is not None:
        target.enqueue(task_name, args, kwargs, connection=raw, **options)
        return
    transaction.on_commit(lambda: target.enqueue(task_name, args, kwargs, **options), using=using)


def add_task_on_commit(task_name: str, *args: Any, **kwargs: Any) -> None:
    """`app.add_task(task_name, *args, **kwargs)` once the current transaction of the
    default database commits (see `enqueue_on_commit`, which also takes a database
    alias, an app and enqueue options)."""
    enqueue_on_commit(task_name, args, kwargs)


__all__ = ["add_task_on_commit", "enqueue_on_commit"]
