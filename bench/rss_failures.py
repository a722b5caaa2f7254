"""Worker memory over many tasks, half of them failing with a 1 MB local variable.

Starts one worker process (`python -m qtasks -A app:app run`) on a SQLite file, feeds
it tasks in rounds of `--round` (half `ok`, half `fails`: allocates 1 MB, then raises),
waits for each round to finish and prints the worker's resident memory (VmRSS) and
its peak (VmHWM) after each round. A flat RSS means nothing of a finished task (its
exception, traceback, frames or locals) is kept.

    python bench/rss_failures.py              # 100,000 tasks in rounds of 10,000
    python bench/rss_failures.py --n 20000    # quicker
    python bench/rss_failures.py --src ../other/src   # measure another checkout

Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

APP = textwrap.dedent(
    """
    import os
    from qtasks import QueueTasks

    app = QueueTasks("rss", broker_url=os.environ["RSS_URL"])


    @app.task
    def ok(i):
        return i


    @app.task
    def fails(i):
        big = bytearray(1 << 20)  # a large local the traceback's frame refers to
        raise ValueError(f"task {i} failed holding {len(big)} bytes")
    """
)


def memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of process `pid`, in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="tasks in all (100000)")
    parser.add_argument("--round", type=int, default=10_000, help="tasks per round (10000)")
    parser.add_argument("--src", help="import qtasks from this directory instead")
    opts = parser.parse_args()
    if opts.src:
        sys.path.insert(0, str(Path(opts.src).resolve()))
    from qtasks import QueueTasks

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/rss.db"
        Path(tmp, "rss_app.py").write_text(APP)
        path = [tmp, *([str(Path(opts.src).resolve())] if opts.src else [])]
        env = dict(os.environ, RSS_URL=url, PYTHONPATH=os.pathsep.join(path))
        worker = subprocess.Popen(
            [sys.executable, "-m", "qtasks", "-A", "rss_app:app", "run", "--log-level", "CRITICAL"],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = QueueTasks("rss", broker_url=url)
        try:
            print("| tasks done | worker RSS (MB) | peak RSS (MB) | seconds |")
            print("|---:|---:|---:|---:|")
            done, start = 0, time.monotonic()
            while done < opts.n:
                count = min(opts.round, opts.n - done)
                last = None
                for offset in range(0, count, 1000):
                    calls = [
                        ("fails" if (done + offset + i) % 2 else "ok", [done + offset + i], {})
                        for i in range(min(1000, count - offset))
                    ]
                    last = client.add_tasks(calls)[-1]
                assert last is not None
                final = client.wait(last.uuid, 600)
                assert final is not None, "the round did not finish"
                done += count
                rss, peak = memory_kb(worker.pid)
                elapsed = time.monotonic() - start
                print(f"| {done:,} | {rss / 1024:.1f} | {peak / 1024:.1f} | {elapsed:.0f} |")
                sys.stdout.flush()
        finally:
            worker.terminate()
            worker.wait(30)
            client.backend.close_sync()


if __name__ == "__main__":
    main()
