#!/usr/bin/env python3
"""qtasks benchmark: the workloads of the peer comparison (bench/peers/), on qtasks alone.

    python bench/run.py --backend sqlite                  # W1-W4 + batch, 3 repeats (~1 min)
    python bench/run.py --backend sqlite --inprocess      # W1 + W3 with an in-process worker
    python bench/run.py --backend memory                  # implies --inprocess
    python bench/run.py --backend redis --n 10000 --repeats 3 --json out.json
    python bench/run.py --backend postgres --repeats 3     # database `test`, schema qtasks_bench
    python bench/run.py --backend nats                    # NATS JetStream at 127.0.0.1:4222
    python bench/run.py --backend amqp                    # RabbitMQ, records in Redis db 13

Stdlib + qtasks only. Run from anywhere; the worker is started as
`python -m qtasks -A bench.apps:app_<backend> run` with the repository root as cwd.

Workloads (each repeat gets fresh data: a new SQLite file in a temp dir, a flushed
`bench` namespace in Redis db 14 or PostgreSQL, NATS streams and buckets of a namespace of
its own, deleted afterwards, or for amqp a RabbitMQ vhost of its own made with rabbitmqctl
and deleted after, its records in a flushed namespace of --storage-url):
  w1     enqueue N `noop` tasks one `add_task` call at a time, no worker; sync client
         (`qtasks.QueueTasks`) and async client (`qtasks.asyncio.QueueTasks`), each in
         its own child process, timed around the loop only.
  batch  the same N through `app.add_tasks([(name, args, kwargs), ...])` in calls of
         --batch-size (1000) tasks, if the app has that API (else skipped with a note).
  w2     N `noop` tasks enqueued first (untimed); ONE worker process started through
         the CLI with default settings; wall time from spawn until the backend's
         `stats()` shows queued+leased == 0 (polled every 20 ms), then every record is
         checked to be `success`. Also: seconds to the first finished task and the
         rate after it (from the records' `updated_at`), the peak RSS of the worker's
         process tree (sum of VmRSS, sampled every 50 ms) and its CPU seconds.
  w3     worker running and idle; a child does 3 warm-up round trips (the first waits
         for the worker) then up to --rt sequential `add_task("ping", i, timeout=10)`
         (capped at --rt-budget s); p50/p99 (nearest rank); sync and async client.
  w3idle as w3, but --rt-idle round trips each after a --idle-gap pause (0.5 s): the
         latency of a request that finds the worker idle (its poll backed off).
  w4     as w2 with --n-io tasks that `asyncio.sleep(0.05)`, worker env
         QTASKS_MAX_TASKS_PROCESS=200.
  procs  (only when asked: -w procs) sync tasks in the worker's threads against child
         processes (worker env QTASKS_TASK_ISOLATION=thread|process): --n-procs `cpu0`
         (returns at once) and a fifth as many `cpu5` (5 ms of CPU) drained by one
         worker (rate after the first task, peak RSS of the worker tree), then --rt-procs
         sync round trips (p50); and the pool's own costs without a backend
         (bench/processes.py: a child's start-up, a 0 ms call through a child and
         through a thread, a child's RSS).

Each measurement is repeated --repeats times and reported as median (min-max). A run
that fails or times out is recorded with the reason and not retried. Worker processes
get SIGTERM (to their process group), then SIGKILL after 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import apps  # noqa: E402

RESULT_MARK = "BENCH_RESULT "
STATS_POLL_S = 0.020
RSS_SAMPLE_S = 0.050
KILL_GRACE_S = 3.0
BATCH_NAMES = ("add_tasks", "add_task_batch", "add_many", "enqueue_many", "bulk_add")

# SQLite targets from the issue; other backends have none.
TARGETS = {
    "w1_sync_rate": (">=", 5000.0),
    "w1_async_rate": (">=", 5000.0),
    "w2_rate": (">=", 3000.0),
    "w2_rss_mb": ("<=", 40.0),
    "w3_sync_p50": ("<=", 10.0),
    "w3_async_p50": ("<=", 10.0),
}


# ---------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------
def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def nearest_rank(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[k - 1]


class BenchError(Exception):
    pass


def _clean_env() -> dict[str, str]:
    """The environment for children: no stray QTASKS_* settings from the caller."""
    return {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}


# ---------------------------------------------------------------------------------------
# /proc: process tree RSS and CPU
# ---------------------------------------------------------------------------------------
def _proc_table() -> dict[int, int]:
    """pid -> ppid for every process we can see."""
    table: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        rest = data[data.rfind(b")") + 2 :].split()
        table[int(name)] = int(rest[1])
    return table


def process_tree(root: int) -> list[int]:
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, ppid in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        rest = data[data.rfind(b")") + 2 :].split()
        total += int(rest[11]) + int(rest[12])  # utime, stime
    return total / tick


class RssSampler:
    """Peak of the summed VmRSS of a process tree, sampled every 50 ms."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(RSS_SAMPLE_S)

    def sample(self) -> None:
        total = sum(rss_kb(p) for p in process_tree(self.root))
        self.peak_kb = max(self.peak_kb, total)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


# ---------------------------------------------------------------------------------------
# fresh data per run, workers, children
# ---------------------------------------------------------------------------------------
async def _drop_nats() -> None:
    """Delete the run's NATS streams and buckets (the shared server keeps nothing)."""
    app = apps.make_client_app("nats", "async")
    try:
        await app.backend.drop()
    finally:
        await app.backend.close()


class Run:
    """One measurement's data: a fresh SQLite file / memory store / Redis or PostgreSQL
    namespace."""

    def __init__(self, opts: argparse.Namespace, label: str) -> None:
        self.opts = opts
        self.backend = opts.backend
        self.dir = Path(tempfile.mkdtemp(prefix=f"qtasks-bench-{label}-"))
        if self.backend == "sqlite":
            self.url = "sqlite:///" + str(self.dir / "bench.db")
        elif self.backend == "memory":
            self.url = f"memory://bench-{uuid.uuid4().hex[:8]}"
        elif self.backend == "postgres":
            self.url = opts.pg_url
        elif self.backend == "nats":
            self.url = opts.nats_url
            os.environ["BENCH_APP_NAME"] = f"bench-{uuid.uuid4().hex[:8]}"
        elif self.backend == "amqp":
            self.vhost = f"qtasks-bench-{uuid.uuid4().hex[:8]}"
            _rabbitmqctl("add_vhost", self.vhost)
            _rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
            self.url = opts.amqp_url.rstrip("/") + "/" + self.vhost
        else:
            self.url = opts.redis_url
        self.env = _clean_env()
        self.env[f"QTASKS_BENCH_{self.backend.upper()}_URL"] = self.url
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), self.env.get("PYTHONPATH", "")) if p
        )
        os.environ[f"QTASKS_BENCH_{self.backend.upper()}_URL"] = self.url  # for this process
        if self.backend == "amqp":
            self.env["QTASKS_BENCH_STORAGE_URL"] = opts.storage_url
            os.environ["QTASKS_BENCH_STORAGE_URL"] = opts.storage_url

    def flush(self) -> None:
        if self.backend in ("redis", "postgres", "amqp"):
            app = apps.make_client_app(self.backend, "sync")
            try:
                app.flush_all()
            finally:
                app.backend.close_sync()
        elif self.backend == "nats":
            asyncio.run(_drop_nats())

    def __enter__(self) -> Run:
        self.flush()
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.flush()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            if self.backend == "amqp":
                _rabbitmqctl("delete_vhost", self.vhost)


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


class WorkerProcess:
    """`python -m qtasks -A bench.apps:app_<backend> run`, in its own process group."""

    def __init__(self, run: Run, extra_env: dict[str, str] | None = None) -> None:
        self.run = run
        self.log_path = run.dir / "worker.log"
        env = dict(run.env, **run.opts.worker_env, **(extra_env or {}))
        argv = [sys.executable, "-m", "qtasks", "-A", f"bench.apps:app_{run.backend}", "run"]
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.spawned_wall = time.time()
        self.spawned = time.perf_counter()
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu(self) -> float:
        return cpu_seconds(process_tree(self.proc.pid))

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # anything left in the group (forked children)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def run_child(run: Run, op: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run `op` in a fresh interpreter (this file, --child); return its result dict."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(op)]
    try:
        proc = subprocess.run(
            argv,
            cwd=ROOT,
            env=run.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"timeout: client did not finish in {timeout:.0f}s") from exc
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARK) :])
            if "error" in result:
                raise BenchError(result["error"])
            return result
    tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-8:])
    raise BenchError(f"client exited {proc.returncode} without a result:\n{tail}")


# ---------------------------------------------------------------------------------------
# child side (fresh interpreter per measurement)
# ---------------------------------------------------------------------------------------
def batch_api(app: Any) -> str | None:
    for name in BATCH_NAMES:
        if callable(getattr(app, name, None)):
            return name
    return None


def child_main(op: dict[str, Any]) -> dict[str, Any]:
    kind = op["op"]
    backend = op["backend"]
    if kind == "enqueue":
        return _child_enqueue(backend, op["client"], op["n"], op.get("task", "noop"))
    if kind == "batch":
        return _child_batch(backend, op["client"], op["n"], op.get("size", 1000))
    if kind == "roundtrip":
        return _child_roundtrip(backend, op)
    raise ValueError(f"unknown child op {kind!r}")


def _child_enqueue(backend: str, client: str, n: int, task: str) -> dict[str, Any]:
    app = apps.make_client_app(backend, client)
    if client == "sync":
        t = time.perf_counter()
        for i in range(n):
            app.add_task(task, i)
        seconds = time.perf_counter() - t
        app.backend.close_sync()
    else:

        async def main() -> float:
            t = time.perf_counter()
            for i in range(n):
                await app.add_task(task, i)
            seconds = time.perf_counter() - t
            await app.backend.close()
            return seconds

        seconds = asyncio.run(main())
    return {"seconds": seconds, "n": n, "rate": n / seconds}


def _child_batch(backend: str, client: str, n: int, size: int) -> dict[str, Any]:
    app = apps.make_client_app(backend, client)
    name = batch_api(app)
    if name is None:
        return {"skipped": "no batch API on the app (looked for " + ", ".join(BATCH_NAMES) + ")"}
    method = getattr(app, name)
    # `add_tasks(calls)`: an iterable of (task_name, args, kwargs) tuples, one round trip.
    calls: list[list[tuple[str, tuple[int], dict[str, Any]]]] = [
        [("noop", (i,), {}) for i in range(s, min(n, s + size))] for s in range(0, n, size)
    ]

    async def run_async() -> float:
        t = time.perf_counter()
        for c in calls:
            await method(c)
        seconds = time.perf_counter() - t
        await app.backend.close()
        return seconds

    try:
        if client == "sync":
            t = time.perf_counter()
            for c in calls:
                method(c)
            seconds = time.perf_counter() - t
            app.backend.close_sync()
        else:
            seconds = asyncio.run(run_async())
    except TypeError as exc:
        return {"skipped": f"app.{name} does not take [(task_name, args, kwargs), ...]: {exc}"}
    return {"seconds": seconds, "n": n, "rate": n / seconds, "api": name, "batch_size": size}


def _child_roundtrip(backend: str, op: dict[str, Any]) -> dict[str, Any]:
    client, k, budget, gap = op["client"], op["k"], op["budget"], op.get("gap", 0.0)
    task = op.get("task", "ping")
    warmup, first_timeout = op.get("warmup", 3), op.get("first_timeout", 30.0)
    worker_app = None
    if op.get("inprocess"):
        worker_app = apps.make_worker_app(backend)
        worker_app.start_in_background()
    app = apps.make_client_app(backend, client)

    def check(task: Any, i: int) -> None:
        if task is None or task.status != "success" or task.returning != i:
            raise BenchError(f"round trip {i} failed: {task!r}")

    lat: list[float] = []
    try:
        if client == "sync":
            for w in range(warmup):
                check(app.add_task(task, -1 - w, timeout=first_timeout if w == 0 else 10), -1 - w)
            start = time.perf_counter()
            for i in range(k):
                if gap:
                    time.sleep(gap)
                t = time.perf_counter()
                check(app.add_task(task, i, timeout=10), i)
                lat.append(time.perf_counter() - t)
                if time.perf_counter() - start > budget:
                    break
            app.backend.close_sync()
        else:

            async def main() -> None:
                for w in range(warmup):
                    to = first_timeout if w == 0 else 10
                    check(await app.add_task(task, -1 - w, timeout=to), -1 - w)
                start = time.perf_counter()
                for i in range(k):
                    if gap:
                        await asyncio.sleep(gap)
                    t = time.perf_counter()
                    check(await app.add_task(task, i, timeout=10), i)
                    lat.append(time.perf_counter() - t)
                    if time.perf_counter() - start > budget:
                        break
                await app.backend.close()

            asyncio.run(main())
    finally:
        if worker_app is not None:
            asyncio.run(worker_app.stop(10))  # the worker app is async: stop() is a coroutine
    return {"latencies": lat, "capped": len(lat) < k}


# ---------------------------------------------------------------------------------------
# driver side: workloads
# ---------------------------------------------------------------------------------------
def w1(opts: argparse.Namespace, client: str) -> dict[str, Any]:
    with Run(opts, "w1") as run:
        op = {"op": "enqueue", "backend": opts.backend, "client": client, "n": opts.n}
        r = run_child(run, op, opts.timeout)
    return {"rate": r["rate"], "seconds": r["seconds"], "n": r["n"]}


def batch(opts: argparse.Namespace, client: str) -> dict[str, Any]:
    with Run(opts, "batch") as run:
        op = {
            "op": "batch",
            "backend": opts.backend,
            "client": client,
            "n": opts.n,
            "size": opts.batch_size,
        }
        return run_child(run, op, opts.timeout)


def _enqueue_untimed(n: int, task: str) -> list[str]:
    app = apps.make_client_app(apps_backend(), "sync")
    try:
        return [str(app.add_task(task, i).uuid) for i in range(n)]
    finally:
        app.backend.close_sync()


def apps_backend() -> str:
    return _OPTS.backend


async def _final(app: Any, uuid: str) -> bool:
    task = await app.get(uuid)
    return task is not None and task.status in ("success", "error", "cancel")


async def _wait_drained(
    uuids: list[str], timeout: float, worker: WorkerProcess
) -> tuple[float, dict[str, float]]:
    """Poll stats() every 20 ms until queued+leased == 0 (and, where stats cannot see
    other connections' leases, every record is final); return (seconds since spawn,
    poll-cost figures)."""
    n = len(uuids)
    app = apps.make_client_app(apps_backend(), "async")
    polls, poll_time, done = 0, 0.0, 0
    try:
        while True:
            t = time.perf_counter()
            stats = await app.backend.stats()
            poll_time += time.perf_counter() - t
            polls += 1
            if "queued" not in stats or "leased" not in stats:
                raise BenchError(f"{app.backend!r}.stats() has no queued/leased: {stats!r}")
            pending = stats["queued"] + stats["leased"]
            if pending == 0 and app.backend.capabilities.connection_leases:
                # stats() cannot see what another connection holds unacked (RabbitMQ):
                # the records say what is done, each read once it is final
                while done < len(uuids) and await _final(app, uuids[done]):
                    done += 1
                pending = len(uuids) - done
            elapsed = time.perf_counter() - worker.spawned
            if pending == 0:
                return elapsed, {"stats_polls": polls, "stats_poll_ms": 1000 * poll_time / polls}
            if not worker.alive():
                raise BenchError(
                    f"worker exited ({worker.proc.returncode}) with {pending}/{n} pending:\n"
                    + worker.tail()
                )
            if elapsed > timeout:
                raise BenchError(
                    f"timeout: {n - pending}/{n} done in {timeout:g}s "
                    f"(~{(n - pending) / timeout:.1f}/s)"
                )
            await asyncio.sleep(STATS_POLL_S)
    finally:
        await app.backend.close()


def _verify(uuids: list[str]) -> dict[str, Any]:
    app = apps.make_client_app(apps_backend(), "sync")
    try:
        statuses: dict[str, int] = {}
        times = []
        for u in uuids:
            task = app.get(u)
            status = task.status if task is not None else "missing"
            statuses[status] = statuses.get(status, 0) + 1
            if task is not None:
                times.append(task.updated_at.timestamp())
    finally:
        app.backend.close_sync()
    if statuses.get("success", 0) != len(uuids):
        raise BenchError(f"not every task succeeded: {statuses}")
    return {"first_done": min(times), "last_done": max(times)}


def drain(opts: argparse.Namespace, label: str, task: str, n: int, env: dict[str, str]) -> dict:
    with Run(opts, label) as run:
        uuids = _enqueue_untimed(n, task)
        with WorkerProcess(run, env) as worker, RssSampler(worker.proc.pid) as rss:
            seconds, poll = asyncio.run(_wait_drained(uuids, opts.timeout, worker))
            cpu = worker.cpu()
        times = _verify(uuids)
    first = times["first_done"] - worker.spawned_wall
    span = times["last_done"] - times["first_done"]
    return {
        "rate": n / seconds,
        "seconds": seconds,
        "n": n,
        "first_task_s": first,
        "rate_after_first": (n - 1) / span if span > 0 else float("inf"),
        "rss_mb": rss.peak_kb / 1024,
        "cpu_s": cpu,
        **poll,
    }


def w3(opts: argparse.Namespace) -> dict[str, Any]:
    """One worker per repeat, both clients one after the other against it; then, with
    w3idle, both again with an idle pause before every round trip."""
    out: dict[str, Any] = {}
    variants = []
    if "w3" in opts.workloads:
        variants += [("w3", c, opts.rt, 0.0) for c in ("sync", "async")]
    if "w3idle" in opts.workloads:
        variants += [("w3idle", c, opts.rt_idle, opts.idle_gap) for c in ("sync", "async")]
    with Run(opts, "w3") as run:
        worker = None if opts.inprocess else WorkerProcess(run)
        try:
            for name, client, k, gap in variants:
                op = {
                    "op": "roundtrip",
                    "backend": opts.backend,
                    "client": client,
                    "k": k,
                    "gap": gap,
                    "budget": opts.rt_budget,
                    "inprocess": opts.inprocess,
                }
                key = f"{name}_{client}"
                try:
                    r = run_child(run, op, opts.rt_budget + 60)
                except BenchError as exc:
                    out[key] = {"error": str(exc)}
                    continue
                lat = sorted(x * 1000 for x in r["latencies"])
                out[key] = {
                    "p50": nearest_rank(lat, 50),
                    "p99": nearest_rank(lat, 99),
                    "max": lat[-1] if lat else float("nan"),
                    "samples": len(lat),
                    "capped": r["capped"],
                }
        finally:
            if worker is not None:
                worker.stop()
    return out


def procs(opts: argparse.Namespace) -> dict[str, Any]:
    """Sync tasks in the worker's threads against child processes (`isolation`): for
    `cpu0` (0 ms) and `cpu5` (5 ms of CPU), the drain rate after the first task, the
    worker tree's peak RSS and the sync client's round-trip p50; then the pool's own
    costs (bench/processes.py)."""
    from bench import processes

    out: dict[str, Any] = {}
    for task, n in (("cpu0", opts.n_procs), ("cpu5", max(1, opts.n_procs // 5))):
        for mode in ("thread", "process"):
            env = {"QTASKS_TASK_ISOLATION": mode}
            key = f"procs_{task}_{mode}"
            d = drain(opts, key, task, n, env)
            with Run(opts, key) as run, WorkerProcess(run, env):
                op = {
                    "op": "roundtrip",
                    "backend": opts.backend,
                    "client": "sync",
                    "task": task,
                    "k": opts.rt_procs,
                    "budget": opts.rt_budget,
                }
                lat = sorted(x * 1000 for x in run_child(run, op, opts.rt_budget + 60)["latencies"])
            out[key] = {
                "rate": d["rate_after_first"],
                "first_task_s": d["first_task_s"],
                "rss_mb": d["rss_mb"],
                "p50": nearest_rank(lat, 50),
            }
    out["procs_pool"] = processes.measure()
    return out


# ---------------------------------------------------------------------------------------
# orchestration and report
# ---------------------------------------------------------------------------------------
_OPTS: argparse.Namespace


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def repeat(name: str, fn: Callable[[], dict[str, Any]], repeats: int, store: dict) -> None:
    runs = store.setdefault(name, [])
    for r in range(repeats):
        t = time.perf_counter()
        try:
            result = fn()
        except BenchError as exc:
            result = {"error": str(exc)}
        except Exception as exc:  # a bug or a backend failure: record it, go on
            result = {"error": f"{type(exc).__name__}: {exc}"}
        result["wall_s"] = time.perf_counter() - t
        runs.append(result)
        brief = _rounded(result)
        log(f"{name} #{r + 1}: {brief}")
        if "error" in result or "skipped" in result:
            break  # not repeated


def collect(opts: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    res: dict[str, list[dict[str, Any]]] = {}
    wl = opts.workloads
    if "w1" in wl:
        for client in ("sync", "async"):
            repeat(f"w1_{client}", functools.partial(w1, opts, client), opts.repeats, res)
    if "batch" in wl:
        for client in ("sync", "async"):
            repeat(f"batch_{client}", functools.partial(batch, opts, client), opts.repeats, res)
    if "w2" in wl and not opts.inprocess:
        repeat("w2", lambda: drain(opts, "w2", "noop", opts.n, {}), opts.repeats, res)
    if "w3" in wl or "w3idle" in wl:
        raw: list[dict[str, Any]] = []
        repeat("w3", lambda: w3(opts), opts.repeats, {"w3": raw})
        for name in ("w3", "w3idle"):
            if name not in wl:
                continue
            for client in ("sync", "async"):
                key = f"{name}_{client}"
                res[key] = [r.get(key, {"error": r.get("error", "no result")}) for r in raw]
    if "w4" in wl and not opts.inprocess:
        env = {"QTASKS_MAX_TASKS_PROCESS": "200"}
        repeat("w4", lambda: drain(opts, "w4", "sleep", opts.n_io, env), opts.repeats, res)
    if "procs" in wl and not opts.inprocess:
        raw = []
        repeat("procs", lambda: procs(opts), opts.repeats, {"procs": raw})
        for key in PROCS_KEYS:
            res[key] = [r.get(key, {"error": r.get("error", "no result")}) for r in raw]
    return res


PROCS_KEYS = [
    *(f"procs_{t}_{m}" for t in ("cpu0", "cpu5") for m in ("thread", "process")),
    "procs_pool",
]


ROWS: list[tuple[str, str, str, str]] = [
    # (result key, field, label, unit)
    ("w1_sync", "rate", "W1 enqueue, sync client", "tasks/s"),
    ("w1_async", "rate", "W1 enqueue, async client", "tasks/s"),
    ("batch_sync", "rate", "Batch enqueue (add_tasks), sync client", "tasks/s"),
    ("batch_async", "rate", "Batch enqueue (add_tasks), async client", "tasks/s"),
    ("w2", "rate", "W2 drain, 1 worker (incl. start-up)", "tasks/s"),
    ("w2", "rate_after_first", "W2 drain, rate after 1st task", "tasks/s"),
    ("w2", "first_task_s", "W2 spawn to 1st task done", "s"),
    ("w2", "rss_mb", "W2 worker peak RSS", "MB"),
    ("w2", "cpu_s", "W2 worker CPU", "s"),
    ("w3_sync", "p50", "W3 round trip p50, sync client", "ms"),
    ("w3_sync", "p99", "W3 round trip p99, sync client", "ms"),
    ("w3_async", "p50", "W3 round trip p50, async client", "ms"),
    ("w3_async", "p99", "W3 round trip p99, async client", "ms"),
    ("w3idle_sync", "p50", "W3-idle round trip p50 after a pause, sync", "ms"),
    ("w3idle_sync", "max", "W3-idle round trip max after a pause, sync", "ms"),
    ("w3idle_async", "p50", "W3-idle round trip p50 after a pause, async", "ms"),
    ("w3idle_async", "max", "W3-idle round trip max after a pause, async", "ms"),
    ("w4", "rate", "W4 sleep-50 ms tasks, concurrency 200", "tasks/s"),
    ("w4", "rss_mb", "W4 worker peak RSS", "MB"),
    *[
        (f"procs_{t}_{m}", field, f"procs {t} in {where}: {label}", unit)
        for t in ("cpu0", "cpu5")
        for m, where in (("thread", "threads"), ("process", "child processes"))
        for field, label, unit in (
            ("rate", "drain rate after 1st task", "tasks/s"),
            ("p50", "round trip p50, sync client", "ms"),
            ("rss_mb", "worker tree peak RSS", "MB"),
        )
    ],
    ("procs_pool", "child_start_ms", "procs: start-up of one child (1st call)", "ms"),
    ("procs_pool", "call_child_p50_us", "procs: 0 ms call through a child, p50", "µs"),
    ("procs_pool", "call_thread_p50_us", "procs: 0 ms call through a thread, p50", "µs"),
    ("procs_pool", "child_rss_mb", "procs: one child's RSS", "MB"),
]


def _fmt(v: float) -> str:
    if v != v:  # nan
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def summarize(opts: argparse.Namespace, res: dict[str, list[dict[str, Any]]]) -> list[dict]:
    rows = []
    for key, field, label, unit in ROWS:
        runs = res.get(key)
        if runs is None:
            continue
        values = [r[field] for r in runs if field in r and "error" not in r]
        note = next(
            (r.get("error") or r.get("skipped") for r in runs if "error" in r or "skipped" in r),
            None,
        )
        row: dict[str, Any] = {
            "key": key,
            "field": field,
            "label": label,
            "unit": unit,
            "repeats": len(values),
            "note": note,
        }
        if values:
            row.update(median=statistics.median(values), min=min(values), max=max(values))
        target = TARGETS.get(f"{key}_{field}")
        if opts.backend == "sqlite" and target and values:
            op, bound = target
            ok = row["median"] >= bound if op == ">=" else row["median"] <= bound
            row["target"] = f"{op} {_fmt(bound)}"
            row["met"] = ok
        rows.append(row)
    return rows


def render(rows: list[dict], meta: dict[str, Any]) -> str:
    out = [
        f"qtasks {meta['qtasks_version']} | backend `{meta['backend']}`"
        f"{' (in-process worker)' if meta['inprocess'] else ''} | {meta['date']} | "
        f"{meta['cpus']} cores | Python {meta['python']} | N={meta['n']}, N_io={meta['n_io']}, "
        f"round trips={meta['rt']} (idle: {meta['rt_idle']} after {meta['idle_gap']} s), "
        f"repeats={meta['repeats']}",
        "",
        "| workload | median | min | max | unit | target |",
        "|---|---:|---:|---:|---|---|",
    ]
    notes: list[str] = []
    for r in rows:
        if "median" in r:
            target = ""
            if "target" in r:
                target = f"{r['target']} {'met' if r['met'] else '**missed**'}"
            cells = [_fmt(r["median"]), _fmt(r["min"]), _fmt(r["max"])]
        else:
            target = ""
            cells = ["-", "-", "-"]
        mark = ""
        if r.get("note"):
            note = r["note"].splitlines()[0][:160]
            if note not in notes:
                notes.append(note)
            mark = f" [{notes.index(note) + 1}]"
        out.append(f"| {r['label']}{mark} | {' | '.join(cells)} | {r['unit']} | {target} |")
    out += [""] + [f"[{i}] {note}" for i, note in enumerate(notes, 1)]
    return "\n".join(out).rstrip()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--backend",
        choices=("sqlite", "redis", "postgres", "nats", "amqp", "memory"),
        default="sqlite",
    )
    p.add_argument("--n", type=int, default=10000, help="W1/W2/batch tasks (10000)")
    p.add_argument("--n-io", type=int, default=1000, help="W4 tasks (1000)")
    p.add_argument("--rt", type=int, default=300, help="W3 round trips per client (300)")
    p.add_argument("--rt-budget", type=float, default=20.0, help="W3 seconds cap per client")
    p.add_argument("--rt-idle", type=int, default=10, help="W3-idle round trips per client (10)")
    p.add_argument(
        "--idle-gap", type=float, default=0.5, help="W3-idle pause before each round trip (0.5 s)"
    )
    p.add_argument("--batch-size", type=int, default=1000, help="tasks per add_tasks call")
    p.add_argument("--repeats", "-r", type=int, default=3)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per run (120)")
    p.add_argument(
        "--workloads",
        "-w",
        default="w1,batch,w2,w3,w3idle,w4",
        help="comma-separated subset of w1,batch,w2,w3,w3idle,w4,procs (procs: sync tasks "
        "in threads vs child processes; not in the default set)",
    )
    p.add_argument(
        "--n-procs", type=int, default=2000, help="procs: cpu0 tasks (2000; cpu5 gets 1/5)"
    )
    p.add_argument("--rt-procs", type=int, default=100, help="procs: round trips (100)")
    p.add_argument(
        "--inprocess",
        action="store_true",
        help="W1 and W3 only, W3 with a worker started in the client process "
        "(app.start_in_background); implied by --backend memory",
    )
    p.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", apps.DEFAULT_URLS["redis"])
    )
    p.add_argument(
        "--pg-url", default=os.environ.get("BENCH_PG_URL", apps.DEFAULT_URLS["postgres"])
    )
    p.add_argument(
        "--nats-url", default=os.environ.get("BENCH_NATS_URL", apps.DEFAULT_URLS["nats"])
    )
    p.add_argument(
        "--amqp-url",
        default=os.environ.get("BENCH_AMQP_URL", apps.DEFAULT_URLS["amqp"]),
        help="RabbitMQ server; each run makes a vhost of its own there with rabbitmqctl",
    )
    p.add_argument(
        "--storage-url",
        default=os.environ.get("BENCH_STORAGE_URL", "redis://127.0.0.1:6379/13"),
        help="where the amqp backend keeps its records (Redis db 13)",
    )
    p.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for every worker (repeatable), e.g. "
        "QTASKS_MAX_TASKS_PROCESS=100; W4's QTASKS_MAX_TASKS_PROCESS=200 wins over it",
    )
    p.add_argument("--json", type=Path, default=None, help="write every repeat here")
    p.add_argument(
        "--src",
        type=Path,
        default=None,
        help="benchmark the qtasks package under this directory (e.g. a scratch copy's "
        "src/) instead of the installed one",
    )
    p.add_argument(
        "--quick", action="store_true", help="N=1000, N_io=200, 50 round trips, 1 repeat"
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    opts = p.parse_args(argv)
    if opts.quick:
        opts.n, opts.n_io, opts.rt, opts.repeats = 1000, 200, 50, 1
        opts.n_procs, opts.rt_procs = 500, 30
    if opts.backend == "memory":
        opts.inprocess = True
    opts.workloads = [w.strip() for w in opts.workloads.split(",") if w.strip()]
    try:
        opts.worker_env = dict(kv.split("=", 1) for kv in opts.worker_env)
    except ValueError:
        p.error("--worker-env takes KEY=VALUE")
    return opts


def _check_backend(opts: argparse.Namespace) -> None:
    from qtasks.backends import backend_class

    checked = [opts.redis_url] if opts.backend == "redis" else []
    checked += [opts.storage_url] if opts.backend == "amqp" else []
    for url in checked:
        db = url.rstrip("/").rsplit("/", 1)[-1]
        if not db.isdigit() or int(db) == 0:
            raise SystemExit(f"refusing to benchmark on Redis db 0 / no db: {url}")
    try:
        urls = {"redis": opts.redis_url, "nats": opts.nats_url}
        backend_class(urls.get(opts.backend) or apps.DEFAULT_URLS[opts.backend])
    except Exception as exc:
        raise SystemExit(
            f"backend {opts.backend!r} is not available in this checkout: {exc}"
        ) from exc


def _git_describe() -> str:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def main(argv: list[str] | None = None) -> int:
    global _OPTS
    opts = parse_args(argv)
    if opts.child:
        try:
            result = child_main(json.loads(opts.child))
        except Exception as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
        print(RESULT_MARK + json.dumps(result), flush=True)
        return 0
    _OPTS = opts
    if opts.src is not None:
        src = str(opts.src.resolve())
        if not (Path(src) / "qtasks" / "__init__.py").exists():
            raise SystemExit(f"--src {src}: no qtasks package there")
        sys.path.insert(0, src)  # before qtasks is first imported
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (src, os.environ.get("PYTHONPATH", "")) if p
        )
    _check_backend(opts)
    import qtasks

    meta = {
        "qtasks_version": qtasks.__version__,
        "qtasks_path": os.path.dirname(qtasks.__file__),
        # The checkout bench/ runs from; with --src the package measured is qtasks_path.
        "git": _git_describe() + (" (package from --src)" if opts.src else ""),
        "backend": opts.backend,
        "inprocess": opts.inprocess,
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "sqlite": __import__("sqlite3").sqlite_version,
        "n": opts.n,
        "n_io": opts.n_io,
        "rt": opts.rt,
        "rt_budget": opts.rt_budget,
        "rt_idle": opts.rt_idle,
        "idle_gap": opts.idle_gap,
        "repeats": opts.repeats,
        "workloads": opts.workloads,
        "redis_url": opts.redis_url if opts.backend == "redis" else None,
        "nats_url": opts.nats_url if opts.backend == "nats" else None,
        "storage_url": opts.storage_url if opts.backend == "amqp" else None,
        "worker_env": opts.worker_env,
    }
    shown = ("backend", "inprocess", "n", "repeats", "qtasks_path", "git")
    log(f"qtasks bench: {json.dumps({k: meta[k] for k in shown})}")
    t0 = time.perf_counter()
    res = collect(opts)
    meta["total_s"] = round(time.perf_counter() - t0, 1)
    rows = summarize(opts, res)
    print()
    print(render(rows, meta))
    print(f"\n(total {meta['total_s']} s)")
    if opts.json:
        opts.json.parent.mkdir(parents=True, exist_ok=True)
        opts.json.write_text(json.dumps({"meta": meta, "summary": rows, "runs": res}, indent=1))
        log(f"wrote {opts.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
