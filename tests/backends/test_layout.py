"""The backends' rooms: a backend package imports only the core, the error tree, the
shared helpers of `qtasks.backends` and itself; no module is longer than 500 lines; the
Lua scripts are package data."""

from __future__ import annotations

import ast
from importlib.resources import files
from pathlib import Path

import pytest

import qtasks.backends

ROOT = Path(qtasks.backends.__file__).parent
PACKAGES = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").exists())
SHARED = ("qtasks.core", "qtasks.exc", "qtasks.backends.base", "qtasks.backends.bridge")
SHARED += ("qtasks.backends.signals", "qtasks.backends.rows", "qtasks.backends.paired")


def imported(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            module = node.module or ""
            for alias in node.names:  # `from qtasks.backends import rows` imports a module
                sub = f"{module}.{alias.name}"
                if (ROOT.parent / Path(*sub.split(".")[1:])).with_suffix(".py").exists():
                    found.add(sub)
                else:
                    found.add(module)
    return {name for name in found if name == "qtasks" or name.startswith("qtasks.")}


@pytest.mark.parametrize("package", PACKAGES)
def test_a_backend_package_imports_only_what_it_may(package: str) -> None:
    own = f"qtasks.backends.{package}"
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imported(path):
            allowed = name == own or name.startswith(own + ".")
            allowed = allowed or any(name == s or name.startswith(s + ".") for s in SHARED)
            assert allowed, f"{path.relative_to(ROOT)} imports {name}"


def test_no_backend_module_is_longer_than_500_lines() -> None:
    for path in sorted(ROOT.rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 500, f"{path.relative_to(ROOT)}: {lines} lines"


def test_every_lua_file_is_a_script_or_a_helper_in_use() -> None:
    from qtasks.backends.redis import scripts

    sources = [s.source for s in vars(scripts).values() if isinstance(s, scripts.Script)]
    for lua in files("qtasks.backends.redis").joinpath("scripts").iterdir():
        name = lua.name.removesuffix(".lua")
        if name.startswith("_"):  # a helper: pasted into some script
            body = scripts._read(name)
            assert any(body in source for source in sources), lua.name
        else:
            assert hasattr(scripts, name.upper()), lua.name
