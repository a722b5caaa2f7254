"""Nothing in qtasks outside `qtasks/compat` imports `qtasks.compat`, neither by its name
nor through a 1.7 path or name the compat table serves; `if TYPE_CHECKING:` blocks and
function-level imports count. Only the path table names compat modules, and it imports
nothing."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import qtasks
from qtasks._compat_hook import compat_module_name
from qtasks._compat_paths import NAMES

SRC = Path(qtasks.__file__).resolve().parent
TABLE = SRC / "_compat_paths.py"
DOTTED = re.compile(r"qtasks(\.\w+)+")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(path: Path) -> str:
    name = _module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    base = package.split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _is_compat(name: str) -> bool:
    return name == "qtasks.compat" or name.startswith("qtasks.compat.")


def _serves_compat(name: str) -> bool:
    """`name` is qtasks.compat or a 1.7 path whose module is a compat one."""
    return _is_compat(name) or compat_module_name(name) is not None


def violations(source: str, package: str) -> Iterator[str]:
    """Each import of compat (or of a path or name it serves) in `source`, a module of
    `package`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _serves_compat(alias.name):
                    yield f"line {node.lineno}: import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            if _serves_compat(module):
                yield f"line {node.lineno}: from {module} import ..."
                continue
            compat_names = NAMES.get(module, ("", ()))[1]
            for alias in node.names:
                if _serves_compat(f"{module}.{alias.name}") or alias.name in compat_names:
                    yield f"line {node.lineno}: from {module} import {alias.name}"
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and DOTTED.fullmatch(node.value)
            and _serves_compat(node.value)
        ):
            yield f"line {node.lineno}: module path {node.value!r}"


def _modules_outside_compat() -> list[Path]:
    return sorted(
        path
        for path in SRC.rglob("*.py")
        if "compat" not in path.relative_to(SRC).parts[:1] and path != TABLE
    )


def test_no_module_outside_compat_imports_it() -> None:
    found = []
    for path in _modules_outside_compat():
        for problem in violations(path.read_text(encoding="utf-8"), _package(path)):
            found.append(f"{path.relative_to(SRC.parent)} {problem}")
    assert not found, "\n".join(found)


def test_the_path_table_imports_nothing() -> None:
    tree = ast.parse(TABLE.read_text(encoding="utf-8"))
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not imports


def test_the_walk_covers_the_package() -> None:
    names = {_module_name(p) for p in _modules_outside_compat()}
    assert {"qtasks", "qtasks._compat_hook", "qtasks.plugins.depends", "qtasks.utils"} <= names
    assert not any(_is_compat(name) for name in names)


@pytest.mark.parametrize(
    "source",
    [
        "import qtasks.compat",
        "import qtasks.compat.brokers as b",
        "from qtasks import compat",
        "from qtasks.compat.schemas import task_exec",
        "from . import compat",
        "from .compat.workers import AsyncWorker",
        "from qtasks import brokers",
        "import qtasks.schemas.task_exec",
        "from qtasks.utils.tasks.chains.sync_chains import SyncChain",
        "from qtasks.plugins import AsyncDependsPlugin",
        "from qtasks.registries import TaskRegistry",
        "from .registries import SyncTask",
        "import importlib\nimportlib.import_module('qtasks.compat.results')",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from qtasks.enums import X\n",
        "def f():\n    from qtasks.results import SyncResult\n",
    ],
)
def test_the_check_catches(source: str) -> None:
    assert list(violations(source, "qtasks"))


@pytest.mark.parametrize(
    "source",
    [
        "from qtasks.plugins.base import BasePlugin",
        "from qtasks.plugins import BasePlugin, Depends",
        "from qtasks.registries.registry import TaskRegistry",
        "from qtasks.configs import QueueConfig",
        "from qtasks.chains import SyncChain",
        "from . import base",
        '"""Names live in `qtasks.compat` (see qtasks.compat.brokers)."""',
    ],
)
def test_the_check_lets_real_imports_pass(source: str) -> None:
    assert not list(violations(source, "qtasks.plugins"))


def test_every_compat_path_has_a_stub_for_type_checkers() -> None:
    """Type checkers do not run the import hook: each 1.7 path has a `.pyi` stub that
    re-exports its compat module, so `mypy` sees `qtasks.schemas.task` and the rest."""
    import importlib
    import pathlib

    from qtasks._compat_paths import MODULES

    src = pathlib.Path(__file__).resolve().parents[2] / "src"
    for old, new in MODULES.items():
        parts = old.split(".")
        module_file = importlib.import_module(new).__file__ or ""
        if module_file.endswith("__init__.py"):
            stub = src.joinpath(*parts, "__init__.pyi")
        else:
            stub = src.joinpath(*parts[:-1], parts[-1] + ".pyi")
        assert stub.is_file(), f"no stub for {old} at {stub}"
        assert f"from {new} import *" in stub.read_text(), stub
