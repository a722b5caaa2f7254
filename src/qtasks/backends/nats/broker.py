"""`NatsBroker`: queues, leases and acknowledgements on NATS JetStream.

```
  stream QT_<ns>          work-queue retention: a message is removed when acked
    subject qt.<ns>.t.<queue>.<p3>  one subject per queue and priority (p3, n2 = -2)
    consumer <queue>__<p3>          one durable pull consumer per subject
  enqueue     publish with Nats-Msg-Id = uuid (a second publish within the duplicate
              window is dropped by the server)
  fetch       the queue's non-empty subjects, lowest priority first; pull up to the
              limit from each (no_wait); wait on a plain subscription to the queue's
              subjects (woken by the next publish), re-checking every 0.5 s for
              redeliveries
  lease       AckWait of the consumer (the app's lease_timeout); another lease length
              is set per message with a delayed nak, which keeps it unacked
  extend      +WPI (in progress: AckWait again), or a delayed nak for another length
  release     -NAK (now), nack(delay) -NAK {"delay": ...}
  eta         a message whose eta is ahead is given back with a nak delayed until then
```

Fencing and the delivery count are in `leases.py`. The engine's delivery count, not
JetStream's MaxDeliver, takes poison tasks out (a message past MaxDeliver would stay in
the stream unacked, waiting for an advisory reader to move it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import nats.errors
import orjson
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from qtasks.backends.base import PortalTwins, requeued, undecodable
from qtasks.backends.nats import codec, dead, leases
from qtasks.backends.nats.driver import (
    REQUEST_TIMEOUT,
    Link,
    Names,
    NatsDriver,
    cancelled_meanwhile,
    keeps_cancellation,
    token_priority,
)
from qtasks.core.models import DEFAULT_QUEUE, Completion, DeadLetter, Delivery, TaskRecord
from qtasks.core.ports import Broker, Capabilities, DeadLetters
from qtasks.core.status import PROCESS

if TYPE_CHECKING:
    from qtasks.core.config import QueueConfig
    from qtasks.core.log import Log

#: Seconds between re-checks of a waiting fetch (expired leases wake no one).
_RECHECK = 0.5


def _band_priority(subject: str) -> int:
    return token_priority(subject.rsplit(".", 1)[1])


#: Seconds to wait for the rest of a pull cut short by a cancellation.
_DRAIN = 1.0
#: Seconds a flush of naks and in-progress acks may wait (nats-py takes whole seconds).
_FLUSH = int(REQUEST_TIMEOUT)
#: An extend this close to the end of its lease (s) may come after the server let it
#: lapse: it writes a claim (see leases.py).
_LATE = 0.05
#: A delivery whose lease has longer than this to run (s) surely holds its message.
_MARGIN = 1.0


class NatsBroker(PortalTwins, Broker, DeadLetters):
    """A `Broker` on a NATS JetStream server (`nats://host:4222`, `tls://...`).

    Used alone it needs a result store (`storage_url`); `nats://` as a whole backend
    is `NatsBackend`, this broker with a key-value result store."""

    schemes = ("nats", "tls")
    capabilities = Capabilities(priorities=True, delays=True, push=True)

    def __init__(
        self,
        url: str,
        *,
        namespace: str,
        config: QueueConfig,
        log: Log,
        driver: NatsDriver | None = None,
    ) -> None:
        super().__init__(url, namespace=namespace, config=config, log=log)
        self.names = Names(namespace)
        self.driver = driver or NatsDriver(url, self.names)
        #: Called with the `error` record of a queued message that cannot be decoded
        #: (the whole backend stores it in its results bucket).
        self.on_undecodable: Callable[[TaskRecord], Awaitable[None]] | None = None
        #: Of each delivery made here: when its lease ends (`time.monotonic()`) and its
        #: consumer's ack wait (s).
        self._leases: dict[str, tuple[float, float]] = {}

    # --- client side ----------------------------------------------------------------
    @keeps_cancellation
    async def enqueue(self, records: Sequence[TaskRecord]) -> None:
        await self._publish([(r, r.uuid) for r in records])

    async def _publish(self, items: Sequence[tuple[TaskRecord, str]]) -> None:
        """Publish tasks, each with its message id; every message is encoded before
        the first is sent, and each publish waits for the server's ack."""
        if not items:
            return
        encoded = [
            (self.names.subject(r.queue, r.priority), codec.task_message(r), {"Nats-Msg-Id": mid})
            for r, mid in items
        ]
        link = await self.driver.link()
        await self.driver.work_stream(link)
        with self.driver.errors:
            await asyncio.gather(*(link.js.publish(s, body, headers=h) for s, body, h in encoded))

    # --- worker side ------------------------------------------------------------------
    async def fetch(
        self, queue: str, limit: int, lease: float, worker_id: str, wait: float
    ) -> list[Delivery]:
        task = asyncio.current_task()
        before = task.cancelling() if task is not None else 0
        link = await self.driver.link()
        await self.driver.work_stream(link)
        deadline = time.monotonic() + wait
        woken = asyncio.Event()
        published: set[str] = set()  # subjects published to since the last look
        look_everywhere = True
        sub = None
        try:
            while True:
                woken.clear()
                # Woken by publishes, only their subjects can hold new messages (the
                # others were empty at the last look): no STREAM.INFO round trip.
                bands = None if look_everywhere else sorted(published, key=_band_priority)
                published.clear()
                got = await self._take(link, queue, limit, lease, bands)
                if cancelled_meanwhile(task, before):  # see keeps_cancellation
                    await asyncio.shield(self._give_back(link, [d.token for d in got]))
                    raise asyncio.CancelledError
                remaining = deadline - time.monotonic()
                if got or remaining <= 0:
                    return got
                if bands is not None:
                    # The wake can outrun the stream's store of that message: look
                    # everywhere once more before waiting.
                    look_everywhere = True
                    continue
                if sub is None:  # subscribe, then look again: no publish slips between

                    async def wake(msg: Msg) -> None:
                        published.add(msg.subject)
                        woken.set()

                    with self.driver.errors:
                        sub = await link.nc.subscribe(self.names.queue_filter(queue), cb=wake)
                    continue
                look_everywhere = False
                try:
                    async with asyncio.timeout(min(remaining, _RECHECK)):
                        await woken.wait()
                except TimeoutError:
                    look_everywhere = True  # a redelivery after a lease publishes nothing
        finally:
            if sub is not None:
                try:
                    await sub.unsubscribe()
                except nats.errors.Error:  # the connection is gone: so is the interest
                    pass

    async def _bands(self, link: Link, queue: str) -> list[str]:
        """The queue's subjects that hold messages, lowest priority value first."""
        with self.driver.errors:
            info = await link.js.stream_info(
                self.names.stream, subjects_filter=self.names.queue_filter(queue)
            )
        subjects = [s for s, n in (info.state.subjects or {}).items() if n]
        return sorted(subjects, key=_band_priority)

    async def _take(
        self, link: Link, queue: str, limit: int, lease: float, bands: list[str] | None = None
    ) -> list[Delivery]:
        """Up to `limit` deliveries from the queue's `bands` (subjects, lowest priority
        value first; None: those that hold messages, asked of the server)."""
        out: list[Delivery] = []
        unread: list[Msg] = []  # pulled, not yet made deliveries
        try:
            for subject in bands if bands is not None else await self._bands(link, queue):
                while len(out) < limit:
                    want = limit - len(out)
                    durable, ack_wait = await self.driver.consumer(
                        link, subject, self.config.lease_timeout
                    )
                    unread = await self._pull(link, durable, want)
                    pulled = len(unread)
                    while unread:
                        delivery = await self._deliver(link, unread[0], queue, lease, ack_wait)
                        unread.pop(0)
                        if delivery is not None:
                            out.append(delivery)
                    if pulled < want:
                        break
                if len(out) >= limit:
                    break
            return out
        except BaseException:  # cancelled or failed: nothing stays leased to nobody
            replies = [m.reply for m in unread] + [d.token for d in out]
            await asyncio.shield(self._give_back(link, replies))
            raise

    async def _pull(self, link: Link, durable: str, n: int) -> list[Msg]:
        """Up to `n` messages now (a no-wait pull). If the caller is cancelled meanwhile,
        the messages already on their way are given back, not left leased to nobody."""
        nc = link.nc
        with self.driver.errors:
            sub = await nc.subscribe(nc.new_inbox())
        msgs: list[Msg] = []
        ended = False
        try:
            with self.driver.errors:
                await nc.publish(
                    f"$JS.API.CONSUMER.MSG.NEXT.{self.names.stream}.{durable}",
                    orjson.dumps({"batch": n, "no_wait": True}),
                    reply=sub.subject,
                )
                while len(msgs) < n:
                    msg = await sub.next_msg(timeout=REQUEST_TIMEOUT)
                    if msg.headers and msg.headers.get("Status"):
                        ended = True  # 404 no messages, 408 fewer than asked
                        break
                    msgs.append(msg)
            return msgs
        except BaseException:
            await asyncio.shield(self._give_back_pull(link, sub, msgs, n, ended))
            raise
        finally:
            try:
                await sub.unsubscribe()
            except nats.errors.Error:
                pass

    async def _give_back_pull(
        self, link: Link, sub: Subscription, msgs: list[Msg], n: int, ended: bool
    ) -> None:
        try:
            while not ended and len(msgs) < n:
                msg = await sub.next_msg(timeout=_DRAIN)
                if msg.headers and msg.headers.get("Status"):
                    break
                msgs.append(msg)
        except (TimeoutError, nats.errors.Error):
            pass
        await self._give_back(link, [m.reply for m in msgs])

    async def _give_back(self, link: Link, replies: Sequence[str]) -> None:
        """Give back deliveries no caller will see (their count undone)."""
        if not replies:
            return
        kv = await self.driver.bucket(link, self.names.leases)
        with self.driver.errors:
            for reply in replies:
                self._leases.pop(reply, None)
                seq, delivered = leases.parse_token(reply)
                if await leases.give_back(kv, seq, delivered):
                    await link.nc.publish(reply, b"-NAK")
            await link.nc.flush(_FLUSH)

    async def _deliver(
        self, link: Link, msg: Msg, queue: str, lease: float, ack_wait: float
    ) -> Delivery | None:
        """The delivery of a pulled message, or None when it is not to run now (not
        decodable: dead-lettered; due later: given back until its eta)."""
        seq, delivered = leases.parse_token(msg.reply)
        try:
            record = codec.task(msg.data, queue)
        except codec.Undecodable as exc:
            await self._bury(link, msg, queue, exc.reason)
            return None
        now = time.time()
        kv = await self.driver.bucket(link, self.names.leases)
        with self.driver.errors:
            if record.eta is not None and record.eta > now + 0.001:
                if await leases.give_back(kv, seq, delivered):
                    await link.nc.publish(msg.reply, _nak(record.eta - now))
                return None
            back, held_until = 0, 0.0
            if delivered > 1:
                back, held_until = await leases.take(kv, seq, delivered, now)
            if held_until:  # its holder extended a lapsed lease: still the holder's
                await link.nc.publish(msg.reply, _nak(held_until - now))
                return None
            if abs(lease - ack_wait) > 0.001:
                await link.nc.publish(msg.reply, _nak(lease))
        self._leases[msg.reply] = (time.monotonic() + lease, ack_wait)
        record.status, record.attempts, record.updated_at = PROCESS, delivered - back, now
        return Delivery(record, msg.reply)

    async def _bury(self, link: Link, msg: Msg, queue: str, fault: str) -> None:
        """Dead-letter a queued message that is not a task, keeping its text."""
        uuid = (msg.headers or {}).get("Nats-Msg-Id") or f"seq-{leases.parse_token(msg.reply)[0]}"
        raw = msg.data.decode("utf-8", "surrogateescape")
        letter, record = undecodable(uuid, queue, fault, raw, time.time())
        if self.on_undecodable is not None:
            await self.on_undecodable(record)
        await dead.publish(self.driver, link, self.config.result_ttl, letter, msg.data)
        with self.driver.errors:
            await link.nc.request(msg.reply, b"+ACK", timeout=REQUEST_TIMEOUT)
        self.log.warning(f"Queued message {uuid} is not a task ({fault}): dead-lettered")

    async def _held(
        self, link: Link, deliveries: Sequence[Delivery]
    ) -> list[tuple[Delivery, bool]]:
        """The deliveries that still hold their message, each with whether its message
        has a lease entry. A delivery made here whose lease has well over `_MARGIN` to
        run is known to hold it (the server cannot have redelivered it): no read."""
        now = time.monotonic()
        out: list[tuple[Delivery, bool]] = []
        ask: list[Delivery] = []
        for d in deliveries:
            lease = self._leases.get(d.token)
            if lease is not None and now < lease[0] - _MARGIN:
                out.append((d, leases.parse_token(d.token)[1] > 1))
            else:
                ask.append(d)
        if ask:
            kv = await self.driver.bucket(link, self.names.leases)
            with self.driver.errors:
                found = await asyncio.gather(
                    *(leases.holds(kv, *leases.parse_token(d.token)) for d in ask)
                )
            for d, (holds, revision) in zip(ask, found, strict=True):
                if holds:
                    out.append((d, revision is not None))
        return out

    @keeps_cancellation
    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        link = await self.driver.link()
        held = await self._held(link, deliveries)
        for d in deliveries:
            self._leases.pop(d.token, None)
        with self.driver.errors:
            await asyncio.gather(
                *(link.nc.request(d.token, b"+ACK", timeout=REQUEST_TIMEOUT) for d, _ in held)
            )
            await asyncio.gather(
                *(
                    leases.forget(link.js, self.names.leases, leases.parse_token(d.token)[0])
                    for d, has_entry in held
                    if has_entry
                )
            )

    @keeps_cancellation
    async def extend(self, deliveries: Sequence[Delivery], lease: float) -> None:
        if not deliveries:
            return
        link = await self.driver.link()
        held = await self._held(link, deliveries)
        kv = await self.driver.bucket(link, self.names.leases)
        now = time.monotonic()
        with self.driver.errors:
            for d, _ in held:
                seq, delivered = leases.parse_token(d.token)
                deadline, ack_wait = self._leases.get(d.token, (0.0, 0.0))
                if now >= deadline - _LATE:
                    # The server may have let this lease lapse already and will then
                    # redeliver: the claim tells the next fetcher to give it back.
                    await leases.extended(kv, seq, delivered, time.time() + lease)
                self._leases[d.token] = (now + lease, ack_wait)
                if abs(ack_wait - lease) <= 0.001:  # in progress: AckWait again
                    await link.nc.publish(d.token, b"+WPI")
                else:
                    await link.nc.publish(d.token, _nak(lease))
            await link.nc.flush(_FLUSH)

    @keeps_cancellation
    async def release(self, deliveries: Sequence[Delivery]) -> None:
        await self.nack(deliveries, 0.0)

    @keeps_cancellation
    async def nack(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        if not deliveries:
            return
        link = await self.driver.link()
        kv = await self.driver.bucket(link, self.names.leases)
        with self.driver.errors:
            for d in deliveries:
                self._leases.pop(d.token, None)
                seq, delivered = leases.parse_token(d.token)
                if await leases.give_back(kv, seq, delivered):
                    await link.nc.publish(d.token, _nak(delay) if delay > 0 else b"-NAK")
            await link.nc.flush(_FLUSH)

    @keeps_cancellation
    async def settle(self, completions: Sequence[Completion]) -> None:
        """The broker's side of completions (the result store has the final records):
        queue their follow-ups, list the dead-lettered ones, ack. Deliveries that no
        longer hold their message do none of it."""
        if not completions:
            return
        link = await self.driver.link()
        held = {id(d) for d, _ in await self._held(link, [c.delivery for c in completions])}
        mine = [c for c in completions if id(c.delivery) in held]
        await self.enqueue([f for c in mine for f in c.followups])
        now = time.time()
        for c in mine:
            if c.dead_letter is not None:
                letter = DeadLetter(c.record.uuid, c.record.queue, c.dead_letter, now, c.record)
                await dead.publish(self.driver, link, self.config.result_ttl, letter)
        await self.ack([c.delivery for c in mine])

    async def recover_expired(self, queue: str) -> None:
        """Nothing to do: the server redelivers a message whose AckWait ran out."""

    # --- administration -----------------------------------------------------------------
    @keeps_cancellation
    async def purge(self) -> None:
        link = await self.driver.link()
        await self.driver.work_stream(link)
        await self.driver.dead_stream(link, self.config.result_ttl)
        await self.driver.bucket(link, self.names.leases)
        with self.driver.errors:
            for stream in (self.names.stream, self.names.dead_stream, f"KV_{self.names.leases}"):
                await link.js.purge_stream(stream)

    @keeps_cancellation
    async def stats(self, queue: str = DEFAULT_QUEUE) -> dict[str, int]:
        link = await self.driver.link()
        await self.driver.work_stream(link)
        queued = leased = 0
        for subject in await self._bands(link, queue):
            durable, _ = await self.driver.consumer(link, subject, self.config.lease_timeout)
            with self.driver.errors:
                info = await link.js.consumer_info(self.names.stream, durable)
            queued += info.num_pending or 0
            leased += info.num_ack_pending or 0
        return {"queued": queued, "leased": leased}

    async def close(self) -> None:
        await self.driver.close()

    async def drop(self) -> None:
        """Delete the namespace's streams and buckets from the server."""
        await self.driver.drop()

    # --- dead letters -------------------------------------------------------------------
    @keeps_cancellation
    async def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        link = await self.driver.link()
        return await dead.page(self.driver, link, self.config.result_ttl, limit, offset)

    @keeps_cancellation
    async def requeue_dead_letters(self, uuids: Sequence[str] | None = None) -> int:
        link = await self.driver.link()
        now = time.time()
        found = await dead.take_out(self.driver, link, self.config.result_ttl, uuids, True)
        for seq, letter, record in found:
            assert record is not None
            # A message id of its own: the uuid's first publish may be in the window.
            await self._publish([(requeued(record, now), f"{letter.uuid}.requeue.{seq}")])
            await dead.delete(self.driver, link, seq)
        return len(found)

    @keeps_cancellation
    async def purge_dead_letters(self, uuids: Sequence[str] | None = None) -> int:
        link = await self.driver.link()
        found = await dead.take_out(self.driver, link, self.config.result_ttl, uuids, False)
        for seq, _, _ in found:
            await dead.delete(self.driver, link, seq)
        return len(found)

    def dead_letters_sync(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        result: list[DeadLetter] = self._call(self.dead_letters, limit, offset)
        return result

    def requeue_dead_letters_sync(self, uuids: Sequence[str] | None = None) -> int:
        result: int = self._call(self.requeue_dead_letters, uuids)
        return result

    def purge_dead_letters_sync(self, uuids: Sequence[str] | None = None) -> int:
        result: int = self._call(self.purge_dead_letters, uuids)
        return result


def _nak(delay: float) -> bytes:
    """A nak that redelivers after `delay` seconds, keeping the message unacked until
    then: JetStream's way to set one message's lease."""
    return b'-NAK {"delay": %d}' % max(1, int(delay * 1e9))


__all__ = ["NatsBroker"]
