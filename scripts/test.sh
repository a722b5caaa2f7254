#!/usr/bin/env bash
# The project's one quality gate, the same locally and in CI:
# install into .venv, then format check, lint, type check and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
.venv/bin/ruff format --check src tests bench examples chaos
.venv/bin/ruff check src tests bench examples chaos
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
