"""Pydantic models as task parameters and results, built into every worker.

A parameter annotated with a `pydantic.BaseModel` subclass (also inside `Annotated[...]`
or `Optional[...]`) receives a model built from the call's arguments:

- a keyword argument named like the parameter is validated as the whole model;
- otherwise keyword arguments named like the model's fields (or their aliases) fill
  those fields, then the remaining positional arguments fill the other fields in field
  order, starting where the parameter stands in the signature;
- the arguments used are removed and the model takes the parameter's place.

A result that is a model (or a list/dict of models) is stored as
`model_dump(mode="json")` when the task has a model parameter or a return annotation
naming a model. A model that cannot be built fails the task with
`ValueError("Error while building the model for 'p': ...")`.

This module never imports pydantic: a model class exists only if its program did.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, ClassVar

from qtasks._compat_hook import compat_attribute
from qtasks.plugins._injection import (
    ARGS_REPLACE,
    EMPTY,
    RESULT_REPLACE,
    Injector,
    Param,
    positional_start,
    return_annotation,
    walk_types,
)

if TYPE_CHECKING:
    from qtasks.core.models import TaskSpec
    from qtasks.engine.executor import TaskExecutor


def _base_model() -> Any:
    module = sys.modules.get("pydantic")
    return getattr(module, "BaseModel", None) if module is not None else None


def is_model_class(annotation: Any) -> bool:
    base = _base_model()
    return base is not None and isinstance(annotation, type) and issubclass(annotation, base)


class PydanticWrapperPlugin(Injector):
    """Builds model parameters from the call's arguments and dumps model results."""

    TRIGGERS: ClassVar[tuple[str, ...]] = (ARGS_REPLACE, RESULT_REPLACE)

    @classmethod
    def owns(cls, param: Param) -> bool:
        return is_model_class(param.annotation)

    @classmethod
    def applies(cls, schema: TaskSpec) -> bool:
        if _base_model() is None:
            return False
        if super().applies(schema):
            return True
        returns = return_annotation(schema.func)
        return any(is_model_class(t) for t in walk_types(returns))

    async def inject(
        self,
        executor: TaskExecutor,
        params: tuple[Param, ...],
        args: list[Any],
        kw: dict[str, Any],
    ) -> dict[str, Any]:
        names = {p.name for p in params}
        values: dict[str, Any] = {}
        for param in params:
            if not is_model_class(param.annotation):
                continue
            start = len(args)
            if param.position is not None:
                start = positional_start(executor, params, param, kw)
            try:
                values[param.name] = _build(param, names, args, kw, start)
            except Exception as exc:
                # A plain ValueError: its line in the stored traceback is documented.
                raise ValueError(
                    f"Error while building the model for {param.name!r}: {exc}"
                ) from exc
        return values

    async def replace_result(self, executor: TaskExecutor, result: Any) -> dict[str, Any] | None:
        base = _base_model()
        if base is None:
            return None
        dumped = _dump(result, base)
        return None if dumped is result else {"result": dumped}


def _build(param: Param, names: set[str], args: list[Any], kw: dict[str, Any], start: int) -> Any:
    """The model for `param` from kw (fields by name or alias) and args[start:] (the
    other fields, in field order); the arguments used are removed."""
    model_cls = param.annotation
    if param.name in kw:
        value = kw.pop(param.name)
        return value if isinstance(value, model_cls) else model_cls.model_validate(value)
    fields = model_cls.model_fields
    data: dict[str, Any] = {}
    given: set[str] = set()
    for field_name, info in fields.items():
        for key in _keys(field_name, info):
            if key in kw and key not in names:  # a parameter's own argument stays its own
                data[key] = kw.pop(key)
                given.add(field_name)
                break
    if not data and len(args) > start:
        whole = args[start]
        if isinstance(whole, model_cls):
            return args.pop(start)
        if isinstance(whole, dict):
            try:
                model = model_cls.model_validate(whole)
            except Exception:
                pass  # not the whole model: a dict for its first field
            else:
                del args[start]
                return model
    for field_name, info in fields.items():
        if len(args) <= start:
            break
        if field_name not in given:
            data[info.alias or field_name] = args.pop(start)
    if not data and param.default is not EMPTY:
        return param.default  # nothing given: the parameter's default
    return model_cls.model_validate(data)


def _keys(field_name: str, info: Any) -> list[str]:
    keys = [field_name]
    for alias in (getattr(info, "alias", None), getattr(info, "validation_alias", None)):
        if isinstance(alias, str) and alias not in keys:
            keys.append(alias)
    return keys


def _dump(value: Any, base: Any) -> Any:
    """Models inside `value` as JSON-ready data; `value` itself when there are none."""
    if isinstance(value, base):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        items = [_dump(v, base) for v in value]
        if any(a is not b for a, b in zip(items, value, strict=True)):
            return items
        return value
    if isinstance(value, dict):
        pairs = {k: _dump(v, base) for k, v in value.items()}
        if any(pairs[k] is not v for k, v in value.items()):
            return pairs
        return value
    return value


#: QTasks 1.7's submodule paths beneath this module (`.async_pydantic`, `.sync_pydantic`)
#: import too: the compat finder serves them, and submodules need a `__path__`.
__path__: list[str] = []

__all__ = [
    "PydanticWrapperPlugin",
    "is_model_class",
]


def __getattr__(name: str) -> Any:
    """QTasks 1.7 names kept in `qtasks.compat` (table: `qtasks._compat_paths`)."""
    return compat_attribute(__name__, name)
