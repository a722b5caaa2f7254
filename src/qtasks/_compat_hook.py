"""The import hook that keeps QTasks 1.7's import paths working (see `qtasks.compat`).

`install()` (called by `qtasks/__init__.py`) puts one `CompatFinder` first on
`sys.meta_path`. Importing an original path listed in `qtasks._compat_paths.MODULES`
(`qtasks.brokers`, `qtasks.schemas.task_exec`, ...) imports its compat module and
registers that same module object under the original name, as `os.path` is `posixpath`:
`qtasks.brokers is sys.modules["qtasks.compat.brokers"]`. The module keeps its own
`__name__` and `__spec__`. Real modules of ours reach their 1.7-only names through
`compat_attribute()` from a module-level `__getattr__`.

Nothing is imported until asked for, and names come from the table, so no module outside
`qtasks.compat` holds an import of it.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from qtasks._compat_paths import ALIASES, MODULES, NAMES

if TYPE_CHECKING:
    import importlib.abc


def compat_module_name(fullname: str) -> str | None:
    """The compat module that serves original path `fullname`, or None."""
    target = MODULES.get(fullname)
    if target is not None:
        return target
    parent = fullname.rpartition(".")[0]
    while parent:  # a submodule of a mapped package follows its package
        if parent in MODULES:
            return MODULES[parent] + fullname[len(parent) :]
        parent = parent.rpartition(".")[0]
    return None


class CompatFinder:
    """Finds original paths and loads each as its compat module (same object). A meta
    path finder and loader by protocol (`find_spec`, `create_module`, `exec_module`):
    subclassing `importlib.abc` would import `importlib.resources` and friends into
    every process for nothing."""

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("qtasks."):
            return None
        if fullname in ALIASES:
            loader = cast("importlib.abc.Loader", _AliasLoader())
            return importlib.machinery.ModuleSpec(fullname, loader, is_package=True)
        compat_name = compat_module_name(fullname)
        if compat_name is None:
            return None
        if fullname not in MODULES and _find_spec(compat_name) is None:
            return None  # no such submodule: the usual ModuleNotFoundError follows
        loader = cast("importlib.abc.Loader", self)  # a Loader by protocol
        return importlib.machinery.ModuleSpec(fullname, loader, loader_state=compat_name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(spec.loader_state)
        # the import system sets __spec__ to the alias' spec; exec_module puts it back
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        alias_spec = module.__spec__
        if alias_spec is not None and alias_spec.loader is cast(Any, self):
            module.__spec__ = alias_spec.loader_state


class _AliasLoader:
    """Builds an original module that only names objects living elsewhere (an `ALIASES`
    entry): each name is imported when first read, and the module is a package with no
    files, so the original's deeper paths beneath it import too."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = ModuleType(spec.name, f"QTasks 1.7 path {spec.name}; see qtasks.compat.")
        targets = ALIASES[spec.name]
        module.__all__ = list(targets)  # type: ignore[attr-defined]

        def __getattr__(name: str) -> Any:
            target = targets.get(name)
            if target is None:
                raise AttributeError(f"module {spec.name!r} has no attribute {name!r}")
            holder, _, attribute = target.partition(":")
            value = getattr(importlib.import_module(holder), attribute or name)
            setattr(module, name, value)  # read once
            return value

        def __dir__() -> list[str]:
            return sorted(set(targets) | set(vars(module)))

        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        module.__dir__ = __dir__  # type: ignore[method-assign]
        return module

    def exec_module(self, module: ModuleType) -> None:
        pass


def _find_spec(name: str) -> importlib.machinery.ModuleSpec | None:
    """`importlib.util.find_spec` for a module whose package can be imported."""
    parent = name.rpartition(".")[0]
    package = importlib.import_module(parent)
    for finder in sys.meta_path:
        if isinstance(finder, CompatFinder):
            continue
        spec = finder.find_spec(name, getattr(package, "__path__", None))
        if spec is not None:
            return spec
    return None


def compat_attribute(module_name: str, name: str) -> Any:
    """1.7 name `name` of real module `module_name`, from the compat module holding it;
    `AttributeError` for any other name."""
    holder, names = NAMES.get(module_name, ("", ()))
    if name not in names:
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
    return getattr(importlib.import_module(holder), name)


def install() -> None:
    """Put the finder first on `sys.meta_path` (once per process)."""
    if not any(isinstance(finder, CompatFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, CompatFinder())


__all__ = ["CompatFinder", "compat_attribute", "compat_module_name", "install"]
