"""The driver's side of each broker, standard library only: reset the harness's own
state before every run, read the completion counter, report server versions.

What is reset (and nothing else):

    redis     FLUSHDB of the harness's db (9 unless --redis-url says otherwise; dbs 0-8
              are refused). The counter and every Redis queue and result live there.
    postgres  the database `bench_peers` (created if missing): other sessions on it are
              ended, every schema in it dropped, an empty `public` made again. Needs psql.
    rabbitmq  the vhost `bench_peers`, deleted and made again with rabbitmqctl, with
              full permissions for the URL's user.
    nats      every JetStream stream whose name contains `bench_peers` (the peers' and
              qtasks' streams and key-value buckets), deleted.
"""

from __future__ import annotations

import json
import socket
import subprocess
import uuid
from typing import Any
from urllib.parse import unquote, urlsplit

PREFIX = "bench_peers"


class BrokerError(Exception):
    """A broker could not be reached or reset."""


# --- Redis (RESP over a socket) ------------------------------------------------------
class Redis:
    """A minimal blocking RESP client: enough for SELECT, FLUSHDB, GET, INCR and INFO."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.db = int((parts.path or "/0").lstrip("/") or 0)
        self.sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379))
        self.file = self.sock.makefile("rb")
        if parts.password:
            self.call("AUTH", unquote(parts.password))
        self.call("SELECT", str(self.db))

    def call(self, *args: str) -> Any:
        out = b"*%d\r\n" % len(args)
        for a in args:
            data = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(data), data)
        self.sock.sendall(out)
        return self._read()

    def _read(self) -> Any:
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise BrokerError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self.file.read(size + 2)[:-2].decode()
        if kind == b"*":
            return [self._read() for _ in range(int(rest))]
        raise BrokerError(f"unexpected reply {line!r}")

    def counter(self, key: str) -> int:
        return int(self.call("GET", key) or 0)

    def version(self) -> str:
        for line in self.call("INFO", "server").splitlines():
            if line.startswith("redis_version:"):
                return line.split(":", 1)[1]
        return "?"

    def close(self) -> None:
        self.sock.close()


def reset_redis(url: str) -> None:
    r = Redis(url)
    try:
        if r.db < 9:
            raise BrokerError(f"refusing to flush Redis db {r.db}: the harness uses db 9 or above")
        r.call("FLUSHDB")
    finally:
        r.close()


# --- PostgreSQL (psql) ---------------------------------------------------------------
def _psql(url: str, sql: str, database: str | None = None) -> str:
    parts = urlsplit(url)
    target = parts._replace(path="/" + database) if database else parts
    proc = subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", target.geturl(), "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode:
        raise BrokerError(f"psql: {proc.stderr.strip()}")
    return proc.stdout.strip()


def reset_postgres(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    if not name.startswith(PREFIX):
        raise BrokerError(f"refusing to reset database {name!r}: its name must start {PREFIX}")
    if not _psql(url, f"SELECT 1 FROM pg_database WHERE datname = '{name}'", "postgres"):
        _psql(url, f'CREATE DATABASE "{name}"', "postgres")
    _psql(
        url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
        "postgres",
    )
    schemas = _psql(
        url,
        "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
        "AND nspname <> 'information_schema'",
    ).split()
    drops = "".join(f'DROP SCHEMA "{s}" CASCADE;' for s in schemas)
    _psql(url, drops + "CREATE SCHEMA public;")


def postgres_version(url: str) -> str:
    return _psql(url, "SHOW server_version", "postgres")


# --- RabbitMQ (rabbitmqctl) ----------------------------------------------------------
def _rabbitmqctl(*args: str) -> str:
    proc = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=120)
    if proc.returncode:
        raise BrokerError(f"rabbitmqctl {args[0]}: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout.strip()


def reset_rabbitmq(url: str) -> None:
    parts = urlsplit(url)
    vhost = unquote(parts.path.lstrip("/"))
    if not vhost.startswith(PREFIX):
        raise BrokerError(f"refusing to reset vhost {vhost!r}: its name must start {PREFIX}")
    try:
        _rabbitmqctl("delete_vhost", vhost)
    except BrokerError:
        pass  # not there yet
    _rabbitmqctl("add_vhost", vhost)
    user = unquote(parts.username or "guest")
    _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")


def rabbitmq_version() -> str:
    return _rabbitmqctl("version")


# --- NATS (the text protocol, JetStream API requests) --------------------------------
class Nats:
    """A minimal NATS client: CONNECT, then request/reply on a private inbox."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222))
        self.sock.settimeout(10)
        self.file = self.sock.makefile("rb")
        line = self.file.readline()
        if not line.startswith(b"INFO "):
            raise BrokerError(f"not a NATS server: {line[:80]!r}")
        self.info = json.loads(line[5:])
        self.inbox = f"_INBOX.{uuid.uuid4().hex}"
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\n')
        self.sock.sendall(f"SUB {self.inbox} 1\r\n".encode())

    def request(self, subject: str, payload: dict) -> dict:
        data = json.dumps(payload).encode()
        self.sock.sendall(f"PUB {subject} {self.inbox} {len(data)}\r\n".encode() + data + b"\r\n")
        while True:
            line = self.file.readline()
            if line.startswith(b"PING"):
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith(b"MSG "):
                size = int(line.split()[-1])
                reply: dict = json.loads(self.file.read(size + 2)[:-2])
                return reply
            elif line.startswith(b"-ERR") or not line:
                raise BrokerError(f"NATS: {line.decode(errors='replace').strip()}")

    def close(self) -> None:
        self.sock.close()


def reset_nats(url: str) -> None:
    nc = Nats(url)
    try:
        names: list[str] = []
        offset = 0
        while True:
            page = nc.request("$JS.API.STREAM.NAMES", {"offset": offset})
            if "error" in page:
                raise BrokerError(f"NATS JetStream: {page['error']}")
            names += page.get("streams") or []
            offset += page.get("limit", 0) or 1
            if offset >= page.get("total", 0):
                break
        for name in names:
            if PREFIX in name:
                nc.request(f"$JS.API.STREAM.DELETE.{name}", {})
    finally:
        nc.close()


def nats_version(url: str) -> str:
    nc = Nats(url)
    try:
        return str(nc.info.get("version", "?"))
    finally:
        nc.close()


def reset(broker: str, urls: dict[str, str]) -> None:
    """Reset the harness's state on `broker` (the counter's Redis db always)."""
    reset_redis(urls["redis"])
    if broker == "postgres":
        reset_postgres(urls["postgres"])
    elif broker == "rabbitmq":
        reset_rabbitmq(urls["rabbitmq"])
    elif broker == "nats":
        reset_nats(urls["nats"])


def versions(broker: str, urls: dict[str, str]) -> dict[str, str]:
    """Server versions of the broker under test and of the counter's Redis."""
    r = Redis(urls["redis"])
    try:
        out = {"redis": r.version()}
    finally:
        r.close()
    try:
        if broker == "postgres":
            out["postgres"] = postgres_version(urls["postgres"])
        elif broker == "rabbitmq":
            out["rabbitmq"] = rabbitmq_version()
        elif broker == "nats":
            out["nats"] = nats_version(urls["nats"])
    except (BrokerError, OSError) as exc:
        out[broker] = f"unknown ({exc})"
    return out
