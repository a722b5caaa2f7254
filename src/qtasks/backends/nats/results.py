"""`NatsResults`: task records in a JetStream key-value bucket, and the live workers in
another.

```
  bucket QT_<ns>_results   key: the uuid (encoded when it has other characters than
                           letters, digits and -_=), value: codec.stored(record)
  bucket QT_<ns>_workers   key: the worker id, value: its info and when it expires
  wait_final               a plain subscription to the key's subject ($KV.<bucket>.<key>),
                           then a read: every later put is pushed to the waiter
```

A settled record says when it expires (`updated_at + result_ttl`) and reads as gone
from then on. The bucket's max age (the larger of `result_ttl` and 7 days, fixed when
the bucket is made) gives the space back; a queued task whose record aged out meanwhile
still runs, from the broker's copy.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import nats.errors
import nats.js.errors
import orjson
from nats.aio.msg import Msg
from nats.js.kv import KeyValue

from qtasks.backends.base import PortalTwins
from qtasks.backends.nats import codec, inspect
from qtasks.backends.nats.coordination import KvCoordination
from qtasks.backends.nats.driver import Link, Names, NatsDriver, keeps_cancellation
from qtasks.core.inspection import TaskPage, TaskQuery
from qtasks.core.models import TaskRecord, progress_moved, settled
from qtasks.core.ports import Capabilities, Coordination, Inspection, ResultStore, WorkerRegistry

if TYPE_CHECKING:
    from qtasks.core.config import QueueConfig
    from qtasks.core.log import Log

_KEEP_AT_LEAST = 7 * 24 * 3600.0
_KEY = re.compile(r"[-/_=a-zA-Z0-9]+")


def key(uuid: str) -> str:
    """A key-value key for any uuid: itself, or its base32 form when it has characters
    keys cannot hold (with a prefix no plain uuid has)."""
    if _KEY.fullmatch(uuid):
        return uuid
    return "b32." + base64.b32encode(uuid.encode()).decode().rstrip("=")


class NatsResults(
    PortalTwins, KvCoordination, ResultStore, WorkerRegistry, Coordination, Inspection
):
    """Task records in a JetStream key-value bucket (`nats://`, `tls://`)."""

    schemes = ("nats", "tls")
    capabilities = Capabilities(push=True, worker_registry=True, coordination=True, inspection=True)

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

    async def _kv(self) -> tuple[Link, KeyValue]:
        link = await self.driver.link()
        ttl = max(self.config.result_ttl, _KEEP_AT_LEAST)
        return link, await self.driver.bucket(link, self.names.results, ttl)

    @keeps_cancellation
    async def put(self, records: Sequence[TaskRecord]) -> None:
        if not records:
            return
        ttl = self.config.result_ttl
        encoded = [(key(r.uuid), codec.stored(r, ttl)) for r in records]  # all, then write
        _, kv = await self._kv()
        with self.driver.errors:
            await asyncio.gather(*(kv.put(k, v) for k, v in encoded))

    @keeps_cancellation
    async def create(self, records: Sequence[TaskRecord]) -> list[bool]:
        """Store the records whose uuid has no record yet; for each, whether it was
        stored (one compare-and-set each, instead of a read and a write)."""
        ttl = self.config.result_ttl
        encoded = [(key(r.uuid), codec.stored(r, ttl)) for r in records]  # all, then write
        _, kv = await self._kv()

        async def one(k: str, v: bytes) -> bool:
            try:
                await kv.create(k, v)
            except nats.js.errors.KeyWrongLastSequenceError:
                return False
            return True

        with self.driver.errors:
            return list(await asyncio.gather(*(one(k, v) for k, v in encoded)))

    @keeps_cancellation
    async def get(self, uuid: str) -> TaskRecord | None:
        _, kv = await self._kv()
        with self.driver.errors:
            try:
                entry = await kv.get(key(uuid))
            except nats.js.errors.KeyNotFoundError:
                return None
        return codec.record(entry.value or b"")

    @keeps_cancellation
    async def wait_final(self, uuid: str, timeout: float) -> TaskRecord | None:
        return await self._wait(uuid, timeout, settled)

    @keeps_cancellation
    async def wait_progress(self, uuid: str, seen: Any, timeout: float) -> TaskRecord | None:
        return await self._wait(uuid, timeout, partial(progress_moved, seen=seen))

    async def _wait(
        self, uuid: str, timeout: float, over: Callable[[TaskRecord | None], bool]
    ) -> TaskRecord | None:
        """Wait until `over(record)`, woken by the puts of its key."""
        link, _ = await self._kv()
        changed = asyncio.Event()
        pushed: list[TaskRecord] = []  # a record the put carried where it ends the wait

        async def on_put(msg: Msg) -> None:
            # A put's message is the stored value: a record that ends the wait does so
            # without reading it back; the other writes of a running task are skipped.
            try:
                record = codec.record(msg.data) if msg.data else None
            except (ValueError, TypeError):
                record = None
            if over(record):
                if record is not None:
                    pushed.append(record)
                changed.set()  # over, deleted or unreadable: decide below

        deadline = time.monotonic() + timeout
        with self.driver.errors:
            sub = await link.nc.subscribe(f"$KV.{self.names.results}.{key(uuid)}", cb=on_put)
        try:
            while True:
                changed.clear()
                record = pushed[-1] if pushed else await self.get(uuid)
                if over(record):
                    return record
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                try:  # a put pushes; the re-read now and then covers a reconnection
                    async with asyncio.timeout(min(remaining, 1.0)):
                        await changed.wait()
                except TimeoutError:
                    pass
        finally:
            try:
                await sub.unsubscribe()
            except nats.errors.Error:
                pass

    @keeps_cancellation
    async def purge(self) -> None:
        link, _ = await self._kv()
        with self.driver.errors:
            await link.js.purge_stream(f"KV_{self.names.results}")
        await self.driver.bucket(link, self.names.workers)
        with self.driver.errors:
            await link.js.purge_stream(f"KV_{self.names.workers}")

    async def close(self) -> None:
        await self.driver.close()

    # --- the worker registry ------------------------------------------------------------
    async def _workers(self) -> KeyValue:
        link = await self.driver.link()
        return await self.driver.bucket(link, self.names.workers)

    @keeps_cancellation
    async def register_worker(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        kv = await self._workers()
        value = {**info, "worker_id": worker_id, "expires_at": time.time() + ttl}
        with self.driver.errors:
            await kv.put(key(worker_id), orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))

    @keeps_cancellation
    async def unregister_worker(self, worker_id: str) -> None:
        kv = await self._workers()
        with self.driver.errors:
            await kv.purge(key(worker_id))

    @keeps_cancellation
    async def live_workers(self) -> list[dict[str, Any]]:
        kv = await self._workers()
        now = time.time()
        out = []
        with self.driver.errors:
            try:
                keys = await kv.keys()
            except nats.js.errors.NoKeysError:
                return []
            for k in keys:
                if k.startswith(inspect.PAUSED):
                    continue
                try:
                    entry = await kv.get(k)
                except nats.js.errors.KeyNotFoundError:
                    continue
                value = orjson.loads(entry.value or b"{}")
                if value.pop("expires_at", 0) > now:
                    out.append(value)
                else:  # expired: forgotten here, as the other backends drop them
                    await kv.purge(k)
        return out

    # --- inspection (`inspect.py`: one pass over the bucket) -----------------------------
    @keeps_cancellation
    async def list_tasks(self, query: TaskQuery) -> TaskPage:
        _, kv = await self._kv()
        with self.driver.errors:
            return await inspect.list_tasks(kv, query)

    @keeps_cancellation
    async def count_tasks(self) -> dict[str, dict[str, int]]:
        _, kv = await self._kv()
        with self.driver.errors:
            return await inspect.count_tasks(kv)

    @keeps_cancellation
    async def purge_tasks(self, queue: str | None = None, status: str | None = None) -> int:
        _, kv = await self._kv()
        with self.driver.errors:
            chosen = await inspect.chosen(kv, queue, status)
            await asyncio.gather(*(kv.purge(key(r.uuid)) for r in chosen))
        return len(chosen)

    @keeps_cancellation
    async def pause_queue(self, queue: str) -> None:
        kv = await self._workers()
        with self.driver.errors:
            await kv.put(inspect.paused_key(queue), b"1")

    @keeps_cancellation
    async def resume_queue(self, queue: str) -> None:
        kv = await self._workers()
        with self.driver.errors:
            await kv.purge(inspect.paused_key(queue))

    @keeps_cancellation
    async def queue_paused(self, queue: str) -> bool:
        """One read of the queue's key (listing the keys would start a consumer)."""
        kv = await self._workers()
        with self.driver.errors:
            try:
                await kv.get(inspect.paused_key(queue))
            except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
                return False  # never paused, or resumed (its key purged)
        return True

    @keeps_cancellation
    async def paused_queues(self) -> list[str]:
        kv = await self._workers()
        with self.driver.errors:
            return await inspect.paused_queues(kv)


__all__ = ["NatsResults", "key"]
