#!/usr/bin/env python3
"""Where the time goes on the SQLite path: py-spy profiles of the bench workloads.

    pip install py-spy            # any venv; pass its binary with --py-spy if not on PATH
    python bench/profile_sqlite.py drain --n 50000          # the worker during W2
    python bench/profile_sqlite.py enqueue --client async   # the client during W1
    python bench/profile_sqlite.py roundtrip --client sync  # client + worker during W3

Each mode writes py-spy's raw (collapsed-stack) output to --out (default
bench/results/profile-<mode>*.txt; flamegraph-able with any collapsed-stack tool)
and prints, per thread, the share of samples by leaf function+line ("self") and by
function on the stack ("inclusive"). `--idle` keeps samples of threads that are
waiting, which shows hand-off stalls (a thread idle while the other works); without
it only on-CPU samples are kept. `--src` profiles another source tree, as in run.py.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import apps  # noqa: E402


def summarize(path: Path, top: int) -> str:
    """Per thread: samples, top leaf frames (self) and top functions (inclusive)."""
    threads: collections.Counter[str] = collections.Counter()
    self_: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    incl: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        thread, *frames = stack.split(";")
        thread = re.sub(r"^thread \(\d+\):?\s*", "", thread) or "(unnamed)"
        threads[thread] += n
        if frames:
            self_[thread][frames[-1]] += n
            for f in {re.sub(r":\d+\)$", ")", x) for x in frames}:
                incl[thread][f] += n
    total = sum(threads.values()) or 1
    out = [f"{path}: {total} samples"]
    for thread, n in threads.most_common():
        out.append(f"\n== thread {thread}: {n} samples ({100 * n / total:.1f}%)")
        out.append("  self (leaf frame):")
        out += [f"    {100 * c / n:5.1f}%  {f}" for f, c in self_[thread].most_common(top)]
        out.append("  inclusive:")
        out += [f"    {100 * c / n:5.1f}%  {f}" for f, c in incl[thread].most_common(top)]
    return "\n".join(out)


def spy_argv(opts: argparse.Namespace, out: Path) -> list[str]:
    argv = [opts.py_spy, "record", "--rate", str(opts.rate), "--format", "raw", "--threads"]
    if opts.idle:
        argv.append("--idle")
    return [*argv, "-o", str(out)]


def child_argv(op: dict) -> list[str]:
    return [sys.executable, str(ROOT / "bench" / "run.py"), "--child", json.dumps(op)]


def worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "qtasks", "-A", "bench.apps:app_sqlite", "run"],
        cwd=ROOT,
        env=env,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig) if sig == signal.SIGTERM else proc.send_signal(sig)
            proc.wait(5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=("drain", "enqueue", "roundtrip"))
    p.add_argument("--n", type=int, default=50000, help="tasks (drain, enqueue)")
    p.add_argument("--client", choices=("sync", "async"), default="async")
    p.add_argument("--rt", type=int, default=2000, help="round trips")
    p.add_argument("--rate", type=int, default=1000, help="py-spy samples/s")
    p.add_argument("--idle", action="store_true", help="keep idle (waiting) samples")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--src", type=Path, default=None)
    opts = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="qtasks-profile-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
    env["QTASKS_BENCH_SQLITE_URL"] = f"sqlite:///{tmp}/bench.db"
    paths = [str(ROOT)]
    if opts.src is not None:
        paths.insert(0, str(opts.src.resolve()))
        sys.path.insert(0, paths[0])
    env["PYTHONPATH"] = os.pathsep.join(p for p in [*paths, os.environ.get("PYTHONPATH")] if p)
    os.environ["QTASKS_BENCH_SQLITE_URL"] = env["QTASKS_BENCH_SQLITE_URL"]
    out = opts.out or ROOT / "bench" / "results" / f"profile-{opts.mode}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    outputs = []
    try:
        if opts.mode == "enqueue":
            op = {"op": "enqueue", "backend": "sqlite", "client": opts.client, "n": opts.n}
            r = subprocess.run(
                [*spy_argv(opts, out), "--", *child_argv(op)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            print(
                next((x for x in r.stdout.splitlines() if x.startswith("BENCH_RESULT")), r.stderr)
            )
            outputs.append(out)
        elif opts.mode == "drain":
            app = apps.make_client_app("sqlite", "sync")
            for i in range(opts.n):
                app.add_task("noop", i)
            app.backend.close_sync()
            w = worker(env, tmp / "worker.log")
            spy = subprocess.Popen(
                [*spy_argv(opts, out), "--pid", str(w.pid)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            t = time.perf_counter()
            client = apps.make_client_app("sqlite", "async")

            async def drained() -> None:
                while True:
                    s = await client.backend.stats()
                    if s["queued"] + s["leased"] == 0:
                        return
                    await asyncio.sleep(0.1)

            asyncio.run(drained())
            took = time.perf_counter() - t
            print(f"drained {opts.n} in {took:.2f}s ({opts.n / took:,.0f}/s, under the profiler)")
            stop(spy, signal.SIGINT)
            stop(w)
            outputs.append(out)
        else:
            w = worker(env, tmp / "worker.log")
            wout = out.with_name(out.stem + "-worker.txt")
            cout = out.with_name(out.stem + "-client.txt")
            spy = subprocess.Popen(
                [*spy_argv(opts, wout), "--pid", str(w.pid)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            op = {
                "op": "roundtrip",
                "backend": "sqlite",
                "client": opts.client,
                "k": opts.rt,
                "budget": 120,
            }
            r = subprocess.run(
                [*spy_argv(opts, cout), "--", *child_argv(op)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            line = next((x for x in r.stdout.splitlines() if x.startswith("BENCH_RESULT")), None)
            if line:
                lat = sorted(json.loads(line.split(" ", 1)[1])["latencies"])
                print(
                    f"{len(lat)} round trips, p50 {1000 * lat[len(lat) // 2]:.2f} ms "
                    "(under the profiler)"
                )
            else:
                print(r.stderr[-2000:])
            stop(spy, signal.SIGINT)
            stop(w)
            outputs += [wout, cout]
        for path in outputs:
            print()
            print(summarize(path, opts.top))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
