"""The backends a chaos run targets. A target gives each scenario a fresh URL and
knows what only that storage engine can do to itself: restart its server, corrupt a
stored entry, delete its files. A scenario that needs a capability the target lacks
is skipped, so a new backend joins with a URL alone and gains scenarios as its target
learns them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
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


class PostgresServer:
    """A PostgreSQL cluster this harness owns: `initdb` into a directory of its own, the
    server listening on 127.0.0.1:`port` only (no Unix socket), fsync on. Its log goes
    to `log_path`. PostgreSQL refuses to run as root: under root the cluster belongs to
    the `postgres` user (`CHAOS_PG_USER`) and lives in a temporary directory that user
    can reach, removed by `remove()`."""

    def __init__(self, bin_dir: Path, port: int, data_dir: Path, log_path: Path) -> None:
        self.bin_dir = bin_dir
        self.port = port
        self.data_dir = data_dir
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.user: pwd.struct_passwd | None = None
        self._own_dir: str | None = None
        if os.geteuid() == 0:
            name = os.environ.get("CHAOS_PG_USER", "postgres")
            try:
                self.user = pwd.getpwnam(name)
            except KeyError:
                raise RuntimeError(f"running as root, PostgreSQL needs a user {name!r}") from None
            self._own_dir = tempfile.mkdtemp(prefix="qtasks-chaos-pg-")
            os.chown(self._own_dir, self.user.pw_uid, self.user.pw_gid)
            self.data_dir = Path(self._own_dir) / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run_as(self) -> dict[str, Any]:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def init(self) -> None:
        # --no-sync: only a machine crash loses files initdb wrote, and the suite crashes
        # the server, not the machine; the server itself fsyncs every commit.
        argv = [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres"]
        argv += ["--auth=trust", "-E", "UTF8", "--no-sync"]
        done = subprocess.run(
            argv, cwd=self.data_dir.parent, capture_output=True, text=True, **self._run_as()
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()[-500:]}")

    def start(self) -> None:
        if self.ping():
            raise RuntimeError(f"port {self.port} already has a PostgreSQL server; pick another")
        argv = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        argv += ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="]
        argv += ["-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "max_connections=200"]
        with open(self.log_path, "ab") as log:
            # A session of its own: a Ctrl-C meant for the harness does not reach it.
            self.proc = subprocess.Popen(
                argv,
                cwd=self.data_dir.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self._run_as(),
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.ping():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"postgres on port {self.port} did not start (see {self.log_path})")

    def ping(self) -> bool:
        """The server answers queries (not only accepts connections: it refuses them
        while it recovers)."""
        import psycopg

        try:
            with psycopg.connect(self.url, connect_timeout=1, autocommit=True) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def stop(self, how: str = "kill") -> None:
        """`how`: "fast" (SIGINT: clients disconnected, a checkpoint, a clean exit; the
        SIGTERM of PostgreSQL waits for every client to leave, which workers never do)
        or "kill" (SIGKILL to the server and all its processes: a crash, recovered from
        the WAL at the next start)."""
        if self.proc is None:
            return
        children = _children(self.proc.pid)
        if self.proc.poll() is None:
            if how == "fast":
                self.proc.send_signal(signal.SIGINT)
            else:
                self._kill_all()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self._kill_all()
                self.proc.wait(5)
        # A server process still alive keeps the shared memory: the next start would fail.
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.proc = None

    def _kill_all(self) -> None:
        """SIGKILL to the server and every process it started, while they are still its
        children (each is a process group of its own, so no group signal reaches them)."""
        assert self.proc is not None
        for pid in _children(self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.kill()

    def remove(self) -> None:
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields and int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: state, parent, ...; [] when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()
    except OSError:
        return []


def _alive(pid: int) -> bool:
    """Running still (an exited process the init process has not reaped yet is not)."""
    fields = _stat(pid)
    return bool(fields) and fields[0] not in ("Z", "X")


def postgres_bin() -> Path:
    """The directory of `initdb` and `postgres`: `CHAOS_PG_BIN`, else where `initdb` is
    on PATH, else the newest /usr/lib/postgresql/<version>/bin."""
    if os.environ.get("CHAOS_PG_BIN"):
        return Path(os.environ["CHAOS_PG_BIN"])
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not versions:
        raise RuntimeError("the postgres target needs initdb (set CHAOS_PG_BIN to its directory)")
    newest = max(versions, key=lambda p: int(Path(p).parent.parent.name.partition(".")[0]))
    return Path(newest).parent


class PostgresTarget(Target):
    """`postgresql://`: a PostgreSQL cluster of its own (fsync on), one database and the
    default schema for all scenarios (each has its own namespace). Port:
    `CHAOS_PG_PORT`, else a free one."""

    name = "postgres"
    can_restart = True
    can_corrupt = True
    shared = False
    #: The schema the backend uses when the URL names none.
    schema = "qtasks"

    def __init__(self, url: str = "") -> None:
        super().__init__(url)
        self.server: PostgresServer | None = None

    def start(self, workdir: Path) -> None:
        port = int(os.environ.get("CHAOS_PG_PORT") or free_port())
        workdir.mkdir(parents=True, exist_ok=True)
        server = PostgresServer(
            postgres_bin(), port, workdir / "postgres-data", workdir / "postgres.log"
        )
        try:
            server.init()
            server.start()
        except BaseException:
            server.stop()
            server.remove()
            raise
        self.server = server
        self.url = server.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop("kill")
            self.server.remove()
            self.server = None

    def restart(self, how: str, down: float) -> None:
        """Stop the server (`how`: "term" for a clean, fast shutdown, "kill" for a crash
        of all its processes), keep it down `down` seconds, start it again on the same
        files."""
        assert self.server is not None
        self.server.stop("kill" if how == "kill" else "fast")
        time.sleep(down)
        self.server.start()

    def parts(self) -> list[str]:
        return ["args", "kwargs"]

    def corrupt(self, url: str, app_name: str, uuid: str, part: str) -> str:
        # What a bad write or an older version could leave: a column that is not JSON.
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            changed = conn.execute(
                f"UPDATE {self.schema}.tasks SET {part}=%s WHERE ns=%s AND uuid=%s",
                (b"{not json", app_name, uuid),
            ).rowcount
        if changed != 1:
            raise RuntimeError(f"no stored row for {uuid}")
        return f"{part} column not JSON"


TARGETS: dict[str, type[Target]] = {
    "sqlite": SqliteTarget,
    "redis": RedisTarget,
    "postgres": PostgresTarget,
}


def target_for(name: str) -> Target:
    """`sqlite`, `redis`, `postgres`, or any backend URL (scenarios that need faults it
    lacks skip)."""
    if name in TARGETS:
        return TARGETS[name]()
    if "://" in name:
        return Target(name)
    raise SystemExit(f"--backend: expected one of {', '.join(TARGETS)} or a URL, got {name!r}")
