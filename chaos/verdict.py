"""What really ran, checked against the records: pure functions, no processes, no I/O
beyond reading the run log.

A task is *lost* when its enqueue returned but it has no final `success` record written
by an execution that ran to its end. An execution is a *duplicate* when it is not the
one whose result the record holds; a duplicate is *explained* when the process that ran
it was interrupted by the scenario (killed, stopped, paused, told to shut down): it ran
there without a final record from there. Every other duplicate is *unexplained*, and so
is a record written by an execution older than the task's latest one (a stale
completion overwrote a newer run).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping


@dataclasses.dataclass
class Run:
    """One execution of a task body, from the run log (epoch seconds)."""

    pid: int
    execution: str
    start: float
    end: float | None = None


@dataclasses.dataclass(frozen=True)
class Final:
    """What a task's record says at the end: status and the execution it names."""

    status: str
    execution: str | None


class RunLog:
    """Reads a run log incrementally; `runs[uuid]` lists its executions by start."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.runs: dict[str, list[Run]] = {}
        self.ended: set[str] = set()
        self._by_exec: dict[str, Run] = {}
        self._offset = 0
        self._rest = b""

    def refresh(self) -> RunLog:
        """Read the lines appended since the last call (a partial last line waits)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return self
        self._offset += len(data)
        data = self._rest + data
        lines = data.split(b"\n")
        self._rest = lines.pop()
        for line in lines:
            self._add(line.decode())
        return self

    def _add(self, line: str) -> None:
        parts = line.split()
        if len(parts) != 5:
            return
        kind, uuid, pid, execution, at = parts
        if kind == "S":
            run = Run(int(pid), execution, float(at))
            self._by_exec[execution] = run
            self.runs.setdefault(uuid, []).append(run)
        elif kind == "E":
            started = self._by_exec.get(execution)
            if started is not None:
                started.end = float(at)
            self.ended.add(uuid)

    def runs_of(self, uuid: str) -> list[Run]:
        return sorted(self.runs.get(uuid, []), key=lambda r: r.start)

    def pids(self) -> set[int]:
        return {r.pid for runs in self.runs.values() for r in runs}

    def in_flight(self, pid: int) -> list[str]:
        """Tasks with an execution on `pid` that has not ended (yet)."""
        return [
            u for u, runs in self.runs.items() if any(r.pid == pid and r.end is None for r in runs)
        ]


@dataclasses.dataclass
class Tally:
    tasks: int = 0
    lost: list[str] = dataclasses.field(default_factory=list)
    explained: int = 0
    unexplained: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.lost and not self.unexplained


def tally(
    uuids: Iterable[str],
    finals: Mapping[str, Final | None],
    log: RunLog,
    interrupted: set[int],
) -> Tally:
    """Lost tasks and duplicate executions of `uuids` (see the module docstring).

    `finals[uuid]` is the task's record at the end (None: no record); `interrupted` the
    pids the scenario killed, stopped or paused. Each entry of `lost` and `unexplained`
    is `"<uuid>: <why>"`."""
    out = Tally()
    for uuid in uuids:
        out.tasks += 1
        final = finals.get(uuid)
        runs = log.runs_of(uuid)
        if final is None:
            out.lost.append(f"{uuid}: no record")
            continue
        if final.status != "success":
            out.lost.append(f"{uuid}: record is {final.status!r}" + ("" if runs else ", never ran"))
            continue
        writer = next((r for r in runs if r.execution == final.execution), None)
        if writer is None or writer.end is None:
            out.lost.append(f"{uuid}: the record names no execution that ran to its end")
            continue
        for run in runs:
            if run is writer:
                continue
            if run.start > writer.start:
                out.unexplained.append(
                    f"{uuid}: the record holds execution {writer.execution} on pid"
                    f" {writer.pid}, but {run.execution} on pid {run.pid} started after it"
                    " (a stale completion overwrote a newer run, or it ran after being final)"
                )
            elif run.pid in interrupted:
                out.explained += 1
            else:
                out.unexplained.append(
                    f"{uuid}: ran again on pid {run.pid}, which the scenario never interrupted"
                )
    return out


def rss_kib(pid: int) -> int | None:
    """Resident set size of a live process in KiB (Linux), None when unknown."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def run_log_path(workdir: str) -> str:
    return os.path.join(workdir, "runs.log")
