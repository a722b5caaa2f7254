"""The backends a chaos run targets. A target gives each scenario a fresh URL and
knows what only that storage engine can do to itself: restart its server, corrupt a
stored entry, delete its files. A scenario that needs a capability the target lacks
is skipped, so a new backend joins with a URL alone and gains scenarios as its target
learns them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any


class Target:
    """A backend given by URL, with none of the optional faults."""

    name = "url"
    can_restart = False
    can_corrupt = False
    has_files = False
    #: The storage is not the harness's own: each scenario deletes its data at the end.
    shared = True

    def __init__(self, url: str = "") -> None:
        self.url = url
        if url:
            self.name = url.partition("://")[0] + "-url"

    def start(self, workdir: Path) -> None:
        """Prepare the backend (start a server...) before the first scenario."""

    def stop(self) -> None:
        """Undo `start`."""

    def url_for(self, scenario_dir: Path, scenario: str) -> str:
        return self.url

    def restart(self, how: str, down: float) -> None:
        raise NotImplementedError

    def corrupt(self, url: str, app_name: str, uuid: str, part: str) -> str:
        """Make the stored entry of `uuid` undecodable; `part` names which part
        (backend-specific); returns a description."""
        raise NotImplementedError

    def parts(self) -> list[str]:
        return []


class SqliteTarget(Target):
    """`sqlite:///<file>`: one fresh file per scenario."""

    name = "sqlite"
    can_corrupt = True
    has_files = True
    shared = False

    def url_for(self, scenario_dir: Path, scenario: str) -> str:
        return f"sqlite:///{scenario_dir / 'qtasks.db'}"

    def parts(self) -> list[str]:
        return ["args", "kwargs"]

    def corrupt(self, url: str, app_name: str, uuid: str, part: str) -> str:
        # What a bad write or an older version could leave: a column that is not JSON.
        path = url.removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as db, db:
            changed = db.execute(
                f"UPDATE qtasks_tasks SET {part}=? WHERE ns=? AND uuid=?",
                (b"{not json", app_name, uuid),
            ).rowcount
        if changed != 1:
            raise RuntimeError(f"no stored row for {uuid}")
        return f"{part} column not JSON"


class RedisServer:
    """A redis-server this harness owns, with the append-only file fsynced on every write."""

    def __init__(self, port: int, data_dir: Path) -> None:
        self.port = port
        self.data_dir = data_dir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.ping():
            raise RuntimeError(f"port {self.port} already has a Redis server; pick another")
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]
        argv += ["--dir", str(self.data_dir), "--logfile", str(self.data_dir / "redis.log")]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.ping():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, signum: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signum)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisTarget(Target):
    """`redis://`: a redis-server of its own (persistence on), one database for all
    scenarios (each has its own namespace). Port: `CHAOS_REDIS_PORT`, else a free one."""

    name = "redis"
    can_restart = True
    can_corrupt = True
    shared = False

    def __init__(self, url: str = "") -> None:
        super().__init__(url)
        self.server: RedisServer | None = None

    def start(self, workdir: Path) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("the redis target needs redis-server on PATH")
        port = int(os.environ.get("CHAOS_REDIS_PORT") or free_port())
        data = workdir / "redis-data"
        data.mkdir(parents=True, exist_ok=True)
        self.server = RedisServer(port, data)
        self.server.start()
        self.url = f"redis://127.0.0.1:{port}/0"

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(signal.SIGKILL)
            self.server = None

    def url_for(self, scenario_dir: Path, scenario: str) -> str:
        return self.url

    def restart(self, how: str, down: float) -> None:
        """Stop the server (`how`: "term" for a clean shutdown, "kill" for a crash), keep
        it down `down` seconds, start it again on the same files."""
        assert self.server is not None
        self.server.stop(signal.SIGKILL if how == "kill" else signal.SIGTERM)
        time.sleep(down)
        self.server.start()

    def parts(self) -> list[str]:
        return ["header", "body"]

    def corrupt(self, url: str, app_name: str, uuid: str, part: str) -> str:
        import redis

        r: Any = redis.Redis.from_url(url)
        try:
            key = f"qtasks:{{{app_name}}}:t:{uuid}"
            raw = r.get(key)
            if raw is None:
                raise RuntimeError(f"no stored entry for {uuid}")
            head, _, body = bytes(raw).partition(b"\n")
            if part == "header":
                head = b"[not json"
            else:
                body = b"{not json"
            r.set(key, head + b"\n" + body)
        finally:
            r.close()
        return f"{part} not JSON"


TARGETS: dict[str, type[Target]] = {"sqlite": SqliteTarget, "redis": RedisTarget}


def target_for(name: str) -> Target:
    """`sqlite`, `redis`, or any backend URL (scenarios that need faults it lacks skip)."""
    if name in TARGETS:
        return TARGETS[name]()
    if "://" in name:
        return Target(name)
    raise SystemExit(f"--backend: expected one of {', '.join(TARGETS)} or a URL, got {name!r}")
