"""State shared by the tasks of one app within one worker process.

Subclass `AsyncState` (awaited methods) or `SyncState` (plain methods) and annotate a
task parameter with the subclass (`Annotated[MyState, ...]` works too); the worker
passes an instance by parameter name. Every task of that app asking for the same class
sees the same data, whichever app facade runs it and whether the task function is sync
(running in a worker thread) or async: each state class has one bucket per app, guarded
by a `threading.Lock` that is held only for the dictionary operation itself.

State is in memory: it is not persisted, and not shared between processes or hosts.
Two apps in one process have separate state.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from qtasks._compat_hook import compat_attribute
from qtasks.plugins._injection import ARGS_REPLACE, Injector, Param

if TYPE_CHECKING:
    from qtasks.engine.executor import TaskExecutor

S = TypeVar("S", bound="BaseState")


class _Bucket:
    __slots__ = ("data", "lock")

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.lock = threading.Lock()


class BaseState:
    """The operations both state kinds share; each holds the lock only briefly."""

    def __init__(self) -> None:
        # A state built by hand (not injected) keeps its own data.
        self._bucket = _Bucket()

    def _bind(self, bucket: _Bucket) -> None:
        self._bucket = bucket

    def _get(self, key: str | None, default: Any) -> Any:
        bucket = self._bucket
        with bucket.lock:
            return dict(bucket.data) if key is None else bucket.data.get(key, default)

    def _set(self, key: str, value: Any) -> None:
        bucket = self._bucket
        with bucket.lock:
            bucket.data[key] = value

    def _update(self, values: dict[str, Any]) -> dict[str, Any]:
        bucket = self._bucket
        with bucket.lock:
            bucket.data.update(values)
            return dict(bucket.data)

    def _delete(self, key: str) -> None:
        bucket = self._bucket
        with bucket.lock:
            bucket.data.pop(key, None)

    def _clear(self) -> None:
        bucket = self._bucket
        with bucket.lock:
            bucket.data.clear()

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} {self._get(None, None)!r}>"


class SyncState(BaseState):
    """State with plain methods (for sync task functions)."""

    def get(self, key: str | None = None, default: Any = None) -> Any:
        """The value of `key` (`default` if missing); with no key, a copy of everything."""
        return self._get(key, default)

    def get_all(self) -> dict[str, Any]:
        return dict(self._get(None, None))

    def set(self, key: str, value: Any) -> None:
        self._set(key, value)

    def update(self, **values: Any) -> dict[str, Any]:
        """Set several keys at once; returns a copy of the whole state."""
        return self._update(values)

    def delete(self, key: str) -> None:
        """Remove `key` (no error if it is missing)."""
        self._delete(key)

    def clear(self) -> None:
        self._clear()


class AsyncState(BaseState):
    """State with awaited methods (for async task functions)."""

    async def get(self, key: str | None = None, default: Any = None) -> Any:
        """The value of `key` (`default` if missing); with no key, a copy of everything."""
        return self._get(key, default)

    async def get_all(self) -> dict[str, Any]:
        return dict(self._get(None, None))

    async def set(self, key: str, value: Any) -> None:
        self._set(key, value)

    async def update(self, **values: Any) -> dict[str, Any]:
        """Set several keys at once; returns a copy of the whole state."""
        return self._update(values)

    async def delete(self, key: str) -> None:
        """Remove `key` (no error if it is missing)."""
        self._delete(key)

    async def clear(self) -> None:
        self._clear()


class StateRegistry:
    """The state of one app in this process: one bucket and instance per state class."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._instances: dict[type[BaseState], BaseState] = {}

    def instance(self, cls: type[S]) -> S:
        with self._lock:
            state = self._instances.get(cls)
            if state is None:
                state = cls()
                state._bind(_Bucket())
                self._instances[cls] = state
            return state  # type: ignore[return-value]


_REGISTRIES: weakref.WeakKeyDictionary[Any, StateRegistry] = weakref.WeakKeyDictionary()
_REGISTRIES_LOCK = threading.Lock()
_NO_APP = StateRegistry()


def registry_for(app: Any) -> StateRegistry:
    """The state registry of `app` (created on first use)."""
    if app is None:
        return _NO_APP
    with _REGISTRIES_LOCK:
        registry = _REGISTRIES.get(app)
        if registry is None:
            registry = _REGISTRIES[app] = StateRegistry()
        return registry


def state_class_of(param: Param) -> type[BaseState] | None:
    annotation = param.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseState):
        return annotation
    return None


class StatePlugin(Injector):
    """Passes each state parameter its app's shared instance."""

    TRIGGERS: ClassVar[tuple[str, ...]] = (ARGS_REPLACE,)

    @classmethod
    def owns(cls, param: Param) -> bool:
        return state_class_of(param) is not None

    async def inject(
        self,
        executor: TaskExecutor,
        params: tuple[Param, ...],
        args: list[Any],
        kw: dict[str, Any],
    ) -> dict[str, Any]:
        registry = registry_for(executor.app)
        values: dict[str, Any] = {}
        for param in params:
            cls = state_class_of(param)
            if cls is not None:
                values[param.name] = registry.instance(cls)
        return values


#: QTasks 1.7's submodule paths beneath this module (`.fsm`, `.registry`, ...)
#: import too: the compat finder serves them, and submodules need a `__path__`.
__path__: list[str] = []

__all__ = [
    "AsyncState",
    "BaseState",
    "StatePlugin",
    "StateRegistry",
    "SyncState",
    "registry_for",
    "state_class_of",
]


def __getattr__(name: str) -> Any:
    """QTasks 1.7 names kept in `qtasks.compat` (table: `qtasks._compat_paths`)."""
    return compat_attribute(__name__, name)
