"""Worker processes, the client app and the waiting every scenario shares.

A `Lab` is one scenario's world: a fresh work directory, a fresh app name (namespace)
on the target backend, the run log, the worker processes it started (each
`python -m qtasks -A chaos.app:make_app run`, its log in the work directory) and a
client app to enqueue with and read records through. `Lab.close()` kills whatever is
still running.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid as uuid_mod
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from chaos.targets import Target
from chaos.verdict import Final, RunLog, Tally

ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass
class Result:
    """One scenario on one backend: what the harness measured and its verdict."""

    scenario: str
    backend: str
    tasks: int = 0
    lost: int = 0
    explained: int = 0
    unexplained: int = 0
    seconds: float = 0.0
    #: PASS, FAIL, SKIP or ERROR (the harness itself failed); set by the scenario.
    verdict: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)
    figures: dict[str, Any] = dataclasses.field(default_factory=dict)

    def fail(self, why: str) -> None:
        self.verdict = "FAIL"
        self.notes.append(why)

    def conclude(self, t: Tally, more_tasks: int = 0) -> Result:
        """Take the counts of `t` (and `more_tasks` counted apart), put its first lost
        and unexplained tasks before the notes, and decide: PASS unless `t` found
        something or the scenario called `fail()`."""
        self.tasks = t.tasks + more_tasks
        self.lost, self.explained, self.unexplained = len(t.lost), t.explained, len(t.unexplained)
        self.notes[:0] = t.lost[:5] + t.unexplained[:5]
        self.verdict = "FAIL" if not t.ok or self.verdict == "FAIL" else "PASS"
        return self


class Worker:
    """One worker process started through the CLI."""

    def __init__(self, lab: Lab, slot: int, concurrency: int, env: dict[str, str]) -> None:
        self.slot = slot
        self.log_path = lab.dir / f"worker-{slot}-{len(lab.workers)}.log"
        argv = [sys.executable, "-m", "qtasks", "-A", "chaos.app:make_app", "run"]
        argv += ["--concurrency", str(concurrency)]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv, cwd=lab.dir, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.started = time.monotonic()
        #: A supervisor started another worker in its place.
        self.replaced = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def ready(self) -> bool:
        return "Starting app" in self.log()

    def send(self, signum: int) -> None:
        if self.alive():
            os.kill(self.pid, signum)

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait(10)


class Lab:
    """One scenario's world (see the module docstring). `config` fields become the
    workers' `QTASKS_<FIELD>` variables (`lease_timeout=1` -> `QTASKS_LEASE_TIMEOUT=1`);
    by default a 2 s lease and a 3 s shutdown grace."""

    def __init__(self, root: Path, scenario: str, target: Target, **config: Any) -> None:
        self.dir = root / scenario
        self.dir.mkdir(parents=True, exist_ok=True)
        self.target = target
        self.app_name = f"chaos-{scenario}-{uuid_mod.uuid4().hex[:8]}"
        self.url = target.url_for(self.dir, scenario)
        self.runs_path = str(self.dir / "runs.log")
        self.log = RunLog(self.runs_path)
        self.workers: list[Worker] = []
        self.interrupted: set[int] = set()
        self.config = {
            "QTASKS_LEASE_TIMEOUT": "2",
            "QTASKS_SHUTDOWN_GRACE": "3",
            **{f"QTASKS_{k.upper()}": str(v) for k, v in config.items()},
        }
        self._client: Any = None
        self._others: list[subprocess.Popen[bytes]] = []

    # --- processes ----------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env.update(CHAOS_URL=self.url, CHAOS_APP=self.app_name, CHAOS_RUNS=self.runs_path)
        env.update(self.config)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start_worker(self, slot: int | None = None, concurrency: int = 10) -> Worker:
        worker = Worker(self, len(self.workers) if slot is None else slot, concurrency, self.env())
        self.workers.append(worker)
        return worker

    def start_workers(self, count: int, concurrency: int = 10, wait: bool = True) -> list[Worker]:
        started = [self.start_worker(concurrency=concurrency) for _ in range(count)]
        if wait:
            self.wait_ready(started)
        return started

    def wait_ready(self, workers: Sequence[Worker], timeout: float = 60.0) -> None:
        until(lambda: all(w.ready() or not w.alive() for w in workers), timeout, "workers ready")
        for w in workers:
            if not w.alive():
                raise RuntimeError(f"worker {w.pid} exited at start:\n{w.log()[-2000:]}")

    def spawn(self, argv: list[str], log_name: str) -> subprocess.Popen[bytes]:
        """Start another process of the scenario (a client), with the workers' environment
        and its output in `log_name`; killed by `close()` if still running."""
        with open(self.dir / log_name, "wb") as out:
            proc = subprocess.Popen(
                argv, cwd=self.dir, env=self.env(), stdout=out, stderr=subprocess.STDOUT
            )
        self._others.append(proc)
        return proc

    def live(self) -> list[Worker]:
        return [w for w in self.workers if w.alive()]

    def interrupt(self, worker: Worker, signum: int) -> None:
        """Send `signum` to a worker, remembering its pid as interrupted."""
        self.interrupted.add(worker.pid)
        worker.send(signum)

    def close(self) -> None:
        for proc in self._others:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        for w in self.workers:
            if w.alive():
                w.send(signal.SIGCONT)
                w.kill()
        if self.target.shared:
            try:
                self.client.flush_all()
            except Exception:
                pass
        self.close_client()

    # --- the client -----------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            from qtasks import QueueTasks

            self._client = QueueTasks(self.app_name, broker_url=self.url)
        return self._client

    def close_client(self) -> None:
        """Drop the client app and its connections; the next use builds a new one."""
        if self._client is not None:
            try:
                self._client.backend.close_sync()
            except Exception:
                pass
        self._client = None

    def enqueue(self, calls: Iterable[tuple[str, list[Any]]], batch: int = 500) -> list[str]:
        """Enqueue `(task_name, args)` calls in batches; their uuids, in order."""
        out: list[str] = []
        pending: list[tuple[str, list[Any], dict[str, Any]]] = []
        for name, args in calls:
            pending.append((name, args, {}))
            if len(pending) >= batch:
                out += [str(t.uuid) for t in self.client.add_tasks(pending)]
                pending = []
        if pending:
            out += [str(t.uuid) for t in self.client.add_tasks(pending)]
        return out

    def final(self, uuid: str) -> Final | None:
        task = self.client.get(uuid)
        if task is None:
            return None
        returning = task.returning if isinstance(task.returning, str) else None
        return Final(task.status, returning)

    def finals(self, uuids: Iterable[str]) -> dict[str, Final | None]:
        return {u: self.final(u) for u in uuids}

    def wait_done(
        self,
        uuids: Sequence[str],
        timeout: float,
        tick: Callable[[], object] | None = None,
        settle: float = 0.0,
    ) -> dict[str, Final | None]:
        """Wait until every task has a final record (calling `tick()` meanwhile), at
        most `timeout` seconds; then wait `settle` seconds more (late duplicates and
        stale completions show up) and return the records."""
        deadline = time.monotonic() + timeout
        pending = set(uuids)
        while pending and time.monotonic() < deadline:
            if tick is not None:
                tick()
            self.log.refresh()
            # Read records only for tasks whose body ended somewhere: cheap on big runs.
            ready = [u for u in pending if u in self.log.ended]
            for n, u in enumerate(ready, 1):
                f = self.final(u)
                if f is not None and f.status in ("success", "error", "cancel"):
                    pending.discard(u)
                # Reading thousands of records takes a while on a server backend: keep
                # ticking meanwhile (the soak's memory samples, supervised restarts).
                if tick is not None and n % 200 == 0:
                    tick()
            if pending:
                time.sleep(0.2)
        if settle:
            end = time.monotonic() + settle
            while time.monotonic() < end:
                if tick is not None:
                    tick()
                time.sleep(0.1)
        self.log.refresh()
        return self.finals(uuids)


def until(check: Callable[[], Any], timeout: float, what: str, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(f"{what}: not within {timeout:.0f}s")


def restart_dead(lab: Lab, concurrency: int = 10) -> list[Worker]:
    """Like a supervisor: start a new worker for every worker that exited on its own."""
    started = []
    for w in list(lab.workers):
        if not w.alive() and not w.replaced:
            w.replaced = True
            lab.interrupted.add(w.pid)
            started.append(lab.start_worker(w.slot, concurrency))
    return started
