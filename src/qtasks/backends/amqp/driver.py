"""The RabbitMQ driver: one connection per event loop (the worker's loop, the portal's),
a publisher channel with confirms, one consumer channel per work queue, queue
declarations, reconnection and error translation. It knows queues and messages, not
tasks.

aio-pika connections belong to the loop that opened them, so each loop gets its own
`Link`; after a fork the child opens its own. A lost connection is noticed by the next
call, which opens a new one (retrying for a few seconds: a broker restart). Every
aio-pika error leaves as `BackendUnavailableError` (broker unreachable, connection or
channel lost) or `BackendError`, naming the URL without its password.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import ssl
import time
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any

import aio_pika
import aio_pika.abc
import aiormq.exceptions
from aio_pika.connection import make_url
from aio_pika.exceptions import AMQPError

from qtasks.core.ports import redact
from qtasks.exc import BackendError, BackendUnavailableError

#: Connection attempts after a failure: 50 ms doubling up to 1 s, ~7 s in all, which
#: covers a broker restart (`rabbitmqctl stop_app; start_app`).
_RETRIES = 11
_CONNECT_TIMEOUT = 5.0
#: A delay queue outlives its last declaration by its TTL plus this (seconds), so one
#: declared again at least this often never expires with messages in it.
DELAY_QUEUE_GRACE = 600.0

_UNAVAILABLE = (
    aiormq.exceptions.AMQPConnectionError,
    aiormq.exceptions.ConnectionClosed,
    aiormq.exceptions.ChannelInvalidStateError,
    aiormq.exceptions.ChannelClosed,
    ConnectionError,
    OSError,
    TimeoutError,
)


def _certificate_refused(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in repr(exc.__cause__)


class map_exceptions:  # lower case like contextlib.suppress: `with map_exceptions(url):`
    """Translate an aio-pika error raised inside the block: broker unreachable, connection
    or channel lost -> `BackendUnavailableError`, any other AMQP error -> `BackendError`;
    the message names the URL without its password, the driver's error is the cause."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None or isinstance(exc, (BackendError, asyncio.CancelledError)):
            return
        if isinstance(exc, aiormq.exceptions.ChannelPreconditionFailed):
            raise BackendError(f"RabbitMQ at {redact(self.url)} refused: {exc}") from exc
        closed = isinstance(exc, RuntimeError) and "closed" in str(exc)  # aiormq's words
        if isinstance(exc, _UNAVAILABLE) or closed:
            raise BackendUnavailableError(
                f"RabbitMQ at {redact(self.url)} cannot be reached: {exc!r}"
            ) from exc
        if isinstance(exc, AMQPError):
            raise BackendError(f"RabbitMQ at {redact(self.url)} failed: {exc!r}") from exc


class Consumer:
    """A work queue consumed on a channel of its own: deliveries wait in `buffer` until a
    fetch takes them. The channel's prefetch bounds what is delivered and not yet acked,
    so the buffer never holds more than the fetches asked for (see `AmqpBroker.fetch`)."""

    def __init__(self, channel: aio_pika.abc.AbstractChannel, name: str) -> None:
        self.channel = channel
        self.name = name
        self.buffer: collections.deque[aio_pika.abc.AbstractIncomingMessage] = collections.deque()
        self.arrived = asyncio.Event()
        self.prefetch = 0
        self.held = 0  # delivered to fetch callers and not yet acked or given back

    @property
    def closed(self) -> bool:
        return self.channel.is_closed

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        self.buffer.append(message)
        self.arrived.set()

    async def want(self, prefetch: int) -> bool:
        """Let the broker deliver up to `prefetch` unacked messages on this channel; True
        when that is more than before."""
        prefetch = max(1, prefetch)
        if prefetch == self.prefetch:
            return False
        more, self.prefetch = prefetch > self.prefetch, prefetch
        # Shielded: aiormq closes a channel whose call is cancelled, and with it would go
        # the leases of every task this channel holds.
        await asyncio.shield(self.channel.set_qos(prefetch_count=prefetch, global_=True))
        return more

    async def get(self) -> bool:
        """basic.get one message into the buffer (shielded like `want`); False when the
        queue is empty."""
        return await asyncio.shield(self._get())

    async def _get(self) -> bool:
        queue = await self.channel.get_queue(self.name, ensure=False)
        message = await queue.get(no_ack=False, fail=False)
        if message is None:
            return False
        self.buffer.append(message)
        return True

    async def wait(self, timeout: float) -> None:
        """Until a delivery arrives or the channel closes, at most `timeout` seconds."""
        self.arrived.clear()
        if self.buffer or self.closed:
            return
        try:
            await asyncio.wait_for(self.arrived.wait(), timeout)
        except TimeoutError:
            pass


class Link:
    """One connection and its channels, used by one event loop."""

    def __init__(self, url: str, connection: aio_pika.abc.AbstractConnection, log: Any) -> None:
        self.url = url
        self.connection = connection
        self.log = log
        self._publisher: aio_pika.abc.AbstractChannel | None = None
        self._declared: dict[str, tuple[float, dict[str, Any]]] = {}
        self.consumers: dict[str, Consumer] = {}
        self._opening = asyncio.Lock()

    @property
    def closed(self) -> bool:
        return self.connection.is_closed

    async def publisher(self) -> aio_pika.abc.AbstractChannel:
        """The channel that publishes with confirms: `publish` returns once the broker
        has the message (on disk for a persistent message in a durable queue)."""
        if self._publisher is None or self._publisher.is_closed:
            self._publisher = await self.connection.channel(publisher_confirms=True)
            self._declared.clear()  # declarations are per broker, but a closed channel may
            # mean a deleted queue: declare again rather than publish into nothing
        return self._publisher

    async def declare(
        self, name: str, arguments: dict[str, Any], every: float | None = None
    ) -> None:
        """Declare a durable queue once (again after `every` seconds, when given)."""
        last = self._declared.get(name)
        if last is not None and (every is None or time.monotonic() - last[0] < every):
            return
        await self.queue(name, arguments)

    async def publish(self, message: aio_pika.Message, routing_key: str) -> None:
        channel = await self.publisher()
        await channel.default_exchange.publish(message, routing_key=routing_key, mandatory=True)

    async def queue(self, name: str, arguments: dict[str, Any]) -> aio_pika.abc.AbstractQueue:
        """The queue (declared) on the publisher channel, e.g. for its message count."""
        channel = await self.publisher()
        queue = await channel.declare_queue(name, durable=True, arguments=arguments)
        self._declared[name] = (time.monotonic(), arguments)
        return queue

    def declared(self) -> dict[str, dict[str, Any]]:
        """The queues declared on this link, with their arguments."""
        return {name: arguments for name, (_, arguments) in self._declared.items()}

    async def consumer(
        self,
        name: str,
        arguments: dict[str, Any],
        on_close: Callable[[str, Any], None],
        prefetch: int,
    ) -> Consumer:
        """The consumer of work queue `name`, started on first use or after its channel
        closed (its deliveries went back to the queue with it)."""
        consumer = self.consumers.get(name)
        if consumer is not None and not consumer.closed:
            return consumer
        async with self._opening:  # one consumer per queue: a second would hide deliveries
            consumer = self.consumers.get(name)
            if consumer is not None and not consumer.closed:
                return consumer
            return await self._open_consumer(name, arguments, on_close, prefetch)

    async def _open_consumer(
        self,
        name: str,
        arguments: dict[str, Any],
        on_close: Callable[[str, Any], None],
        prefetch: int,
    ) -> Consumer:
        channel = await self.connection.channel(publisher_confirms=False)
        consumer = Consumer(channel, name)

        def closed(_channel: Any, exc: Any) -> None:
            consumer.arrived.set()  # a waiting fetch returns now
            on_close(name, exc)

        channel.close_callbacks.add(closed)
        await consumer.want(prefetch)
        queue = await channel.declare_queue(name, durable=True, arguments=arguments)
        await queue.consume(consumer.on_message, no_ack=False)
        self.consumers[name] = consumer
        return consumer

    async def close(self) -> None:
        channels = [c.channel for c in self.consumers.values()] + [self._publisher]
        self.consumers.clear()
        for channel in channels:
            if channel is not None and not channel.is_closed:
                await channel.close()
        if not self.connection.is_closed:
            await self.connection.close()
        for _ in range(3):  # aio-pika runs its close callbacks as tasks: let them end
            await asyncio.sleep(0)


class Driver:
    """The `Link` of the running loop, opened on demand and again after a loss."""

    def __init__(self, url: str, log: Any) -> None:
        self.url = url
        self.log = log
        self._links: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Link] = (
            weakref.WeakKeyDictionary()
        )
        self._connecting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._pid = os.getpid()

    def _table(self) -> weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Link]:
        if self._pid != os.getpid():  # a forked child: the parent's sockets are not ours
            self._links = weakref.WeakKeyDictionary()
            self._connecting = weakref.WeakKeyDictionary()
            self._pid = os.getpid()
        return self._links

    def current(self) -> Link | None:
        """The running loop's link, if it has one that is open."""
        link = self._table().get(asyncio.get_running_loop())
        return None if link is None or link.closed else link

    async def link(self) -> Link:
        """The running loop's open link; connects (with retries) when there is none."""
        link = self.current()
        if link is not None:
            return link
        loop = asyncio.get_running_loop()
        lock = self._connecting.setdefault(loop, asyncio.Lock())
        async with lock:  # one link per loop: a second would orphan the first's consumers
            link = self.current()
            if link is not None:
                return link
            link = Link(self.url, await self._connect(), self.log)
            self._table()[loop] = link
            return link

    async def _connect(self) -> aio_pika.abc.AbstractConnection:
        delay = 0.05
        for attempt in range(_RETRIES + 1):
            connection = aio_pika.Connection(make_url(self.url))
            try:
                with map_exceptions(self.url):
                    await connection.connect(timeout=_CONNECT_TIMEOUT)
                return connection
            except BaseException as exc:
                with contextlib.suppress(Exception):  # what a failed attempt opened
                    await connection.close()
                retry = isinstance(exc, BackendUnavailableError) and attempt < _RETRIES
                # A certificate the client refuses will not change by retrying.
                if not retry or _certificate_refused(exc):
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")

    async def drop(self) -> None:
        """Forget the running loop's link (it failed); the next call opens another."""
        link = self._table().pop(asyncio.get_running_loop(), None)
        if link is not None and not link.closed:
            try:
                await asyncio.wait_for(link.close(), 1.0)
            except (AMQPError, OSError, TimeoutError):
                pass  # closing what already failed

    async def close(self) -> None:
        """Close the links of every loop (the portal's too): what they held unacked goes
        back to the queues."""
        running = asyncio.get_running_loop()
        table = self._table()
        for loop, link in list(table.items()):
            table.pop(loop, None)
            if link.closed:
                continue
            with map_exceptions(self.url):
                if loop is running:
                    await link.close()
                elif loop.is_running():
                    closing = asyncio.run_coroutine_threadsafe(link.close(), loop)
                    await asyncio.wait_for(asyncio.wrap_future(closing), 5.0)


__all__ = ["DELAY_QUEUE_GRACE", "Consumer", "Driver", "Link", "map_exceptions"]
