"""A client process for the chaos suite: enqueues `work` tasks one at a time for a
while and writes down each one whose `add_task` returned (acknowledged), as
`<uuid> <epoch>` lines appended to a file. A failed call is counted and retried with a
new task after a short pause, as an application would.

    CHAOS_URL=... CHAOS_APP=... python -m chaos.client ACKED_FILE SECONDS
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> int:
    from qtasks import QueueTasks

    path, seconds = sys.argv[1], float(sys.argv[2])
    app = QueueTasks(os.environ["CHAOS_APP"], broker_url=os.environ["CHAOS_URL"])
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    acked = errors = 0
    last_error = ""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            task = app.add_task("work", 0.005)
        except Exception as exc:
            errors += 1
            last_error = repr(exc)[:300]
            time.sleep(0.05)
            continue
        assert task is not None
        os.write(fd, f"{task.uuid} {time.time():.6f}\n".encode())
        acked += 1
        time.sleep(0.002)
    print(json.dumps({"acked": acked, "errors": errors, "last_error": last_error}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
