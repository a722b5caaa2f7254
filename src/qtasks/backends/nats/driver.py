"""The NATS driver: one connection per event loop, JetStream streams, consumers and
key-value buckets created on first use, names derived from the app's namespace, and
error translation. It knows nothing about tasks.

A connection reconnects on its own (forever, every 0.2 s) when the server goes away;
requests made meanwhile wait for it up to their timeout. Every nats-py error leaves as
`BackendUnavailableError` (no server, no JetStream, timed out) or `BackendError`, naming
the URL without its password.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import weakref
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.kv import KeyValue

from qtasks.backends.nats.tls import split_tls
from qtasks.core.ports import redact
from qtasks.exc import BackendError, BackendUnavailableError

#: Seconds a request (publish, API call, key-value read) waits for its reply, a
#: reconnection included.
REQUEST_TIMEOUT = 5.0
_CONNECT_TIMEOUT = 5.0
_SAFE = re.compile(r"[A-Za-z0-9_-]{1,48}")


def token(name: str) -> str:
    """`name` as one token valid in stream, consumer, bucket and subject names: itself
    when it only has letters, digits, `_` and `-`, else a readable part plus a hash."""
    if _SAFE.fullmatch(name):
        return name
    readable = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:24]
    return f"{readable}_{hashlib.sha1(name.encode()).hexdigest()[:10]}"


def priority_token(priority: int) -> str:
    return f"p{priority}" if priority >= 0 else f"n{-priority}"


def token_priority(tok: str) -> int:
    return int(tok[1:]) if tok[0] == "p" else -int(tok[1:])


class Names:
    """The JetStream names of one namespace: a work-queue stream with one subject per
    queue and priority, a dead-letter stream, and key-value buckets."""

    def __init__(self, namespace: str) -> None:
        ns = token(namespace)
        self.stream = f"QT_{ns}"
        self.prefix = f"qt.{ns}.t"
        self.dead_stream = f"QT_{ns}_dead"
        self.dead_subject = f"qt.{ns}.dead"
        self.results = f"QT_{ns}_results"
        self.leases = f"QT_{ns}_leases"
        self.workers = f"QT_{ns}_workers"
        self.coordination = f"QT_{ns}_coord"

    def subject(self, queue: str, priority: int) -> str:
        return f"{self.prefix}.{token(queue)}.{priority_token(priority)}"

    def queue_filter(self, queue: str) -> str:
        return f"{self.prefix}.{token(queue)}.*"

    def durable(self, subject: str) -> str:
        """The pull consumer of one subject (queue and priority band)."""
        return subject[len(self.prefix) + 1 :].replace(".", "__")


class map_exceptions:  # lower case like contextlib.suppress: `with map_exceptions(url):`
    """Translate a nats-py error raised inside the block; the message names the URL
    without its password, the nats-py error is the `__cause__`."""

    __slots__ = ("where",)

    def __init__(self, where: str) -> None:
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None or isinstance(exc, BackendError):
            return
        if isinstance(
            exc,
            (
                nats.errors.TimeoutError,
                nats.errors.NoServersError,
                nats.errors.ConnectionClosedError,
                nats.errors.NoRespondersError,
                nats.errors.StaleConnectionError,
                nats.errors.OutboundBufferLimitError,
                nats.js.errors.ServiceUnavailableError,
                asyncio.TimeoutError,
                OSError,
            ),
        ):
            raise BackendUnavailableError(
                f"NATS at {self.where} is unreachable: {type(exc).__name__} {exc}"
            ) from exc
        if isinstance(exc, nats.errors.Error):
            raise BackendError(f"NATS at {self.where} failed: {type(exc).__name__} {exc}") from exc


_T = TypeVar("_T")


def cancelled_meanwhile(task: asyncio.Task[Any] | None, before: int) -> bool:
    """Whether `task` was asked to cancel since it counted `before` requests."""
    return task is not None and task.cancelling() > before


def keeps_cancellation(
    method: Callable[..., Coroutine[Any, Any, _T]],
) -> Callable[..., Coroutine[Any, Any, _T]]:
    """Raise `CancelledError` after a call that a cancellation reached but that returned.

    nats-py waits with `asyncio.wait_for`, which on Python 3.11 returns the result
    instead of raising when the cancellation comes as the awaited reply arrives: the
    caller (a worker being stopped) would go on as if never cancelled."""

    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> _T:
        task = asyncio.current_task()
        before = task.cancelling() if task is not None else 0
        result = await method(*args, **kwargs)
        if cancelled_meanwhile(task, before):
            raise asyncio.CancelledError
        return result

    return call


class Link:
    """One connection (of one event loop) and its JetStream handles."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=REQUEST_TIMEOUT)
        self.kv: dict[str, KeyValue] = {}


class NatsDriver:
    """Connections of one URL, one per event loop (the worker's, the portal's...), and
    the streams, consumers and buckets of one namespace, made on first use."""

    def __init__(self, url: str, names: Names) -> None:
        self.url, self.tls = split_tls(url)
        self.where = redact(self.url)
        self.names = names
        self.errors = map_exceptions(self.where)
        self._links: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Link] = (
            weakref.WeakKeyDictionary()
        )
        self._connecting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        #: Made (or found) on the server by this process: stream and bucket names, and
        #: consumer durable names with their ack wait (seconds).
        self.made: set[str] = set()
        self.consumers: dict[str, float] = {}

    async def link(self) -> Link:
        loop = asyncio.get_running_loop()
        link = self._links.get(loop)
        if link is not None and not link.nc.is_closed:
            return link
        lock = self._connecting.setdefault(loop, asyncio.Lock())
        async with lock:
            link = self._links.get(loop)
            if link is None or link.nc.is_closed:
                link = Link(await self._connect())
                self._links[loop] = link
            return link

    async def _connect(self) -> Client:
        async def quiet(exc: Exception) -> None:  # nats-py logs through callbacks only
            return None

        # Reconnect for ever once connected; the first connection is bounded instead,
        # so a wrong URL is an error and not a hang.
        with self.errors:
            async with asyncio.timeout(_CONNECT_TIMEOUT):
                return await nats.connect(
                    servers=[self.url],
                    name="qtasks",
                    **({"tls": self.tls} if self.tls is not None else {}),
                    connect_timeout=2,
                    reconnect_time_wait=0.2,
                    max_reconnect_attempts=-1,
                    error_cb=quiet,
                    pending_size=64 * 1024 * 1024,
                )

    async def close(self) -> None:
        """Close this event loop's connection (others close with their loops)."""
        link = self._links.pop(asyncio.get_running_loop(), None)
        if link is not None and not link.nc.is_closed:
            try:
                await link.nc.drain()
            except (TimeoutError, nats.errors.Error, OSError):
                await link.nc.close()

    # --- what lives on the server ----------------------------------------------------
    async def work_stream(self, link: Link) -> None:
        """The work-queue stream of the namespace: a message is removed when acked."""
        if self.names.stream not in self.made:
            await self._stream(
                link,
                StreamConfig(
                    name=self.names.stream,
                    subjects=[f"{self.names.prefix}.>"],
                    retention=RetentionPolicy.WORK_QUEUE,
                    storage=StorageType.FILE,
                    duplicate_window=DUPLICATE_WINDOW,
                ),
            )

    async def dead_stream(self, link: Link, keep: float) -> None:
        """The dead letters: a plain stream whose entries are dropped after `keep` s."""
        if self.names.dead_stream not in self.made:
            await self._stream(
                link,
                StreamConfig(
                    name=self.names.dead_stream,
                    subjects=[self.names.dead_subject],
                    retention=RetentionPolicy.LIMITS,
                    storage=StorageType.FILE,
                    max_age=keep,
                ),
            )

    async def _stream(self, link: Link, config: StreamConfig) -> None:
        assert config.name is not None
        with self.errors:
            try:
                await link.js.stream_info(config.name)
            except nats.js.errors.NotFoundError:
                try:
                    await link.js.add_stream(config)
                except nats.js.errors.BadRequestError:  # made meanwhile by another process
                    await link.js.stream_info(config.name)
        self.made.add(config.name)

    async def consumer(self, link: Link, subject: str, ack_wait: float) -> tuple[str, float]:
        """The durable pull consumer of `subject`: its name and its ack wait (the one it
        was made with, which may be another process's `lease_timeout`)."""
        durable = self.names.durable(subject)
        known = self.consumers.get(durable)
        if known is not None:
            return durable, known
        config = ConsumerConfig(
            durable_name=durable,
            filter_subject=subject,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait,
            # Delayed tasks wait as unacked messages (see broker.py): no cap on them.
            max_ack_pending=-1,
            max_deliver=-1,
        )
        # Looked up before it is made: JetStream takes a second `add_consumer` with
        # another ack wait as an update, which would change the lease of every process
        # using it. The first one made stays, and the others set their lease per message.
        with self.errors:
            try:
                info = await link.js.consumer_info(self.names.stream, durable)
            except nats.js.errors.NotFoundError:
                try:
                    info = await link.js.add_consumer(self.names.stream, config)
                except nats.js.errors.BadRequestError:  # made meanwhile by another process
                    info = await link.js.consumer_info(self.names.stream, durable)
        wait = float(info.config.ack_wait or ack_wait)
        self.consumers[durable] = wait
        return durable, wait

    async def bucket(self, link: Link, name: str, ttl: float | None = None) -> KeyValue:
        kv = link.kv.get(name)
        if kv is not None:
            return kv
        with self.errors:
            try:
                kv = await link.js.key_value(name)
            except nats.js.errors.BucketNotFoundError:
                try:
                    kv = await link.js.create_key_value(
                        KeyValueConfig(bucket=name, history=1, ttl=ttl, storage=StorageType.FILE)
                    )
                except nats.js.errors.BadRequestError:  # made meanwhile by another process
                    kv = await link.js.key_value(name)
        link.kv[name] = kv
        return kv

    async def drop(self) -> None:
        """Delete the namespace's streams and buckets (tests clean up with this)."""
        link = await self.link()
        n = self.names
        with self.errors:
            for stream in (
                n.stream,
                n.dead_stream,
                *(f"KV_{b}" for b in (n.results, n.leases, n.workers, n.coordination)),
            ):
                try:
                    await link.js.delete_stream(stream)
                except nats.js.errors.NotFoundError:
                    pass
        self.made.clear()
        self.consumers.clear()
        link.kv.clear()


#: How long JetStream remembers a `Nats-Msg-Id` to drop a second publish of it (s).
DUPLICATE_WINDOW = 600.0


__all__ = [
    "DUPLICATE_WINDOW",
    "REQUEST_TIMEOUT",
    "Link",
    "Names",
    "NatsDriver",
    "cancelled_meanwhile",
    "keeps_cancellation",
    "map_exceptions",
    "priority_token",
    "token",
    "token_priority",
]
