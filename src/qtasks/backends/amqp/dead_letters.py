"""The dead-letter queue of a namespace (`qtasks.<namespace>.dead`) and its operations.

A dead letter is a message there: its body the task's final `error` record (a task the
engine gave up on) or the raw body of a message that was not a task; headers say why and
when. Each expires after the app's `result_ttl` (per-message TTL), so a queue that keeps
dead-lettering stays bounded.

RabbitMQ cannot show a queue without taking its messages, so listing, requeueing and
purging take every dead letter on a channel of their own (basic.get, unacked), ack the
ones they remove, and close the channel, which puts the rest back in their order. Two
of these running at once see each other's taken messages as missing: they are tools for
an operator, not for a hot path.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import aio_pika
import aio_pika.abc

from qtasks.backends.amqp import codec
from qtasks.backends.base import requeued
from qtasks.core.models import DeadLetter, TaskRecord

if TYPE_CHECKING:
    from qtasks.backends.amqp.driver import Link

_Taken = list[tuple[aio_pika.abc.AbstractIncomingMessage, DeadLetter]]
#: The namespace and how long its dead letters are kept (the app's result_ttl, seconds).
Where = tuple[str, float]


async def _publish(
    where: Where, link: Link, uuid: str, body: bytes, reason: str, queue: str, raw: bool
) -> None:
    namespace, ttl = where
    name = codec.dead_queue(namespace)
    await link.declare(name, {})
    message = aio_pika.Message(
        body,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=uuid,
        headers=codec.letter_headers(reason, time.time(), queue, raw),
        expiration=max(0.001, ttl),
    )
    await link.publish(message, name)  # confirmed: only then is the delivery acked


async def publish_raw(where: Where, link: Link, uuid: str, body: bytes, reason: str) -> None:
    """Dead-letter a message that is not a task, keeping its body as it came."""
    await _publish(where, link, uuid, body, f"malformed message: {reason}", "default", True)


async def publish_record(where: Where, link: Link, record: TaskRecord, reason: str) -> None:
    """Dead-letter a task the engine gave up on, with its final record."""
    body = codec.encode(record)
    await _publish(where, link, record.uuid, body, reason, record.queue, False)


async def _take_all(namespace: str, link: Link) -> tuple[aio_pika.abc.AbstractChannel, _Taken]:
    channel = await link.connection.channel(publisher_confirms=False)
    queue = await channel.declare_queue(codec.dead_queue(namespace), durable=True)
    taken: _Taken = []
    while (message := await queue.get(no_ack=False, fail=False)) is not None:
        uuid = message.message_id or f"unknown-{message.delivery_tag}"
        taken.append((message, codec.letter(uuid, dict(message.headers or {}), message.body)))
    return channel, taken


async def listed(namespace: str, link: Link, limit: int, offset: int) -> list[DeadLetter]:
    """The dead letters, newest first, `limit` from `offset`."""
    channel, taken = await _take_all(namespace, link)
    await channel.close()  # every one goes back
    letters = sorted((letter for _, letter in taken), key=lambda x: x.dead_at, reverse=True)
    return letters[offset : offset + limit]


async def requeue(
    namespace: str,
    link: Link,
    uuids: Sequence[str] | None,
    publish: Callable[[list[TaskRecord]], Awaitable[None]],
) -> int:
    """`publish` the records of these dead letters (None = all) made new, then forget
    the letters; letters without a record (not a task) stay."""
    wanted = None if uuids is None else set(uuids)
    channel, taken = await _take_all(namespace, link)
    try:
        now = time.time()
        chosen = [
            (message, letter)
            for message, letter in taken
            if letter.record is not None and (wanted is None or letter.uuid in wanted)
        ]
        records = [requeued(letter.record, now) for _, letter in chosen if letter.record]
        if records:
            await publish(records)  # confirmed first, then the acks
        for message, _ in chosen:
            await message.ack()
        return len(chosen)
    finally:
        await channel.close()


async def purge(namespace: str, link: Link, uuids: Sequence[str] | None) -> int:
    """Forget these dead letters (None = all)."""
    wanted = None if uuids is None else set(uuids)
    channel, taken = await _take_all(namespace, link)
    try:
        count = 0
        for message, letter in taken:
            if wanted is None or letter.uuid in wanted:
                await message.ack()
                count += 1
        return count
    finally:
        await channel.close()


__all__ = ["listed", "publish_raw", "publish_record", "purge", "requeue"]
