"""The chaos suite's verdicts, on hand-written run logs: what counts as lost, as an
explained duplicate and as an unexplained one."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from chaos.verdict import Final, RunLog, tally  # noqa: E402


def log_of(tmp_path: Path, *lines: str) -> RunLog:
    path = tmp_path / "runs.log"
    path.write_text("".join(line + "\n" for line in lines))
    return RunLog(str(path)).refresh()


def test_one_run_with_its_record_is_clean(tmp_path: Path) -> None:
    log = log_of(tmp_path, "S a 10 10:x 1.0", "E a 10 10:x 1.5")
    t = tally(["a"], {"a": Final("success", "10:x")}, log, set())
    assert (t.tasks, t.lost, t.explained, t.unexplained, t.ok) == (1, [], 0, [], True)


def test_a_task_without_a_final_success_is_lost(tmp_path: Path) -> None:
    log = log_of(tmp_path, "S b 10 10:y 1.0")
    t = tally(["a", "b", "c"], {"a": None, "b": Final("process", None)}, log, set())
    assert [x.split(":")[0] for x in t.lost] == ["a", "b", "c"]
    assert "never ran" not in t.lost[1] and not t.ok


def test_a_record_naming_no_finished_run_is_lost(tmp_path: Path) -> None:
    log = log_of(tmp_path, "S a 10 10:x 1.0")
    t = tally(["a"], {"a": Final("success", "10:x")}, log, set())
    assert len(t.lost) == 1


def test_a_rerun_of_a_task_cut_short_on_a_killed_worker_is_explained(tmp_path: Path) -> None:
    log = log_of(tmp_path, "S a 10 10:x 1.0", "S a 11 11:y 3.0", "E a 11 11:y 3.1")
    t = tally(["a"], {"a": Final("success", "11:y")}, log, {10})
    assert (t.explained, t.unexplained, t.ok) == (1, [], True)


def test_a_rerun_on_a_worker_nobody_interrupted_is_unexplained(tmp_path: Path) -> None:
    log = log_of(tmp_path, "S a 10 10:x 1.0", "S a 11 11:y 3.0", "E a 11 11:y 3.1")
    t = tally(["a"], {"a": Final("success", "11:y")}, log, set())
    assert t.explained == 0 and "pid 10" in t.unexplained[0] and not t.ok


def test_a_stale_completion_over_a_newer_run_is_unexplained(tmp_path: Path) -> None:
    # The paused worker (10) finished after the second runner (11) and its result won.
    log = log_of(
        tmp_path,
        "S a 10 10:x 1.0",
        "S a 11 11:y 3.0",
        "E a 11 11:y 3.5",
        "E a 10 10:x 5.0",
    )
    t = tally(["a"], {"a": Final("success", "10:x")}, log, {10})
    assert len(t.unexplained) == 1 and "stale" in t.unexplained[0]


def test_the_run_log_waits_for_a_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "runs.log"
    path.write_bytes(b"S a 10 10:x 1.0\nE a 10 10:")
    log = RunLog(str(path)).refresh()
    assert log.in_flight(10) == ["a"] and "a" not in log.ended
    with open(path, "ab") as f:
        f.write(b"x 2.0\n")
    log.refresh()
    assert log.in_flight(10) == [] and log.ended == {"a"}
    assert log.runs_of("a")[0].end == 2.0
