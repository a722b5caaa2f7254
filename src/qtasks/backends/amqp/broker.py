"""`AmqpBroker`: qtasks queues on RabbitMQ (`amqp://user:pass@host:5672/vhost`, `amqps://`).

```
  enqueue    publish with confirms to the work queue (or a delay queue): when it returns,
             the broker has the message
  fetch      deliveries of the queue's consumer (prefetch = what fetches asked for), or
             basic.get when not waiting; malformed messages are dead-lettered, not given
  ack        basic.ack on the delivery's channel (after the pair stored the final record)
  release    basic.nack(requeue): back to the queue at once, at its place
  nack       with a delay: republished to a delay queue, then acked
  extend     nothing to renew: the delivery is leased while its channel holds it
  bury       the final record is published to the dead-letter queue, then acked
```

It is a `Broker` only: task records live in the result store of `storage_url`, and
`qtasks.backends.paired` stores the final record before the ack and counts deliveries
(this broker reports `attempts` 0: a classic queue does not count them). See
docs/backends/amqp.md for the design: classic queues with priorities, connection-held
leases and `consumer_timeout`, delay queues, dead letters.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import aio_pika
import aio_pika.abc
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError

from qtasks.backends.amqp import codec, dead_letters
from qtasks.backends.amqp.driver import DELAY_QUEUE_GRACE, Consumer, Driver, Link, map_exceptions
from qtasks.backends.base import PortalTwins
from qtasks.core.models import DEFAULT_QUEUE, Completion, DeadLetter, Delivery, TaskRecord
from qtasks.core.ports import Broker, Capabilities, DeadLetters
from qtasks.core.status import NEW, PROCESS
from qtasks.exc import BackendUnavailableError

_WORK_ARGS = {"x-max-priority": codec.MAX_PRIORITY}
#: Longest delay one delay queue holds (ms); a later eta takes several hops.
_MAX_DELAY_MS = 2**31 - 1
#: How long a fetch that does not wait lets messages already sent arrive (seconds).
_SETTLE = 0.005
#: Confirmed uuids a broker object remembers, so that an enqueue repeated by this
#: process (a retry after a lost reply, a follow-up queued twice) publishes nothing.
_REMEMBERED = 10_000


@dataclasses.dataclass(slots=True)
class _Held:
    message: aio_pika.abc.AbstractIncomingMessage
    consumer: Consumer


class AmqpBroker(PortalTwins, Broker, DeadLetters):
    """A RabbitMQ broker for one app namespace; pair it with a result store."""

    schemes: ClassVar[tuple[str, ...]] = ("amqp", "amqps")
    capabilities: ClassVar[Capabilities] = Capabilities(
        priorities=True, delays=True, push=True, dead_letters=True, connection_leases=True
    )

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self._driver = Driver(url, self.log)
        self._held: dict[str, _Held] = {}
        self._tokens = itertools.count(1)
        self._queues: set[str] = {DEFAULT_QUEUE}  # queues this broker used (for purge)
        self._published: dict[str, None] = {}  # insertion-ordered: the oldest go first

    @property
    def _where(self) -> dead_letters.Where:
        return self.namespace, self.config.result_ttl

    # --- connections --------------------------------------------------------------------
    async def _link(self) -> Link:
        with map_exceptions(self.url):
            return await self._driver.link()

    async def _failed(self, exc: BaseException) -> None:
        """After an error: a lost connection is dropped, so the next call opens another."""
        if isinstance(exc, (BackendUnavailableError, AMQPError, OSError)):
            await self._driver.drop()

    def _consumer_closed(self, name: str, exc: Any) -> None:
        if not isinstance(exc, BaseException) or not exc.args or exc.args[0] is None:
            return  # closed by us, not by the server
        text = str(exc)
        if "acknowledgement" in text or "timed out" in text:
            self.log.error(
                "RabbitMQ closed the consumer channel of %s: a delivery stayed unacked longer "
                "than the server's consumer_timeout (%s). Its tasks go back to the queue and "
                "another worker may run them while this one still does: raise "
                "consumer_timeout above the longest task.",
                name,
                text,
            )
        else:
            self.log.warning("RabbitMQ closed the consumer channel of %s: %s", name, text)

    # --- publishing ---------------------------------------------------------------------
    def _message(self, record: TaskRecord, body: bytes) -> aio_pika.Message:
        return aio_pika.Message(
            body,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            priority=codec.amqp_priority(record.priority),
            message_id=record.uuid,
            content_type="application/json",
        )

    async def _route(self, link: Link, record: TaskRecord, now: float) -> str:
        """Declare the queue `record` goes to now (its work queue, or a delay queue while
        its eta is ahead) and return its name."""
        work = codec.work_queue(self.namespace, record.queue)
        await link.declare(work, _WORK_ARGS)
        wait = min(codec.delay_ms(record.eta, now), _MAX_DELAY_MS)
        if not wait:
            return work
        name = codec.delay_queue(self.namespace, record.queue, wait)
        arguments = {
            "x-message-ttl": wait,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": work,
            "x-expires": wait + int(DELAY_QUEUE_GRACE * 1000),
        }
        await link.declare(name, arguments, every=DELAY_QUEUE_GRACE / 2)
        return name

    async def _publish(self, link: Link, records: Sequence[TaskRecord]) -> None:
        bodies = [codec.encode(r) for r in records]  # refused before anything is sent
        now = time.time()
        keys = [await self._route(link, r, now) for r in records]
        sent = await asyncio.gather(
            *(
                link.publish(self._message(r, b), k)
                for r, b, k in zip(records, bodies, keys, strict=True)
            ),
            return_exceptions=True,
        )
        for outcome in sent:
            if isinstance(outcome, BaseException):
                raise outcome

    async def enqueue(self, records: Sequence[TaskRecord]) -> None:
        """Publish `records` (each persistent, confirmed). Idempotent by uuid within this
        broker object (it remembers the last `_REMEMBERED` uuids it had confirmed; the
        pair asks its store first, which covers every process once a task has run).
        Retried once on a new connection after a lost one; a message confirmed before
        the loss may then be published twice, and the store's record makes the later
        delivery an ack instead of a second run."""
        records = [r for r in records if r.uuid not in self._published]
        if not records:
            return
        for name in {r.queue for r in records}:
            self._queues.add(name)
        for attempt in (1, 2):
            try:
                with map_exceptions(self.url):
                    await self._publish(await self._link(), records)
                for record in records:
                    self._published[record.uuid] = None
                while len(self._published) > _REMEMBERED:
                    self._published.pop(next(iter(self._published)))
                return
            except BackendUnavailableError as exc:
                await self._failed(exc)
                if attempt == 2:
                    raise

    # --- fetching -----------------------------------------------------------------------
    async def fetch(
        self, queue: str, limit: int, lease: float, worker_id: str, wait: float
    ) -> list[Delivery]:
        """Up to `limit` deliveries, waiting up to `wait` seconds for the first. `lease`
        is not used: a delivery stays leased while this connection holds it unacked."""
        self._queues.add(queue)
        try:
            with map_exceptions(self.url):
                link = await self._link()
                name = codec.work_queue(self.namespace, queue)
                consumer = await link.consumer(name, _WORK_ARGS, self._consumer_closed, limit)
                return await self._take(link, consumer, limit, wait)
        except BackendUnavailableError as exc:
            await self._failed(exc)
            raise

    async def _take(
        self, link: Link, consumer: Consumer, limit: int, wait: float
    ) -> list[Delivery]:
        # The channel may hold what fetches asked for: those running and `limit` more.
        await consumer.want(consumer.held + limit)
        deadline = time.monotonic() + wait
        got: list[Delivery] = []
        try:
            while True:
                while consumer.buffer and len(got) < limit:
                    delivery = await self._deliver(link, consumer, consumer.buffer.popleft())
                    if delivery is not None:
                        got.append(delivery)
                if len(got) >= limit or consumer.closed:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:  # not waiting: ask the queue itself, in priority order
                    got += await self._get(link, consumer, limit - len(got))
                    break
                if got:
                    break
                await consumer.wait(remaining)
            await self._trim(consumer)
        except BaseException:
            await self.release(got)  # a cancelled or failed fetch keeps nothing
            raise
        return got

    async def _get(self, link: Link, consumer: Consumer, limit: int) -> list[Delivery]:
        """Without waiting: what the channel was already sent (it comes first: the queue
        chose it by priority), then basic.get for the rest."""
        got: list[Delivery] = []
        await asyncio.sleep(_SETTLE)
        while consumer.buffer and len(got) < limit:
            delivery = await self._deliver(link, consumer, consumer.buffer.popleft())
            if delivery is not None:
                got.append(delivery)
        while len(got) < limit and await consumer.get():
            delivery = await self._deliver(link, consumer, consumer.buffer.pop())
            if delivery is not None:
                got.append(delivery)
        return got

    async def _trim(self, consumer: Consumer) -> None:
        """Deliveries beyond the prefetch now asked for (a lower limit than before) go
        back to the queue, so no task waits here behind a running one."""
        while consumer.buffer and consumer.held + len(consumer.buffer) > consumer.prefetch:
            await _settle(consumer.buffer.pop().nack(requeue=True))

    async def _deliver(
        self, link: Link, consumer: Consumer, message: aio_pika.abc.AbstractIncomingMessage
    ) -> Delivery | None:
        """The delivery of `message`, or None for one that is not a task (dead-lettered)
        or not due yet (back to a delay queue)."""
        try:
            record = codec.decode(message.body)
        except codec.Malformed as exc:
            # Shielded: a cancelled fetch must not leave it taken and neither acked nor
            # dead-lettered.
            await asyncio.shield(self._malformed(link, consumer, message, exc))
            return None
        now = time.time()
        if codec.delay_ms(record.eta, now):  # early (a long delay takes several hops)
            record.status = NEW
            await asyncio.shield(self._move(link, message, record))
            return None
        record.status, record.attempts, record.updated_at = PROCESS, 0, now
        token = str(next(self._tokens))
        self._held[token] = _Held(message, consumer)
        consumer.held += 1
        return Delivery(record, token)

    async def _malformed(
        self,
        link: Link,
        consumer: Consumer,
        message: aio_pika.abc.AbstractIncomingMessage,
        exc: Exception,
    ) -> None:
        uuid = message.message_id or f"malformed-{message.delivery_tag}"
        await dead_letters.publish_raw(self._where, link, uuid, message.body, str(exc))
        await message.ack()
        self.log.error("Dead-lettered message %s of %s: %s", uuid, consumer.name, exc)

    async def _move(
        self, link: Link, message: aio_pika.abc.AbstractIncomingMessage, record: TaskRecord
    ) -> None:
        await self._publish(link, [record])  # first: then the ack
        await message.ack()

    def _release_hold(self, delivery: Delivery) -> aio_pika.abc.AbstractIncomingMessage | None:
        held = self._held.pop(delivery.token, None)
        if held is None:
            return None
        held.consumer.held -= 1
        return held.message

    # --- settling -----------------------------------------------------------------------
    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Ack on the delivery's channel. Unknown tokens and deliveries whose channel
        closed (the server has requeued them) are skipped: a closed channel's lease is
        gone, and the store's final record acks its redelivery without a second run."""
        for delivery in deliveries:
            message = self._release_hold(delivery)
            if message is not None:
                await _settle(message.ack())

    async def release(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            message = self._release_hold(delivery)
            if message is not None:
                await _settle(message.nack(requeue=True))

    async def nack(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        if delay <= 0:
            await self.release(deliveries)
            return
        held = [(d, self._held.get(d.token)) for d in deliveries]
        moving = [(d, h) for d, h in held if h is not None]
        if not moving:
            return
        eta = time.time() + delay
        records = [dataclasses.replace(d.record, status=NEW, eta=eta) for d, _ in moving]
        with map_exceptions(self.url):
            await self._publish(await self._link(), records)  # first: then the ack
        await self.ack([d for d, _ in moving])

    async def extend(self, deliveries: Sequence[Delivery], lease: float) -> None:
        """Nothing to renew: a delivery stays leased while its channel holds it (the
        connection's heartbeats keep it), up to the server's `consumer_timeout`."""

    def extend_sync(self, deliveries: Sequence[Delivery], lease: float) -> None:
        """As `extend`: nothing to renew, so the lease thread needs no connection."""

    async def bury(self, completions: Sequence[Completion]) -> None:
        for completion in completions:
            if completion.delivery.token not in self._held:
                continue  # not ours any more: fenced
            # Shielded: a worker that stops meanwhile must not leave it published and
            # not acked (it would come back), nor acked and not published.
            await asyncio.shield(self._bury(completion))

    async def _bury(self, completion: Completion) -> None:
        reason = completion.dead_letter or "dead-lettered"
        with map_exceptions(self.url):
            link = await self._link()
            await dead_letters.publish_record(self._where, link, completion.record, reason)
        await self.ack([completion.delivery])

    # --- dead letters -------------------------------------------------------------------
    async def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        with map_exceptions(self.url):
            return await dead_letters.listed(self.namespace, await self._link(), limit, offset)

    async def requeue_dead_letters(self, uuids: Sequence[str] | None = None) -> int:
        with map_exceptions(self.url):
            link = await self._link()
            return await dead_letters.requeue(
                self.namespace, link, uuids, lambda records: self._publish(link, records)
            )

    async def purge_dead_letters(self, uuids: Sequence[str] | None = None) -> int:
        with map_exceptions(self.url):
            return await dead_letters.purge(self.namespace, await self._link(), uuids)

    def dead_letters_sync(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        result: list[DeadLetter] = self._call(self.dead_letters, limit, offset)
        return result

    def requeue_dead_letters_sync(self, uuids: Sequence[str] | None = None) -> int:
        result: int = self._call(self.requeue_dead_letters, uuids)
        return result

    def purge_dead_letters_sync(self, uuids: Sequence[str] | None = None) -> int:
        result: int = self._call(self.purge_dead_letters, uuids)
        return result

    # --- administration -----------------------------------------------------------------
    async def purge(self) -> None:
        """Empty this namespace's work queues that this process used, the delay queues it
        declared and the dead letters. RabbitMQ cannot list queues over AMQP: work queues
        only other processes used are left alone."""
        self._published.clear()  # a uuid enqueued again after a purge is new again
        with map_exceptions(self.url):
            link = await self._link()
            names = {codec.work_queue(self.namespace, q) for q in self._queues}
            prefix = codec.work_queue(self.namespace, "")
            names |= {n for n in link.declared() if n.startswith(prefix)}
            for name in sorted(names):
                await (await link.queue(name, link.declared().get(name, _WORK_ARGS))).purge()
            await (await link.queue(codec.dead_queue(self.namespace), {})).purge()
            for consumer in link.consumers.values():  # what was delivered and not taken
                while consumer.buffer:
                    await _settle(consumer.buffer.popleft().ack())

    async def stats(self, queue: str = DEFAULT_QUEUE) -> dict[str, int]:
        """`queued`: ready in the work queue (and delivered here, not yet fetched);
        `leased`: this broker's deliveries not yet acked (RabbitMQ does not tell a client
        the unacked messages of other connections)."""
        name = codec.work_queue(self.namespace, queue)
        with map_exceptions(self.url):
            link = await self._link()
            declared = await link.queue(name, _WORK_ARGS)
        ready = declared.declaration_result.message_count or 0
        consumer = link.consumers.get(name)
        buffered = len(consumer.buffer) if consumer is not None and not consumer.closed else 0
        leased = sum(1 for h in self._held.values() if h.consumer.name == name)
        return {"queued": ready + buffered, "leased": leased}

    async def close(self) -> None:
        """Close this loop's connection: what it held unacked goes back to the queues."""
        await self._driver.close()
        self._held = {t: h for t, h in self._held.items() if not h.consumer.closed}


async def _settle(settling: Any) -> None:
    """Ack or nack where the channel may be gone: the server has requeued what it held."""
    try:
        await settling
    except (AMQPError, OSError, ChannelInvalidStateError):
        pass


__all__ = ["AmqpBroker"]
