"""The Redis backend against its own redis-server: restarts lose nothing, and the
commands per task stay few. Skipped only when no `redis-server` binary exists."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from qtasks.backends import Completion, Delivery, TaskRecord
from qtasks.backends.redis import RedisBackend
from qtasks.configs import QueueConfig
from qtasks.logs import Logger

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")


class PrivateRedis:
    """A redis-server on a free port with an append-only file, so data survives SHUTDOWN."""

    def __init__(self, data_dir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.data_dir = data_dir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]
        argv += ["--dir", str(self.data_dir)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.command(b"PING") == b"+PONG":
                return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def command(self, *args: bytes) -> bytes | None:
        """One inline command on a fresh socket, or None when the server is down."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b" ".join(args) + b"\r\n")
                return s.recv(65536).split(b"\r\n")[0]
        except OSError:
            return None

    def info_commands(self) -> int:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
            s.sendall(b"INFO stats\r\n")
            data = b""
            while b"total_commands_processed:" not in data or not data.endswith(b"\r\n"):
                data += s.recv(65536)
        line = next(x for x in data.split(b"\r\n") if x.startswith(b"total_commands_processed:"))
        return int(line.split(b":")[1])

    def stop(self) -> None:
        if self.proc is not None:
            self.command(b"SHUTDOWN")  # flushes the append-only file
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def restart(self, down_for: float = 0.3) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrivateRedis]:
    srv = PrivateRedis(tmp_path)
    srv.start()
    yield srv
    if srv.proc is not None:
        srv.proc.kill()
        srv.proc.wait()


def make(url: str, **config: object) -> RedisBackend:
    cfg = QueueConfig()
    for key, value in config.items():
        setattr(cfg, key, value)
    return RedisBackend(url, namespace="private", config=cfg, log=Logger("redis-test"))


def rec(i: int, queue: str = "default") -> TaskRecord:
    now = time.time()
    return TaskRecord(str(uuid.uuid4()), "t", 0, [i], {}, "new", now, now, queue=queue)


def done(d: Delivery) -> Completion:
    r = d.record
    r.status, r.returning, r.updated_at = "success", r.args[0], time.time()
    return Completion(d, r)


@pytest.mark.anyio
async def test_restart_loses_nothing_and_blocked_fetch_resumes(server: PrivateRedis) -> None:
    backend = make(server.url)
    try:
        records = [rec(i) for i in range(50)]
        backend.enqueue_sync(records)
        leased = await backend.fetch("default", 20, 1.0, "w1", 0)  # short lease: "dies"
        assert len(leased) == 20
        await backend.complete([done(d) for d in leased[:10]])

        # A worker blocked on an empty queue while Redis goes away and comes back.
        blocked = asyncio.create_task(backend.fetch("later", 5, 30, "w2", 20.0))
        await asyncio.sleep(0.1)
        await asyncio.to_thread(server.restart)
        late = rec(99, queue="later")
        await backend.enqueue([late])
        got = await asyncio.wait_for(blocked, 10)
        assert [d.record.uuid for d in got] == [late.uuid]

        # Nothing lost: 10 final, 10 leased by the "dead" worker, 30 still queued.
        stats = await backend.stats()
        assert (stats["queued"], stats["leased"]) == (30, 10)
        await asyncio.sleep(1.0)  # the dead worker's leases expire; anyone recovers them
        rest = []
        while batch := await backend.fetch("default", 100, 30, "w3", 0):
            rest += batch
        assert len(rest) == 40
        assert sorted(d.record.attempts for d in rest) == [1] * 30 + [2] * 10
        await backend.complete([done(d) for d in rest])
        finals = [await backend.get(r.uuid) for r in records]
        assert all(f is not None and f.status == "success" for f in finals)
        assert sorted(f.returning for f in finals if f) == list(range(50))
    finally:
        await backend.close()


def test_sync_client_survives_restart(server: PrivateRedis) -> None:
    backend = make(server.url)
    try:
        first = rec(1)
        backend.enqueue_sync([first])
        server.restart()
        second = rec(2)
        backend.enqueue_sync([second])  # the dead connection is replaced transparently
        assert backend.get_sync(first.uuid) is not None
        assert backend.get_sync(second.uuid) is not None
    finally:
        backend.close_sync()


@pytest.mark.anyio
async def test_commands_per_task_in_batches(server: PrivateRedis) -> None:
    """enqueue + fetch + complete, 100 tasks per call: at most 4 Redis commands per task
    (Lua's inner calls included, as INFO counts them)."""
    backend = make(server.url)
    n, batch = 1000, 100
    try:
        await backend.enqueue([rec(-1)])  # connect and load the scripts first
        (warm,) = await backend.fetch("default", 1, 30, "w", 0)
        await backend.complete([done(warm)])
        records = [rec(i) for i in range(n)]
        before = server.info_commands()
        for i in range(0, n, batch):
            await backend.enqueue(records[i : i + batch])
        finished = 0
        while finished < n:
            got = await backend.fetch("default", batch, 30, "w", 0)
            await backend.complete([done(d) for d in got])
            finished += len(got)
        per_task = (server.info_commands() - before - 1) / n  # -1: our own INFO
        assert per_task <= 4, per_task
    finally:
        await backend.close()


def test_commands_per_single_enqueue(server: PrivateRedis) -> None:
    backend = make(server.url)
    try:
        backend.enqueue_sync([rec(-1)])
        before = server.info_commands()
        for i in range(100):
            backend.enqueue_sync([rec(i)])
        per_call = (server.info_commands() - before - 1) / 100
        # EVALSHA, SET NX, ZADD, LLEN (+ RPUSH only when the wake-up token was taken),
        # and the listing index: ZADD to the queue's unsettled set and to the task
        # name's, SADD of both names to the set of those seen
        assert per_call <= 7, per_call
    finally:
        backend.close_sync()


@pytest.mark.anyio
async def test_commands_per_task_fetching_ten_at_a_time(server: PrivateRedis) -> None:
    """A busy worker's fetch (10) + complete: at most 2.2 commands per task (a worker at
    concurrency 10 completes fewer per call; that costs 3 per call, plus 1 per task),
    the listing index taking 2 per complete call (ZREM from the unsettled set, ZADD to
    the settled status's); a fetch does not touch it."""
    backend = make(server.url)
    n = 1000
    try:
        await backend.enqueue([rec(i) for i in range(n)])
        before = server.info_commands()
        finished = 0
        while finished < n:
            got = await backend.fetch("default", 10, 30, "w", 0)
            await backend.complete([done(d) for d in got])
            finished += len(got)
        per_task = (server.info_commands() - before - 1) / n
        assert per_task <= 2.2, per_task
    finally:
        await backend.close()


@pytest.mark.anyio
async def test_scripts_lost_while_a_fetch_blocks(server: PrivateRedis) -> None:
    """The fetch queued behind a block finds its script gone: loaded and run again."""
    backend = make(server.url)
    try:
        await backend.enqueue([rec(0)])  # loads the scripts
        (d,) = await backend.fetch("default", 1, 30, "w", 0)
        await backend.complete([done(d)])
        waiting = asyncio.create_task(backend.fetch("default", 1, 30, "w", 5.0))
        await asyncio.sleep(0.1)
        assert server.command(b"SCRIPT", b"FLUSH") == b"+OK"
        late = rec(1)
        await backend.enqueue([late])
        got = await asyncio.wait_for(waiting, 2)
        assert [x.record.uuid for x in got] == [late.uuid]
        waiter = asyncio.create_task(backend.wait_final(late.uuid, 5))
        await asyncio.sleep(0.05)
        assert server.command(b"SCRIPT", b"FLUSH") == b"+OK"
        await backend.complete([done(got[0])])
        final = await asyncio.wait_for(waiter, 2)
        assert final is not None and final.status == "success"
    finally:
        await backend.close()
