"""Running the app's flows (`qtasks.core.steps`) against its backend and plugins: a
`Call` step goes to the backend method (its `_sync` twin for sync callers), a `Hook` step
to the plugins. Shared by the client operations and the shared settings.

Inside `app.in_transaction(connection)`, the enqueue steps of that app go through the
caller's database connection instead (`TransactionalEnqueue.enqueue_in`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from qtasks.core.steps import Call, Flow, Hook, run_async, run_sync

if TYPE_CHECKING:
    from qtasks.core.hooks import HookRunner
    from qtasks.core.ports import Backend

T = TypeVar("T")

#: The connections of the open `in_transaction` blocks of this context: id(app) -> it.
_CONNECTIONS: ContextVar[dict[int, Any] | None] = ContextVar("qtasks_connections", default=None)


class FlowDriver:
    """Mixed into objects with a `backend` and (maybe) `hooks`."""

    backend: Backend
    hooks: HookRunner | None

    def _fire(self, name: str, **kwargs: Any) -> Flow[dict[str, Any]]:
        """`changes = yield from self._fire(...)`: what plugins changed ({} when none
        listen, without a step)."""
        if self.hooks is None or not self.hooks.listens(name):
            return {}
        changes: dict[str, Any] = yield Hook(name, kwargs)
        return changes

    @contextmanager
    def in_transaction(self, connection: Any) -> Iterator[None]:
        """Within this block, tasks this app enqueues (`add_task`, `enqueue`,
        `add_tasks`, task handles) are written through `connection`, a database
        connection you hold with a transaction open: they exist exactly when that
        transaction commits, and not at all when it rolls back. Workers are woken at
        the commit. Needs a backend with the `transactional_enqueue` capability
        (PostgreSQL, with a psycopg 3 connection, sync or async); `CapabilityError`
        otherwise. Waiting for a result (`timeout=`) inside the block is refused
        (`ConfigError`): nobody can run the task before the commit.

        The block sets a context variable, so it covers the current thread or asyncio
        task only."""
        self.backend.capabilities.require("transactional_enqueue", self.backend)
        current = _CONNECTIONS.get() or {}
        token = _CONNECTIONS.set({**current, id(self): connection})
        try:
            yield
        finally:
            _CONNECTIONS.reset(token)

    def _enqueue_connection(self) -> Any:
        """The connection of the `in_transaction` block open here, if any."""
        connections = _CONNECTIONS.get()
        return None if connections is None else connections.get(id(self))

    def _perform_sync(self, step: Any) -> Any:
        if isinstance(step, Call):
            if step.method == "enqueue" and (conn := self._enqueue_connection()) is not None:
                return self.backend.enqueue_in_sync(conn, *step.args)  # type: ignore[attr-defined]
            return getattr(self.backend, f"{step.method}_sync")(*step.args)
        assert self.hooks is not None
        return self.hooks.run_sync(step.name, **step.kwargs)

    async def _perform_async(self, step: Any) -> Any:
        if isinstance(step, Call):
            if step.method == "enqueue" and (conn := self._enqueue_connection()) is not None:
                return await self.backend.enqueue_in(conn, *step.args)  # type: ignore[attr-defined]
            return await getattr(self.backend, step.method)(*step.args)
        assert self.hooks is not None
        return await self.hooks.run(step.name, **step.kwargs)

    def _run_sync(self, flow: Flow[T]) -> T:
        return run_sync(flow, self._perform_sync)

    async def _run_async(self, flow: Flow[T]) -> T:
        return await run_async(flow, self._perform_async)


__all__ = ["FlowDriver"]
