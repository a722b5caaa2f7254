"""Every ```python block in README.md and docs/ runs, so the docs cannot drift.

A block preceded by a `<!-- not-run -->` line is skipped (it needs something the suite
does not start); keep those few and short. A block preceded by `<!-- with-worker -->` is
saved as `tasks.py` and run while `python -m qtasks -A tasks:app run` works beside it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"(?:<!-- (not-run|with-worker) -->\s*\n)?```python\n(.*?)```", re.S)
#: The worker's line for a task that failed for good: the stored traceback follows it.
TASK_ERROR = re.compile(r"\[qtasks\.[^\]]*: ERROR\] \(Worker\) Task \S+ \([0-9a-f-]+\) error in ")
#: The start of any record in qtasks' default format.
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[")


def stray_output(stderr: str) -> str:
    """`stderr` less the tracebacks the worker logs under a failed task's line (what an
    example that fails a task on purpose prints): any traceback left is the example's."""
    kept, skipping = [], False
    for line in stderr.splitlines():
        if TASK_ERROR.search(line):
            skipping = True
        elif skipping and LOG_LINE.match(line):
            skipping = False
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


def examples() -> list[tuple[str, str, bool]]:
    found = []
    for md in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = md.read_text(encoding="utf-8")
        for n, match in enumerate(BLOCK.finditer(text)):
            if match.group(1) == "not-run":
                continue
            with_worker = match.group(1) == "with-worker"
            found.append((f"{md.relative_to(ROOT)}#{n}", match.group(2), with_worker))
    return found


EXAMPLES = examples()


@pytest.mark.parametrize(("where", "code", "with_worker"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_doc_example_runs(where: str, code: str, with_worker: bool, tmp_path: Path) -> None:
    script = tmp_path / ("tasks.py" if with_worker else "example.py")
    script.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
    worker = None
    if with_worker:
        worker = subprocess.Popen(
            [sys.executable, "-m", "qtasks", "-A", "tasks:app", "run"],
            cwd=tmp_path,
            env=dict(env, PYTHONPATH=str(tmp_path)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        proc = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        if worker is not None:
            worker.terminate()
            assert worker.wait(timeout=30) == 0
    assert proc.returncode == 0, f"{where} failed:\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in stray_output(proc.stderr), proc.stderr


def test_stray_output_keeps_tracebacks_that_no_task_line_explains() -> None:
    task_line = (
        "2026-11-30 10:00:00,013 [qtasks.shop: ERROR] (Worker) Task charge "
        "(9b1c0000-0000-4000-8000-000000000000) error in 0.0810s on queue default: E()"
    )
    after = "2026-11-30 10:00:00,020 [qtasks.shop: INFO] (Starter) Stopped"
    logged = "\n".join([task_line, "Traceback (most recent call last):", "E", after])
    assert "Traceback" not in stray_output(logged) and after in stray_output(logged)
    assert "Traceback" in stray_output("Traceback (most recent call last):\nKeyError")
    assert "Traceback" in stray_output(logged + "\nException in thread t:\nTraceback (most")
