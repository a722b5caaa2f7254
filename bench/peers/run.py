#!/usr/bin/env python3
"""qtasks against its peers, on one machine, with the peers' own defaults.

    bench/peers/setup_venvs.sh redis                         # once per broker: the venvs
    python3 bench/peers/run.py --broker redis                # every framework on Redis
    python3 bench/peers/run.py --broker postgres --quick     # a smoke run (~small N, 1 repeat)
    python3 bench/peers/run.py --broker nats --only qtasks,faststream -w w1,w3

Standard library only (it reuses bench/run.py's /proc sampling). Each framework runs in
its own virtualenv, bench/peers/.venvs/<venv> (qtasks: .venvs/qtasks, else the
interpreter running this script), from the repository root with it on PYTHONPATH.

Workloads (every task takes one int; each body INCRs one Redis counter, which the
driver polls every 5 ms: the same completion signal for every framework):
  w1  a client enqueues --n `noop` tasks one call at a time, no worker running; timed
      inside the client around the loop (imports and client set-up excluded).
  w2  --n `noop` tasks enqueued first (untimed), then ONE worker started with the
      framework's own command and defaults; wall time from spawn until the counter
      reaches --n (start-up included), time to the first task, the rate after it, the
      peak RSS of the worker's process tree (sampled every 50 ms) and its CPU seconds.
  w3  a worker running; the client does 3 warm-up round trips (the first waits for the
      worker), then up to --rt enqueue-and-wait round trips of `ping` with the
      framework's own result API, within --rt-budget seconds; p50/p99 (nearest rank).
  w4  as w2 with --n-io tasks that sleep 50 ms (asyncio.sleep or time.sleep).

Before every run the broker state of the harness is reset (bench/peers/brokers.py)
and the framework's prepare() runs (schemas). Each measurement is repeated --repeats
times; tables show the median. A run that fails or times out is recorded with why and
not repeated. Workers get SIGTERM to their process group, then SIGKILL after 3 s.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.peers import brokers, report  # noqa: E402
from bench.run import (  # noqa: E402
    KILL_GRACE_S,
    RssSampler,
    cpu_seconds,
    log,
    nearest_rank,
    process_tree,
)

MARK = "PEERS_RESULT "
COUNTER = "bench_peers:done"
POLL_S = 0.005
WORKLOADS = ("w1", "w2", "w3", "w4")
BROKERS = ("redis", "postgres", "rabbitmq", "nats", "sqlite", "memory")
QUICK = {"n": 200, "n_io": 100, "rt": 20, "rt_budget": 5.0, "repeats": 1, "timeout": 60.0}
#: The order of the tables: qtasks first, then the peers.
ORDER = ("qtasks", "qtasks_sync")


class RunError(Exception):
    pass


# --- the frameworks ------------------------------------------------------------------
def adapters() -> dict[str, dict[str, Any]]:
    """name -> {"venv", "brokers"}, read from each module's literals (never imported here)."""
    found = {}
    for path in sorted((HERE / "adapters").glob("*.py")):
        if path.name.startswith("_"):
            continue
        meta: dict[str, Any] = {}
        for node in ast.parse(path.read_text()).body:
            target = node.targets[0] if isinstance(node, ast.Assign) else None
            if isinstance(target, ast.Name) and target.id in ("VENV", "BROKERS"):
                meta[target.id.lower()] = ast.literal_eval(node.value)  # type: ignore[union-attr]
        found[path.stem] = meta
    return dict(sorted(found.items(), key=lambda kv: (kv[0] not in ORDER, kv[0])))


def python_of(venv: str) -> Path | None:
    path = HERE / ".venvs" / venv / "bin" / "python"
    if path.exists():
        return path
    return Path(sys.executable) if venv == "qtasks" else None


class Session:
    """One broker's settings and the environment handed to every child and worker."""

    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        self.broker = opts.broker
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-peers-"))
        self.urls = {
            "redis": opts.redis_url,
            "postgres": opts.pg_url,
            "rabbitmq": opts.amqp_url,
            "nats": opts.nats_url,
            "sqlite": f"sqlite:///{self.tmp}/bench.db",
            "memory": "memory://bench_peers",
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QTASKS_", "PEERS_"))}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
        env.update(
            PEERS_BROKER=self.broker,
            PEERS_REDIS_URL=opts.redis_url,
            PEERS_PG_URL=opts.pg_url,
            PEERS_AMQP_URL=opts.amqp_url,
            PEERS_NATS_URL=opts.nats_url,
            PEERS_SQLITE_URL=self.urls["sqlite"],
            PYTHONDONTWRITEBYTECODE="1",
        )
        self.env = env
        self.counter = brokers.Redis(opts.redis_url)

    def reset(self) -> None:
        brokers.reset(self.broker, self.urls)
        for leftover in self.tmp.glob("bench.db*"):
            leftover.unlink()

    def done(self) -> int:
        return self.counter.counter(COUNTER)


def child(s: Session, name: str, venv: str, op: str, params: dict, timeout: float,
          worker: Worker | None = None) -> dict[str, Any]:  # fmt: skip
    py = python_of(venv)
    if py is None:
        raise RunError(f"no venv: run bench/peers/setup_venvs.sh {venv}")
    argv = [str(py), "-m", "bench.peers.child", name, op, json.dumps(params)]
    # output to a file, not a pipe: a chatty client must not block on a full pipe
    with open(s.opts.logs / f"{name}.client-{op}.log", "w+") as output:
        proc = subprocess.Popen(argv, cwd=ROOT, env=s.env, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while proc.poll() is None:
            if time.monotonic() > deadline or (worker is not None and not worker.alive()):
                proc.kill()
                proc.wait()
                why = "worker exited" if worker and not worker.alive() else f"{timeout:.0f}s"
                raise RunError(f"client {op} stopped: {why}" + (worker.tail() if worker else ""))
            time.sleep(0.05)
        output.seek(0)
        lines = output.read().splitlines()
    for line in lines:
        if line.startswith(MARK):
            result: dict[str, Any] = json.loads(line[len(MARK) :])
            if not result.pop("ok"):
                raise RunError(result["error"])
            return result
    tail = "\n".join(lines[-8:])
    raise RunError(f"client {op} exited {proc.returncode}: {tail}")


class Worker:
    """The framework's worker command, in its own process group, output to a log file."""

    def __init__(self, s: Session, venv: str, argv: list[str], log_path: Path) -> None:
        py = python_of(venv)
        assert py is not None
        exe = str(py) if argv[0] == "python" else str(py.parent / argv[0])
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [exe, *argv[1:]],
            cwd=ROOT,
            env=s.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 6) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return ("\n  worker log: " + "\n  ".join(text)) if text else ""

    def stop(self) -> None:
        import signal

        for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, None)):
            try:
                os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            try:
                self.proc.wait(wait)
                if sig == signal.SIGTERM:
                    os.killpg(self.proc.pid, signal.SIGKILL)  # forked leftovers
            except subprocess.TimeoutExpired:
                continue
            except (ProcessLookupError, PermissionError):
                break
        self.proc.wait()
        self._log.close()


# --- the workloads -------------------------------------------------------------------
def w1(s: Session, name: str, venv: str) -> dict[str, Any]:
    r = child(s, name, venv, "enqueue", {"n": s.opts.n, "kind": "noop"}, s.opts.timeout)
    return {"rate": s.opts.n / r["seconds"], "seconds": r["seconds"]}


def drain(s: Session, name: str, venv: str, argv: list[str], kind: str, n: int,
          log_path: Path) -> dict[str, Any]:  # fmt: skip
    child(s, name, venv, "enqueue", {"n": n, "kind": kind}, s.opts.timeout)
    if s.done():
        raise RunError("tasks completed before any worker started")
    w = Worker(s, venv, argv, log_path)
    first = None
    try:
        with RssSampler(w.proc.pid) as rss:
            while (got := s.done()) < n:
                now = time.perf_counter() - w.started
                if first is None and got:
                    first = now
                if now > s.opts.timeout or not w.alive():
                    why = "timeout" if w.alive() else f"worker exited rc={w.proc.returncode}"
                    raise RunError(f"{why}: {got}/{n} done in {now:.0f}s{w.tail()}")
                time.sleep(POLL_S)
            seconds = time.perf_counter() - w.started
            cpu = cpu_seconds(process_tree(w.proc.pid))
    finally:
        w.stop()
    first = seconds if first is None else first
    after = (n - 1) / (seconds - first) if seconds > first else float("nan")
    return {
        "rate": n / seconds,
        "seconds": seconds,
        "first_s": first,
        "rate_after_first": after,
        "rss_mb": rss.peak_kb / 1024,
        "cpu_s": cpu,
    }


def w3(s: Session, name: str, venv: str, argv: list[str], log_path: Path) -> dict[str, Any]:
    w = Worker(s, venv, argv, log_path)
    try:
        params = {"k": s.opts.rt, "budget_s": s.opts.rt_budget, "warmup": 3}
        r = child(s, name, venv, "roundtrip", params, s.opts.rt_budget + 120, worker=w)
    finally:
        w.stop()
    lat = sorted(x * 1000 for x in r["latencies"])
    if not lat:
        raise RunError("no round trip finished")
    return {
        "p50_ms": nearest_rank(lat, 50),
        "p99_ms": nearest_rank(lat, 99),
        "mean_ms": statistics.fmean(lat),
        "samples": len(lat),
    }


def measure(s: Session, name: str, venv: str, about: dict, workload: str, rep: int) -> dict:
    s.reset()
    child(s, name, venv, "prepare", {}, s.opts.timeout)
    logs = s.opts.logs / f"{name}.{workload}.{rep}.log"
    if workload == "w1":
        return w1(s, name, venv)
    if workload == "w2":
        return drain(s, name, venv, about["worker"], "noop", s.opts.n, logs)
    if workload == "w3":
        return w3(s, name, venv, about["worker"], logs)
    return drain(s, name, venv, about["worker"], "sleep", s.opts.n_io, logs)


def run_framework(s: Session, name: str, venv: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"venv": venv, "runs": {}}
    try:
        s.reset()
        entry["about"] = child(s, name, venv, "about", {}, 120)
    except (RunError, brokers.BrokerError, OSError) as exc:
        entry["error"] = str(exc)
        log(f"{name}: {exc}")
        return entry
    for workload in s.opts.workloads:
        if s.broker == "memory" and workload != "w1":
            entry["runs"][workload] = [{"error": "memory:// lives in one process: w1 only"}]
            continue
        runs = entry["runs"][workload] = []
        for rep in range(s.opts.repeats):
            try:
                result = measure(s, name, venv, entry["about"], workload, rep)
            except (RunError, brokers.BrokerError, OSError) as exc:
                runs.append({"error": str(exc)})
                log(f"{name} {workload}#{rep}: ERROR {str(exc).splitlines()[0]}")
                break
            runs.append(result)
            shown = {k: round(v, 2) for k, v in result.items() if isinstance(v, float)}
            log(f"{name} {workload}#{rep}: {shown}")
    return entry


# --- the machine and the command line ------------------------------------------------
def machine(s: Session) -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "?",
        "cpu_count": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "servers": brokers.versions(s.broker, s.urls),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--broker", choices=BROKERS, default="redis")
    p.add_argument("--only", default="", help="comma-separated frameworks (default: all)")
    p.add_argument("-w", "--workloads", default=",".join(WORKLOADS))
    p.add_argument("--n", type=int, default=10000, help="w1/w2 tasks")
    p.add_argument("--n-io", type=int, default=1000, help="w4 tasks")
    p.add_argument("--rt", type=int, default=300, help="w3 round trips")
    p.add_argument("--rt-budget", type=float, default=20.0, help="w3 seconds per repeat")
    p.add_argument("-r", "--repeats", type=int, default=3)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per run")
    p.add_argument(
        "--quick", action="store_true", help="n=200, n-io=100, rt=20 in 5 s, 1 repeat, 60 s timeout"
    )
    p.add_argument(
        "--redis-url", default=os.environ.get("PEERS_REDIS_URL", "redis://127.0.0.1:6379/9")
    )
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/bench_peers")
    p.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/bench_peers")
    p.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    p.add_argument("--out", type=Path, help="results prefix (.md/.json); default results/")
    opts = p.parse_args(argv)
    opts.argv = list(sys.argv[1:] if argv is None else argv)
    if opts.quick:  # smaller defaults; a value given on the command line stays
        for key, value in QUICK.items():
            if getattr(opts, key) == p.get_default(key):
                setattr(opts, key, value)
    opts.workloads = [w for w in opts.workloads.split(",") if w]
    if bad := set(opts.workloads) - set(WORKLOADS):
        p.error(f"unknown workloads {sorted(bad)}")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    opts.out = opts.out or HERE / "results" / f"{opts.broker}-{stamp}"
    opts.logs = opts.out.parent / f"{opts.out.name}.logs"
    return opts


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the selected frameworks on one broker; write <out>.json and <out>.md and
    return what the JSON holds. Raises SystemExit on bad options."""
    opts = parse_args(argv)
    every = adapters()
    names = [n for n in opts.only.split(",") if n] or [
        n for n, m in every.items() if opts.broker in m["brokers"]
    ]
    if unknown := [n for n in names if n not in every]:
        raise SystemExit(f"unknown frameworks: {unknown}; known: {sorted(every)}")
    opts.logs.mkdir(parents=True, exist_ok=True)
    s = Session(opts)
    data: dict[str, Any] = {
        "machine": machine(s),
        "command": "python3 bench/peers/run.py " + " ".join(opts.argv),
        "broker": opts.broker,
        "settings": {k: getattr(opts, k) for k in ("n", "n_io", "rt", "rt_budget", "repeats")},
        "quick": opts.quick,
        "frameworks": {},
    }
    log(f"{opts.broker}: {', '.join(names)}; {data['settings']}")
    try:
        for name in names:
            if opts.broker not in every[name]["brokers"]:
                data["frameworks"][name] = {"error": f"does not run on {opts.broker}"}
                continue
            data["frameworks"][name] = run_framework(s, name, every[name]["venv"])
    finally:
        s.counter.close()
        shutil.rmtree(s.tmp, ignore_errors=True)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    opts.out.with_suffix(".md").write_text(report.render(data))
    log(f"wrote {opts.out.with_suffix('.md')} and .json; worker logs in {opts.logs}")
    return data


if __name__ == "__main__":
    main()
