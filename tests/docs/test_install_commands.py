"""Every `pip install` in README.md and docs/ installs qtasks from this repository (a
checkout, or a direct reference to it), never the package index's `qtasks` (another
project of that name), and each such command runs in one fresh virtual environment."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PIP = re.compile(r"pip install ([^`\n#&|;]+)")
#: A module each extra makes importable.
EXTRA_MODULES = {
    "redis": "redis",
    "postgres": "psycopg",
    "nats": "nats",
    "amqp": "aio_pika",
    "pydantic": "pydantic",
    "django": "django",
    "flask": "flask",
    "fastapi": "fastapi",
    "starlette": "starlette",
    "grpc": "grpc_health",
    "cron": "croniter",
    "timers": "apscheduler",
    "prometheus": "prometheus_client",
    "otel": "opentelemetry.sdk",
    "cli": "rich",
    "web": "jinja2",
}
CHECKOUT_PLACEHOLDER = "/path/to/qtasks"


def install_commands() -> list[tuple[str, list[str]]]:
    """(where, requirement words) of every `pip install` naming qtasks or a checkout."""
    found = []
    for doc in DOCS:
        for n, line in enumerate(doc.read_text().splitlines(), 1):
            for match in PIP.finditer(line):
                words = [w for w in shlex.split(match.group(1)) if w not in ("-e", "-q")]
                words = [w for w in words if not w.startswith("--")]
                if any("qtasks" in w or w.startswith(".") for w in words):
                    found.append((f"{doc.relative_to(ROOT)}:{n}", words))
    return found


COMMANDS = install_commands()


def from_this_repository(requirement: str) -> bool:
    if re.fullmatch(r"\.(\[[a-z,]+\])?", requirement):  # a checkout, here
        return True
    name, at, where = requirement.partition(" @ ")
    return bool(at) and name.startswith("qtasks") and where.startswith(("file://", "git+"))


def test_no_command_installs_from_the_package_index() -> None:
    assert COMMANDS, "the docs show no install command"
    wrong = [(w, r) for w, words in COMMANDS for r in words if not from_this_repository(r)]
    assert not wrong, f"install commands that reach the package index's qtasks: {wrong}"


def test_readme_says_so_on_its_first_screen() -> None:
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:40])
    assert "not from the Python package index" in first_screen
    assert 'pip install ".[' in first_screen


@pytest.mark.e2e
def test_install_commands_run_in_a_fresh_venv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    # The build backend once in the venv, instead of a fresh build environment for each
    # command (the commands themselves are run as written).
    subprocess.run([python, "-m", "pip", "install", "-q", "hatchling>=1.18"], check=True)
    env = dict(os.environ, PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1")
    done: set[str] = set()
    for where, words in COMMANDS:
        for requirement in words:
            requirement = requirement.replace(CHECKOUT_PLACEHOLDER, str(ROOT))
            if requirement in done:
                continue
            done.add(requirement)
            proc = subprocess.run(
                [python, "-m", "pip", "install", "-q", requirement],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert proc.returncode == 0, f"{where}: {requirement}\n{proc.stderr}"
            extras = re.search(r"\[([a-z,]+)\]", requirement)
            modules = [EXTRA_MODULES[e] for e in (extras.group(1).split(",") if extras else [])]
            check = "import qtasks; " + "".join(f"import {m}; " for m in modules)
            subprocess.run([python, "-c", check], check=True, cwd=tmp_path)
    assert len(done) >= 3
