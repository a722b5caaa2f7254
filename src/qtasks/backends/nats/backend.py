"""`NatsBackend`: `nats://` (and `tls://`) alone is a whole backend, the JetStream broker
(`broker.py`) paired with the key-value result store (`results.py`).

Completion follows `qtasks.backends.paired`: the final record is written to the bucket
first, then the broker queues follow-ups, lists dead letters and acks. A redelivered
task whose record is already settled is acked without running. Cancelling writes the
record (`cancel`, or a request to a running task); the queued message stays and is
acked unrun when a worker meets it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from qtasks.backends.nats.broker import NatsBroker
from qtasks.backends.nats.driver import Names, NatsDriver
from qtasks.backends.nats.results import NatsResults
from qtasks.backends.paired import PairedBackend
from qtasks.core.models import Completion, TaskRecord
from qtasks.core.ports import Capabilities
from qtasks.core.status import CANCEL, NEW, PROCESS, SETTLED_STATUSES

if TYPE_CHECKING:
    from qtasks.core.config import QueueConfig
    from qtasks.core.log import Log


class NatsBackend(PairedBackend):
    """The whole NATS JetStream backend: `QueueTasks(broker_url="nats://host:4222")`."""

    schemes = ("nats", "tls")
    #: What `create_backend(url, storage_url=...)` pairs with another result store.
    broker_part = NatsBroker

    def __init__(self, url: str, *, namespace: str, config: QueueConfig, log: Log) -> None:
        driver = NatsDriver(url, Names(namespace))
        options = {"namespace": namespace, "config": config, "log": log, "driver": driver}
        broker = NatsBroker(url, **options)  # type: ignore[arg-type]
        store = NatsResults(url, **options)  # type: ignore[arg-type]
        super().__init__(broker, store)
        broker.on_undecodable = self._store_error
        self.nats_broker, self.nats_store = broker, store
        self._dead = broker  # type: ignore[assignment]
        self.capabilities = Capabilities(  # type: ignore[misc]
            priorities=True,
            delays=True,
            push=True,
            atomic_completion=False,
            cancel_queued=True,
            dead_letters=True,
            worker_registry=True,
            inspection=True,
            coordination=True,
        )

    async def enqueue(self, records: Sequence[TaskRecord]) -> None:
        """As `PairedBackend.enqueue` (the record first, then the message; a known uuid
        is queued again only while its record is `new`), with one compare-and-set per
        record in place of a read and a write."""
        if not records:
            return
        created = await self.nats_store.create(records)
        queue: list[TaskRecord] = []
        for record, new in zip(records, created, strict=True):
            if not new:
                known = await self.store.get(record.uuid)
                if known is None:  # expired meanwhile
                    await self.store.put([record])
                elif known.status != NEW:
                    continue
            queue.append(record)
        await self.broker.enqueue(queue)

    async def _store_error(self, record: TaskRecord) -> None:
        await self.store.put([record])

    async def _settle(self, completions: Sequence[Completion]) -> None:
        # The broker lists dead letters as well (a Broker-only pair could not).
        await self.nats_broker.settle(completions)

    async def cancel(self, uuid: str, reason: str) -> TaskRecord | None:
        record = await self.store.get(uuid)
        if record is None or record.status in SETTLED_STATUSES:
            return None
        now = time.time()
        if record.status == PROCESS:
            record = dataclasses.replace(
                record, updated_at=now, extra={**record.extra, "cancel_requested": reason}
            )
        else:
            record = dataclasses.replace(
                record,
                status=CANCEL,
                updated_at=now,
                extra={**record.extra, "cancel_reason": reason},
            )
        await self.store.put([record])
        return record

    async def cancel_requests(self, uuids: Sequence[str]) -> dict[str, str]:
        out = {}
        for uuid in uuids:
            record = await self.store.get(uuid)
            if record is not None and record.status == PROCESS:
                reason = record.extra.get("cancel_requested")
                if reason is not None:
                    out[uuid] = str(reason)
        return out

    async def drop(self) -> None:
        """Delete the namespace's streams and buckets from the server."""
        await self.nats_broker.drop()


__all__ = ["NatsBackend"]
