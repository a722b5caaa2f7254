#!/usr/bin/env python3
"""qtasks benchmark: the scheduler. N schedules every second for D seconds, fired by
competing schedulers, tasks run by a worker.

    python bench/schedules.py --backend sqlite                     # 1,000 schedules, 60 s
    python bench/schedules.py --backend redis --schedules 1000 --duration 60 --schedulers 3
    python bench/schedules.py --backend sqlite --schedules 50 --duration 5   # a smoke run
    python bench/schedules.py --mode workers                       # schedulers in the workers

Stdlib + qtasks only; run from the repository root. A module declaring the schedules
(`every=1`, overlap "allow", each task echoing its uuid to a file) is written to a temp
dir, then:

  --mode beat     --schedulers processes of `qtasks beat` (they compete for the leader
                  lease; the one leading does the work) and one worker with
                  `--no-scheduler` running the tasks; "scheduler CPU" is the CPU seconds
                  of the beat processes over the run.
  --mode workers  --schedulers worker processes, each running the scheduler (the
                  default deployment); CPU then includes running the tasks.

After the run every slot of the measured window (from the first whole second after
start-up + 2 s to the end - 2 s) is looked up by its uuid:

  missed      slots with no task
  duplicates  executions beyond one per slot's uuid (at-least-once would show here)
  not_run     slots whose task was enqueued but not run by the end
  lateness    the record's `created_at` (when the leader built it) minus its slot, ms:
              p50, p99, max

Redis: db 14 of 127.0.0.1:6379 unless --redis-url; the namespace is removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from qtasks import QueueTasks  # noqa: E402
from qtasks.scheduler.model import slot_uuid  # noqa: E402

MODULE = textwrap.dedent(
    """
    import os

    from qtasks import QueueTasks

    app = QueueTasks(os.environ["BENCH_APP"])
    for i in range(int(os.environ["BENCH_SCHEDULES"])):
        app.schedule(f"s{i}", "echo", every=1, overlap="allow")
    MARKS = open(os.environ["BENCH_MARKS"] + f".{os.getpid()}", "a", buffering=1)


    @app.task(echo=True)
    def echo(self):
        MARKS.write(self.ctx.task_uuid + "\\n")
    """
)


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--schedulers", type=int, default=3)
    parser.add_argument("--mode", choices=("beat", "workers"), default="beat")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--json", help="write the figures to this file too")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="qtasks-sched-bench-"))
    (workdir / "bench_sched.py").write_text(MODULE)
    name = f"schedbench-{uuid.uuid4().hex[:6]}"
    url = args.redis_url if args.backend == "redis" else f"sqlite:///{workdir}/bench.db"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(workdir), str(ROOT / "src")]),
        QTASKS_BROKER_URL=url,
        BENCH_APP=name,
        BENCH_SCHEDULES=str(args.schedules),
        BENCH_MARKS=str(workdir / "runs"),
    )
    qtasks = [sys.executable, "-m", "qtasks", "-A", "bench_sched:app", "--log-level", "WARNING"]
    if args.mode == "beat":
        schedulers = [
            subprocess.Popen([*qtasks, "beat"], cwd=workdir, env=env, start_new_session=True)
            for _ in range(args.schedulers)
        ]
        runners = [
            subprocess.Popen(
                [*qtasks, "run", "--no-scheduler"], cwd=workdir, env=env, start_new_session=True
            )
        ]
    else:
        schedulers = [
            subprocess.Popen([*qtasks, "run"], cwd=workdir, env=env, start_new_session=True)
            for _ in range(args.schedulers)
        ]
        runners = []
    procs = schedulers + runners
    time.sleep(2.0)  # start-up: imports, the first lease
    cpu_before = sum(cpu_seconds(p.pid) for p in schedulers)
    window_start = float(int(time.time()) + 1)
    time.sleep(args.duration)
    window_end = float(int(time.time()) - 2)
    cpu = sum(cpu_seconds(p.pid) for p in schedulers) - cpu_before
    time.sleep(2.0)  # let the worker run what was enqueued last
    for p in procs:
        os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        p.wait(30)

    client = QueueTasks(name, broker_url=url)
    slots = [window_start + i for i in range(int(window_end - window_start) + 1)]
    expected = {
        slot_uuid(name, f"s{i}", slot): slot for i in range(args.schedules) for slot in slots
    }
    late, missed = [], 0
    for task_uuid, slot in expected.items():
        task = client.get(task_uuid)
        if task is None:
            missed += 1
        else:
            late.append((task.created_at.timestamp() - slot) * 1000)
    executed = [
        line for marks in workdir.glob("runs.*") for line in marks.read_text().split() if line
    ]
    counted = [u for u in executed if u in expected]
    duplicates = len(counted) - len(set(counted))
    not_run = len(expected) - missed - len(set(counted))
    cpu_percent = 100 * cpu / (window_end - window_start + 2)
    figures = {
        "backend": args.backend,
        "mode": args.mode,
        "schedules": args.schedules,
        "schedulers": args.schedulers,
        "seconds_measured": len(slots),
        "slots_expected": len(expected),
        "missed": missed,
        "duplicates": duplicates,
        "not_run": not_run,
        "lateness_ms_p50": round(percentile(late, 50), 1),
        "lateness_ms_p99": round(percentile(late, 99), 1),
        "lateness_ms_max": round(max(late, default=float("nan")), 1),
        "scheduler_cpu_percent": round(cpu_percent, 1),
        "scheduler_cpu_percent_per_1000_schedules": round(cpu_percent * 1000 / args.schedules, 1),
        "scheduler_cpu_ms_per_1000_slots": round(1000 * cpu / max(1, len(expected)) * 1000, 1),
    }
    if args.backend == "redis":  # leave nothing of this namespace behind
        client.flush_all()
        backend = client.backend

        async def forget() -> None:
            for collection in ("schedules", "schedule-runs", "scheduler"):
                for key in await backend.list_documents(collection):  # type: ignore[attr-defined]
                    await backend.delete_document(collection, key)  # type: ignore[attr-defined]
            await backend.close()

        asyncio.run(forget())
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 1 if missed or duplicates else 0


if __name__ == "__main__":
    raise SystemExit(main())
