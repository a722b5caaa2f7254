"""What the built-in argument injectors (Pydantic, Depends, State) share: reading a task
function's parameters once, and binding injected values into a call.

Nothing here imports pydantic or touches I/O.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import types
import typing
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from qtasks.exc import HookAbort
from qtasks.plugins.base import BasePlugin

if TYPE_CHECKING:
    from qtasks.core.models import TaskSpec
    from qtasks.engine.executor import TaskExecutor

ARGS_REPLACE = "task_executor_args_replace"
RESULT_REPLACE = "task_executor_after_execute_result_replace"
TASK_CLOSE = "task_executor_task_close"

EMPTY: Any = inspect.Parameter.empty


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter of a task function, with its annotation resolved."""

    name: str
    #: Index among the positional parameters, or None (keyword-only, *args, **kwargs).
    position: int | None
    #: The annotation with `Annotated[...]` and `Optional[...]` unwrapped.
    annotation: Any
    #: `Annotated` metadata, outermost last.
    metadata: tuple[Any, ...]
    #: The resolved annotation before unwrapping.
    raw: Any
    default: Any


_PARAMS: weakref.WeakKeyDictionary[Any, tuple[Param, ...]] = weakref.WeakKeyDictionary()


def task_params(func: Callable[..., Any]) -> tuple[Param, ...]:
    """The named parameters of `func` (not *args/**kwargs), worked out once per function."""
    try:
        return _PARAMS[func]
    except (KeyError, TypeError):
        pass
    params = _read_params(func)
    try:
        _PARAMS[func] = params
    except TypeError:  # not weak-referenceable: just don't cache
        pass
    return params


def return_annotation(func: Callable[..., Any]) -> Any:
    return resolved_hints(func).get("return", EMPTY)


def _read_params(func: Callable[..., Any]) -> tuple[Param, ...]:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return ()
    hints = resolved_hints(func)
    params = []
    position = 0
    for p in signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        index: int | None = None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            index, position = position, position + 1
        raw = hints.get(p.name, p.annotation)
        annotation, metadata = unwrap(raw)
        params.append(Param(p.name, index, annotation, metadata, raw, p.default))
    return tuple(params)


def resolved_hints(func: Callable[..., Any]) -> dict[str, Any]:
    """Annotations with strings (``from __future__ import annotations``) evaluated in the
    function's module, keeping `Annotated` metadata. An annotation that cannot be
    evaluated stays a string; the others are still resolved."""
    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception:
        pass
    target = inspect.unwrap(func)
    try:
        raw = dict(inspect.get_annotations(target))
    except Exception:
        return {}
    namespace = dict(getattr(target, "__globals__", {}))
    hints = {}
    for name, annotation in raw.items():
        if isinstance(annotation, str):
            try:
                # The task's own source text, evaluated like typing.get_type_hints does.
                annotation = eval(annotation, namespace)
            except Exception:
                pass
        hints[name] = annotation
    return hints


def unwrap(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    """`Annotated[Optional[T], m1, m2]` -> (T, (m1, m2))."""
    metadata: tuple[Any, ...] = ()
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            metadata = (*annotation.__metadata__, *metadata)
            annotation = typing.get_args(annotation)[0]
        elif origin is typing.Union or origin is types.UnionType:
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation, metadata
            annotation = members[0]
        else:
            return annotation, metadata


def walk_types(annotation: Any) -> typing.Iterator[Any]:
    """`annotation` and every type nested in it (`list[Item]`, `Item | None`...)."""
    yield annotation
    for arg in typing.get_args(annotation):
        yield from walk_types(arg)


class Injector(BasePlugin):
    """Base of the built-in injectors: chosen per task by `applies(schema)`, registered
    on `TRIGGERS`, and created once per task name per worker. Anything that must live
    for one execution only is keyed by the task's uuid (`task_executor.record.uuid`) or
    kept on the executor, which exists for one execution."""

    TRIGGERS: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        KINDS.append(cls)

    @classmethod
    def owns(cls, param: Param) -> bool:
        """Whether this injector provides `param`'s value."""
        raise NotImplementedError

    @classmethod
    def applies(cls, schema: TaskSpec) -> bool:
        return any(cls.owns(p) for p in task_params(schema.func))

    async def trigger(self, name: str, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        """The QTasks 1.7 face of an injector, for code that registers one by hand."""
        executor: TaskExecutor | None = kwargs.get("task_executor")
        if executor is None:
            return None
        if name == ARGS_REPLACE:
            try:
                call_args, call_kw = await self.prepare(
                    executor, list(kwargs.get("args") or ()), dict(kwargs.get("kw") or {})
                )
            except Exception as exc:
                raise HookAbort(f"{type(self).__name__} could not prepare the arguments") from exc
            return {"args": call_args, "kw": call_kw}
        if name == RESULT_REPLACE:
            return await self.replace_result(executor, kwargs.get("result"))
        if name == TASK_CLOSE:
            await self.close(executor)
        return None

    # --- what the engine calls (see qtasks.core.runtime.Injector) ---------------------------
    async def prepare(
        self, executor: TaskExecutor, args: list[Any], kw: dict[str, Any]
    ) -> tuple[list[Any], dict[str, Any]]:
        """The call's arguments with this injector's values added; raises to fail the
        execution. Runs once per execution even when also registered by hand."""
        if type(self) in executor.injection.ran:
            return args, kw
        executor.injection.ran.add(type(self))
        params = task_params(executor.task_func.func)
        values = await self.inject(executor, params, args, kw)
        place(executor, params, args, kw, values)
        return args, kw

    async def finish(self, executor: TaskExecutor, result: Any) -> Any:
        """The result to store in place of `result`."""
        changes = await self.replace_result(executor, result)
        return changes["result"] if changes and "result" in changes else result

    async def inject(
        self,
        executor: TaskExecutor,
        params: tuple[Param, ...],
        args: list[Any],
        kw: dict[str, Any],
    ) -> dict[str, Any]:
        """The values of the parameters this injector owns, by name. May consume
        positional arguments from `args` (the Pydantic injector does)."""
        return {}

    async def replace_result(self, executor: TaskExecutor, result: Any) -> dict[str, Any] | None:
        return None

    async def close(self, executor: TaskExecutor) -> None:
        return None


# --- binding injected values ----------------------------------------------------------------------
#
# The rule a task's author can rely on: keyword arguments go to their parameter, injected
# values to theirs, and the positional arguments fill the *other* parameters in order.
# Python cannot skip a positional parameter, so an injected (or keyword) value that sits
# before a positional argument is moved into `args` at its parameter's place. Injectors
# run one after another, each seeing the previous one's args/kw; the names already moved
# are remembered on the executor so every step reads `args` the same way.


#: Every injector class defined (each subclass of `Injector` adds itself).
KINDS: list[type[Injector]] = []


def owned(param: Param) -> bool:
    """Whether any injector provides `param`."""
    return any(cls.owns(param) for cls in KINDS)


_OWNED: weakref.WeakKeyDictionary[Any, frozenset[str]] = weakref.WeakKeyDictionary()


def owned_names(func: Callable[..., Any]) -> frozenset[str]:
    """Names of `func`'s parameters that injectors provide, worked out once."""
    try:
        return _OWNED[func]
    except (KeyError, TypeError):
        pass
    names = frozenset(p.name for p in task_params(func) if owned(p))
    with contextlib.suppress(TypeError):
        _OWNED[func] = names
    return names


def positional_start(
    executor: TaskExecutor, params: tuple[Param, ...], target: Param, kw: dict[str, Any]
) -> int:
    """Index in `args` of the first positional argument that would go to `target`."""
    placed = executor.injection.placed
    owners = owned_names(executor.task_func.func)
    index = 0
    for param in params:
        if param is target:
            break
        if param.position is None:
            continue
        if param.name in owners:
            index += param.name in placed
        elif param.name not in kw:
            index += 1
    return index


def place(
    executor: TaskExecutor,
    params: tuple[Param, ...],
    args: list[Any],
    kw: dict[str, Any],
    values: dict[str, Any],
) -> None:
    """Add injected `values` to the call, keeping positional arguments where they belong."""
    kw.update(values)
    if not args:
        return
    placed = executor.injection.placed
    owners = owned_names(executor.task_func.func)
    queue = list(args)
    out: list[Any] = []
    for param in params:
        if not queue:
            break
        if param.position is None:
            continue
        if param.name in owners:
            if param.name in placed:
                out.append(queue.pop(0))
            elif param.name in kw:
                out.append(kw.pop(param.name))
                placed.add(param.name)
            else:
                break  # its injector has not run yet and will place it
        elif param.name in kw:
            out.append(kw.pop(param.name))
        else:
            out.append(queue.pop(0))
    out.extend(queue)
    args[:] = out


__all__ = [
    "ARGS_REPLACE",
    "EMPTY",
    "RESULT_REPLACE",
    "TASK_CLOSE",
    "Injector",
    "Param",
    "owned",
    "owned_names",
    "place",
    "positional_start",
    "resolved_hints",
    "return_annotation",
    "task_params",
    "unwrap",
    "walk_types",
]
