"""The layer rules of docs/architecture.md, checked on the source: who may import whom
(every import counts: module level, inside functions and under `if TYPE_CHECKING:`),
no import cycle between qtasks modules, no module over 500 lines."""

from __future__ import annotations

import ast
import pathlib
import sys
from collections.abc import Iterator

import pytest

SRC = pathlib.Path(__file__).resolve().parents[2] / "src"
ROOT = SRC / "qtasks"
MAX_LINES = 500

#: Backend packages: each may use the shared backend modules, never another package.
SHARED_BACKEND_MODULES = (
    "qtasks.backends",
    "qtasks.backends.base",
    "qtasks.backends.bridge",
    "qtasks.backends.signals",
    "qtasks.backends.paired",
    "qtasks.backends.rows",
)
#: What the plugins may reach of the engine: its declared injection point.
INJECTION_POINT = ("qtasks.engine.injection", "qtasks.engine.executor", "qtasks.engine.threads")
#: How a real module serves its QTasks 1.7-only names (by name, from the compat table).
COMPAT_HOOK = "qtasks._compat_hook"
#: The public API the outer clients (CLI, contrib, later web, metrics) use.
PUBLIC_API = (
    "qtasks",
    "qtasks.asyncio",
    "qtasks.exc",
    "qtasks.logs",
    "qtasks.configs",
    "qtasks.core",
)
OUTER_CLIENTS = (
    "qtasks.__main__",
    "qtasks.cli",
    "qtasks.contrib",
    "qtasks.web",
    "qtasks.metrics",
    "qtasks.tracing",
)
#: Outer clients another outer client may use: `qtasks run --metrics-port` serves the
#: metrics package's exporter; a framework's own command line offers the `qtasks`
#: command (`manage.py qtasks`, `flask qtasks`).
CLIENT_TO_CLIENT = {
    ("qtasks.cli", "qtasks.metrics"),
    ("qtasks.contrib", "qtasks.cli"),
    ("qtasks.contrib", "qtasks.web"),  # the dashboard in a Django URLconf
    ("qtasks.web", "qtasks.metrics"),  # the dashboard's /metrics
}
#: Outer clients the CLI may start, by the command that starts them (`qtasks web`).
CLI_LAUNCHES = {"qtasks.cli.web": "qtasks.web"}
#: Third-party modules the pure core may use besides the standard library.
CORE_THIRD_PARTY = {"orjson"}  # the one required dependency: JSON encoding, no I/O


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def in_layer(name: str, layer: str) -> bool:
    return name == layer or name.startswith(layer + ".")


def resolve(name: str) -> str | None:
    """The qtasks module `name` refers to (the longest existing prefix)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> Iterator[tuple[str, int]]:
    """(imported name, line) for every import in `module`, relative ones resolved."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            submodules = [
                f"{source}.{alias.name}"
                for alias in node.names
                if f"{source}.{alias.name}" in MODULES  # `from qtasks import brokers`
            ]
            if len(submodules) < len(node.names):  # a name defined in `source` itself
                yield source, node.lineno
            for name in submodules:
                yield name, node.lineno


def qtasks_imports(module: str) -> set[str]:
    out = set()
    for name, _ in imports_of(module):
        if name == "qtasks" or name.startswith("qtasks."):
            target = resolve(name)
            if target is not None and target != module:
                out.add(target)
    return out


GRAPH = {m: qtasks_imports(m) for m in MODULES}


def allowed(module: str, target: str) -> bool:
    """The rules, as written in docs/architecture.md."""
    if in_layer(target, "qtasks.compat"):
        return in_layer(module, "qtasks.compat")
    if in_layer(module, "qtasks.compat"):
        return True
    if in_layer(module, "qtasks.exc"):
        return in_layer(target, "qtasks.exc")
    if in_layer(module, "qtasks.core"):
        return in_layer(target, "qtasks.core") or in_layer(target, "qtasks.exc")
    if in_layer(module, "qtasks.engine"):
        return any(in_layer(target, t) for t in ("qtasks.engine", "qtasks.core", "qtasks.exc")) or (
            target == "qtasks.logs"
        )
    if in_layer(module, "qtasks.backends"):
        return _backend_allowed(module, target)
    if in_layer(module, "qtasks.scheduler"):  # the app runs it; it sees the core's ports
        return any(in_layer(target, t) for t in ("qtasks.scheduler", "qtasks.core", "qtasks.exc"))
    if in_layer(module, "qtasks.plugins"):
        return (
            any(in_layer(target, t) for t in ("qtasks.plugins", "qtasks.core", "qtasks.exc"))
            or target in INJECTION_POINT
            or target in ("qtasks.logs", COMPAT_HOOK)
        )
    if module == "qtasks.__main__":  # `python -m qtasks` is the CLI (and 1.7's helpers)
        return in_layer(target, "qtasks.cli") or target == COMPAT_HOOK
    if module in CLI_LAUNCHES and in_layer(target, CLI_LAUNCHES[module]):
        return True
    if any(in_layer(module, client) for client in OUTER_CLIENTS):
        own = next(c for c in OUTER_CLIENTS if in_layer(module, c))
        if any(in_layer(target, t) for c, t in CLIENT_TO_CLIENT if c == own):
            return True
        return in_layer(target, own) or any(
            target == api or (api != "qtasks" and in_layer(target, api)) for api in PUBLIC_API
        )
    # The app and its public modules (registries, routers, contexts, events...) form the
    # composition root: anything but the outer clients.
    return not any(in_layer(target, client) for client in OUTER_CLIENTS)


def _backend_allowed(module: str, target: str) -> bool:
    if any(in_layer(target, t) for t in ("qtasks.core", "qtasks.exc")):
        return True
    if target in SHARED_BACKEND_MODULES:
        return True
    own = _backend_package(module)
    return own is not None and in_layer(target, own)


def _backend_package(module: str) -> str | None:
    """`qtasks.backends.redis` for any module inside that package, None for the shared ones."""
    if module in SHARED_BACKEND_MODULES:
        return None
    parts = module.split(".")
    return ".".join(parts[:3]) if len(parts) >= 3 else None


# Modules being moved into the compatibility package keep their old place for now.
LEGACY: set[str] = set()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_layer_rules(module: str) -> None:
    if module in LEGACY:
        pytest.skip("QTasks 1.7 component names, moving into the compatibility package")
    broken = sorted(t for t in GRAPH[module] if not allowed(module, t))
    assert not broken, f"{module} may not import {broken} (see docs/architecture.md)"


def test_core_uses_only_the_standard_library() -> None:
    stdlib = set(sys.stdlib_module_names) | CORE_THIRD_PARTY
    for module in MODULES:
        if not in_layer(module, "qtasks.core"):
            continue
        for name, line in imports_of(module):
            top = name.split(".")[0]
            assert top == "qtasks" or top in stdlib or top == "__future__", (
                f"{module}:{line} imports {name}"
            )
        assert "asyncio" not in {n.split(".")[0] for n, _ in imports_of(module)}, module


def test_no_import_cycles() -> None:
    cycles = _cycles(GRAPH)
    assert not cycles, f"import cycles: {cycles}"


def test_no_module_over_the_line_limit() -> None:
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_rules_catch_what_they_forbid() -> None:
    assert not allowed("qtasks.core.models", "qtasks.engine.worker")
    assert not allowed("qtasks.engine.worker", "qtasks.app.base")
    assert not allowed("qtasks.engine.worker", "qtasks.plugins.depends")
    assert not allowed("qtasks.backends.redis.backend", "qtasks.backends.sqlite")
    assert not allowed("qtasks.backends.sqlite.ops", "qtasks.engine.worker")
    assert not allowed("qtasks.app.base", "qtasks.compat.brokers")
    assert not allowed("qtasks.cli.run", "qtasks.engine.worker")
    assert not allowed("qtasks.scheduler.runner", "qtasks.app.base")
    assert not allowed("qtasks.scheduler.runner", "qtasks.backends.redis")
    assert not allowed("qtasks.engine.server", "qtasks.scheduler.runner")
    assert allowed("qtasks.app.schedules", "qtasks.scheduler.runner")
    assert not allowed("qtasks.metrics.plugin", "qtasks.engine.worker")
    assert not allowed("qtasks.tracing", "qtasks.app.base")
    assert not allowed("qtasks.metrics", "qtasks.cli")
    assert allowed("qtasks.cli.run", "qtasks.metrics")
    assert not allowed("qtasks.cli.run", "qtasks.web.dashboard")
    assert not allowed("qtasks.web.dashboard", "qtasks.cli.common")
    assert not allowed("qtasks.web.dashboard.pages", "qtasks.app.inspection")
    assert allowed("qtasks.cli.web", "qtasks.web.dashboard")
    assert allowed("qtasks.backends.redis.backend", "qtasks.backends.redis.driver")
    assert allowed("qtasks.compat.brokers", "qtasks.backends.redis")
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found
