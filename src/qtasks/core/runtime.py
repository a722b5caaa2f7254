"""What the engine needs from an app, declared: the `Runtime` protocol.

The engine (server, worker, executor) sees the app only through these members; the app
(`qtasks.app`) implements them. Nothing here is an implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from qtasks.core.log import Log

if TYPE_CHECKING:
    from qtasks.core.config import QueueConfig
    from qtasks.core.hooks import HookRunner
    from qtasks.core.models import TaskRecord, TaskSpec
    from qtasks.core.ports import Backend


class Events(Protocol):
    """The app's event bus (`app.events`)."""

    async def fire(self, name: str, **kwargs: Any) -> None: ...


class Injector(Protocol):
    """Provides values for some of a task's parameters (Pydantic models, `Depends`,
    `State`). Created once per task name per worker; `execution` is the executor, whose
    `injection` and `resources` hold the state injectors share."""

    async def prepare(
        self, execution: Any, args: list[Any], kw: dict[str, Any]
    ) -> tuple[list[Any], dict[str, Any]]:
        """The call's arguments with this injector's values added; raise to fail the
        execution with that error."""
        ...

    async def finish(self, execution: Any, result: Any) -> Any:
        """The result to store in place of `result`."""
        ...

    async def close(self, execution: Any) -> None:
        """After the execution, whatever its outcome."""
        ...


class InjectorFactory(Protocol):
    """An injector class: `applies(spec)` says whether a task needs it."""

    def applies(self, spec: TaskSpec) -> bool: ...
    def __call__(self) -> Injector: ...


class Service(Protocol):
    """Something the server runs beside its workers (the scheduler): started after the
    workers' start-up hooks, cancelled when they stop."""

    def describe(self) -> str:
        """A word for the start-up line ("scheduler=on")."""
        ...

    async def run(self) -> None:
        """Run until cancelled (returning early is allowed)."""
        ...


class Runtime(Protocol):
    """An app as the engine sees it (read-only members)."""

    @property
    def name(self) -> str: ...
    @property
    def config(self) -> QueueConfig: ...
    @property
    def log(self) -> Log: ...
    @property
    def backend(self) -> Backend: ...
    @property
    def hooks(self) -> HookRunner: ...
    @property
    def events(self) -> Events: ...
    @property
    def method(self) -> str:
        """ "sync" or "async": which facade the app offers (for the start-up line)."""
        ...

    @property
    def middlewares_before(self) -> list[Any]:
        """Middleware classes run around every task, after each task's own."""
        ...

    @property
    def middlewares_after(self) -> list[Any]: ...
    @property
    def injectors(self) -> Sequence[InjectorFactory]:
        """The argument injectors every worker applies where a task needs them."""
        ...

    @property
    def task_count(self) -> int:
        """How many tasks the app knows (its own and shared ones)."""
        ...

    def find_task(self, name: str) -> TaskSpec | None:
        """The task registered under `name`, or None."""
        ...

    def echo_handle(self, spec: TaskSpec, record: TaskRecord) -> Any:
        """The `self` an `echo=True` task receives."""
        ...


__all__ = ["Events", "Injector", "InjectorFactory", "Log", "Runtime", "Service"]
