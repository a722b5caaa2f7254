"""The dead-letter stream of a namespace: one message per dead letter (`codec.dead_letter`),
kept for `result_ttl` (the stream's max age), read newest first by stream sequence."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence

import nats.js.errors

from qtasks.backends.nats import codec
from qtasks.backends.nats.driver import Link, NatsDriver
from qtasks.core.models import DeadLetter, TaskRecord


async def publish(
    driver: NatsDriver,
    link: Link,
    keep: float,
    letter: DeadLetter,
    raw: bytes | None = None,
) -> None:
    await driver.dead_stream(link, keep)
    body = codec.dead_letter(
        letter.uuid, letter.queue, letter.reason, letter.dead_at, letter.record, raw
    )
    with driver.errors:
        await link.js.publish(driver.names.dead_subject, body)


async def newest_first(
    driver: NatsDriver, link: Link, keep: float
) -> AsyncIterator[tuple[int, DeadLetter]]:
    """(stream sequence, dead letter) pairs, newest first, those older than `keep`
    seconds left out (the stream drops them on its own soon)."""
    await driver.dead_stream(link, keep)
    stream = driver.names.dead_stream
    with driver.errors:
        state = (await link.js.stream_info(stream)).state
    if not state.messages:
        return
    oldest = time.time() - keep
    seq = state.last_seq
    while seq >= max(1, state.first_seq):
        with driver.errors:
            try:
                raw = await link.js.get_msg(stream, seq)
            except nats.js.errors.NotFoundError:  # deleted (purged or requeued)
                seq -= 1
                continue
        try:
            letter = codec.read_dead_letter(raw.data or b"")
        except (ValueError, TypeError, KeyError):  # not ours: listed by no one
            seq -= 1
            continue
        if letter.dead_at >= oldest:
            yield seq, letter
        seq -= 1


async def page(
    driver: NatsDriver, link: Link, keep: float, limit: int, offset: int
) -> list[DeadLetter]:
    out: list[DeadLetter] = []
    skipped = 0
    async for _, letter in newest_first(driver, link, keep):
        if skipped < offset:
            skipped += 1
            continue
        if len(out) >= limit:
            break
        out.append(letter)
    return out


async def take_out(
    driver: NatsDriver,
    link: Link,
    keep: float,
    uuids: Sequence[str] | None,
    with_record: bool,
) -> list[tuple[int, DeadLetter, TaskRecord | None]]:
    """The dead letters of `uuids` (None = all), those without a record left out when
    `with_record`; the caller deletes each after acting on it."""
    wanted = None if uuids is None else set(uuids)
    found = []
    async for seq, letter in newest_first(driver, link, keep):
        if wanted is not None and letter.uuid not in wanted:
            continue
        if with_record and letter.record is None:
            continue
        found.append((seq, letter, letter.record))
    return found


async def delete(driver: NatsDriver, link: Link, seq: int) -> None:
    with driver.errors:
        try:
            await link.js.delete_msg(driver.names.dead_stream, seq)
        except nats.js.errors.NotFoundError:
            pass


__all__ = ["delete", "newest_first", "page", "publish", "take_out"]
