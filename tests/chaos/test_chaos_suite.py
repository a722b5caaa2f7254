"""`python -m chaos --short`, once per backend, as part of the test suite: one test per
scenario reads its verdict.

A scenario that fails for a fault whose fix has not landed yet is listed in
`KNOWN_FAILURES` and reported as xfail (with the harness's notes); remove its line with
the fix. A harness error (verdict ERROR) always fails. `CHAOS_STRICT=1` ignores the
list. `CHAOS_REDIS_PORT` and `CHAOS_PG_PORT` pick the ports of the redis-server and the
PostgreSQL cluster the suite starts (default: free ones).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from chaos.scenarios import all_scenarios  # noqa: E402
from chaos.targets import postgres_bin  # noqa: E402

pytestmark = pytest.mark.e2e

BACKENDS = ["sqlite", "redis", "postgres"]
SCENARIOS = [s.name for s in all_scenarios() if not s.long_only]

#: Scenarios known to fail, by (backend, scenario), with why; none today.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}

_runs: dict[str, dict[str, Any]] = {}


def suite_results(backend: str, tmp_dir: Path) -> dict[str, Any]:
    """Run the short suite on `backend` once; its results by scenario name."""
    if backend not in _runs:
        out = tmp_dir / f"chaos-{backend}.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
        argv = [sys.executable, "-m", "chaos", "--short", "--backend", backend]
        argv += ["--json", str(out), "--workdir", str(tmp_dir / f"chaos-{backend}")]
        proc = subprocess.run(
            argv,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=480,
        )
        if not out.exists():
            pytest.fail(f"python -m chaos wrote no results:\n{proc.stdout}\n{proc.stderr}")
        data = json.loads(out.read_text())
        _runs[backend] = {
            "output": proc.stdout,
            "results": {r["scenario"]: r for r in data["results"]},
        }
    return _runs[backend]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_chaos_scenario(
    backend: str, scenario: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    if backend == "redis" and shutil.which("redis-server") is None:
        pytest.skip("no redis-server binary")
    if backend == "postgres":
        try:
            postgres_bin()
        except RuntimeError as exc:
            pytest.skip(str(exc))
    run = suite_results(backend, tmp_path_factory.getbasetemp())
    result = run["results"][scenario]
    report = f"{scenario} on {backend}: {result['verdict']}\n" + "\n".join(result["notes"])
    if result["verdict"] in ("PASS", "SKIP"):
        return
    known = KNOWN_FAILURES.get((backend, scenario))
    if result["verdict"] == "FAIL" and known and os.environ.get("CHAOS_STRICT") != "1":
        pytest.xfail(f"{known}\n{report}")
    pytest.fail(f"{report}\n\nwhole run:\n{run['output']}")
