"""bench/progress.py runs (a tiny run on the in-process backends) and reports what the
waiter saw."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_progress_benchmark_smoke() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "bench/progress.py",
            "--backend",
            "memory",
            "--backend",
            "sqlite",
            "--reports",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| memory")]
    rows += [line for line in proc.stdout.splitlines() if line.startswith("| sqlite")]
    assert len(rows) == 2 and all("| 2/2 |" in row for row in rows), proc.stdout
