"""Running the app's flows (`qtasks.core.steps`) against its backend and plugins: a
`Call` step goes to the backend method (its `_sync` twin for sync callers), a `Hook` step
to the plugins. Shared by the client operations and the shared settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from qtasks.core.steps import Call, Flow, Hook, run_async, run_sync

if TYPE_CHECKING:
    from qtasks.core.hooks import HookRunner
    from qtasks.core.ports import Backend

T = TypeVar("T")


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

    def _perform_sync(self, step: Any) -> Any:
        if isinstance(step, Call):
            return getattr(self.backend, f"{step.method}_sync")(*step.args)
        assert self.hooks is not None
        return self.hooks.run_sync(step.name, **step.kwargs)

    async def _perform_async(self, step: Any) -> Any:
        if isinstance(step, Call):
            return await getattr(self.backend, step.method)(*step.args)
        assert self.hooks is not None
        return await self.hooks.run(step.name, **step.kwargs)

    def _run_sync(self, flow: Flow[T]) -> T:
        return run_sync(flow, self._perform_sync)

    async def _run_async(self, flow: Flow[T]) -> T:
        return await run_async(flow, self._perform_async)


__all__ = ["FlowDriver"]
