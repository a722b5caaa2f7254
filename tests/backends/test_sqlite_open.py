"""Opening one new SQLite file from several connections at once (a worker and a client
starting together): nobody may fail with "database is locked"."""

from __future__ import annotations

import threading
from pathlib import Path

from qtasks.backends.sqlite import SqliteBackend
from qtasks.configs import QueueConfig
from qtasks.logs import Logger


def test_many_first_opens_of_a_new_file_at_once(tmp_path: Path) -> None:
    failures: list[str] = []
    for attempt in range(40):  # before the fix about one attempt in eight failed
        url = f"sqlite:///{tmp_path / f'new-{attempt}.db'}"
        barrier = threading.Barrier(4)

        def open_one(url: str = url, barrier: threading.Barrier = barrier) -> None:
            backend = SqliteBackend(url, namespace="t", config=QueueConfig(), log=Logger("t"))
            barrier.wait()
            try:
                backend.purge_sync()  # the first operation opens and sets up the file
            except Exception as exc:
                failures.append(repr(exc))
            finally:
                backend.close_sync()

        threads = [threading.Thread(target=open_one) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert failures == []
