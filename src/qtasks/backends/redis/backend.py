"""`redis://` and `rediss://`: broker and result store on one Redis server (redis-py +
hiredis), completing atomically.

Each operation is a flow of `flows.py`, run by the driver (`driver.py`) on a sync
connection for the `*_sync` twins (no portal, no event loop) or on an asyncio one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from qtasks.backends.base import Backend
from qtasks.backends.redis import coordination, flows, inspect
from qtasks.backends.redis.commands import Cmd
from qtasks.backends.redis.driver import RedisDriver
from qtasks.core.inspection import TaskPage, TaskQuery
from qtasks.core.models import DEFAULT_QUEUE, Completion, DeadLetter, Delivery, TaskRecord
from qtasks.core.ports import Capabilities, Coordination, DeadLetters, Inspection, SharedSettings
from qtasks.core.urls import redact
from qtasks.exc import ConfigError


def check_url(url: str) -> None:
    """`ConfigError` (naming the URL without its password) for a Redis URL whose port or
    database number is not a number in range, instead of a driver error at first use or
    a silent fall-back to database 0."""
    from urllib.parse import urlsplit

    where = redact(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"Invalid Redis URL {where}: {exc}") from None
    if port == 0:
        raise ConfigError(f"Invalid Redis URL {where}: port 0")
    db = parts.path.strip("/")
    if db and not (db.isdigit() and int(db) < 65536):
        raise ConfigError(
            f"Invalid Redis URL {where}: the database is a number (redis://host:6379/0), got {db!r}"
        )


class RedisBackend(RedisDriver, Backend, SharedSettings, DeadLetters, Inspection, Coordination):
    """Every key of a namespace lives under `qtasks:{<namespace>}:`. Dead letters are kept
    as long as their records, `config.result_ttl`."""

    schemes: ClassVar[tuple[str, ...]] = ("redis", "rediss")
    capabilities: ClassVar[Capabilities] = Capabilities(
        priorities=True,
        delays=True,
        push=True,
        atomic_completion=True,
        cancel_queued=True,
        dead_letters=True,
        shared_settings=True,
        worker_registry=True,
        inspection=True,
        coordination=True,
    )

    def __init__(self, url: str, **kwargs: Any) -> None:
        check_url(url)
        super().__init__(url, **kwargs)
        self.prefix = f"qtasks:{{{self.namespace}}}:"
        self._pace = flows.FetchPace()
        self._init_driver()

    def _undo(self, cmd: Cmd, reply: Any) -> Cmd | None:
        return flows.undo(cmd, reply)

    # --- client side --------------------------------------------------------------------
    async def enqueue(self, records: Sequence[TaskRecord]) -> None:
        await self._drive(flows.enqueue(records))

    async def put(self, records: Sequence[TaskRecord]) -> None:
        if records:
            await self._drive(flows.put(records, self.config.result_ttl))

    async def get(self, uuid: str) -> TaskRecord | None:
        result: TaskRecord | None = await self._drive(flows.get(self.prefix, uuid))
        return result

    async def wait_final(self, uuid: str, timeout: float) -> TaskRecord | None:
        result: TaskRecord | None = await self._drive(flows.wait_final(self.prefix, uuid, timeout))
        return result

    async def wait_progress(self, uuid: str, seen: Any, timeout: float) -> TaskRecord | None:
        flow = flows.wait_progress(self.prefix, uuid, seen, timeout)
        result: TaskRecord | None = await self._drive(flow)
        return result

    async def cancel(self, uuid: str, reason: str) -> TaskRecord | None:
        result: TaskRecord | None = await self._drive(
            flows.cancel(uuid, reason, self.config.result_ttl)
        )
        return result

    async def cancel_requests(self, uuids: Sequence[str]) -> dict[str, str]:
        if not uuids:
            return {}
        result: dict[str, str] = await self._drive(flows.cancel_requests(uuids))
        return result

    # --- worker side --------------------------------------------------------------------
    async def fetch(
        self, queue: str, limit: int, lease: float, worker_id: str, wait: float
    ) -> list[Delivery]:
        flow = flows.fetch(
            self.prefix, self._pace, queue, limit, lease, worker_id, wait, self.config.result_ttl
        )
        result: list[Delivery] = await self._drive(flow)
        return result

    async def complete(self, completions: Sequence[Completion]) -> None:
        if completions:
            await self._drive(flows.complete(completions, self.config.result_ttl))

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            await self._drive(flows.ack(deliveries))

    async def extend(self, deliveries: Sequence[Delivery], lease: float) -> None:
        if deliveries:
            await self._drive(flows.extend(deliveries, lease))

    async def release(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            await self._drive(flows.release(deliveries))

    async def recover_expired(self, queue: str) -> None:
        await self._drive(flows.maintain(queue, self.config.result_ttl))

    # --- dead letters (kept as long as their records: config.result_ttl) -------------------
    async def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        result: list[DeadLetter] = await self._drive(
            flows.dead_letters(limit, offset, self.config.result_ttl)
        )
        return result

    async def requeue_dead_letters(self, uuids: Sequence[str] | None = None) -> int:
        result: int = await self._drive(flows.requeue_dead_letters(uuids, self.config.result_ttl))
        return result

    async def purge_dead_letters(self, uuids: Sequence[str] | None = None) -> int:
        result: int = await self._drive(flows.purge_dead_letters(uuids))
        return result

    def dead_letters_sync(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        result: list[DeadLetter] = self._drive_sync(
            flows.dead_letters(limit, offset, self.config.result_ttl)
        )
        return result

    def requeue_dead_letters_sync(self, uuids: Sequence[str] | None = None) -> int:
        result: int = self._drive_sync(flows.requeue_dead_letters(uuids, self.config.result_ttl))
        return result

    def purge_dead_letters_sync(self, uuids: Sequence[str] | None = None) -> int:
        result: int = self._drive_sync(flows.purge_dead_letters(uuids))
        return result

    # --- administration -----------------------------------------------------------------
    async def purge(self) -> None:
        await self._drive(flows.purge(self.prefix))

    async def stats(self, queue: str = DEFAULT_QUEUE) -> dict[str, int]:
        result: dict[str, int] = await self._drive(flows.stats(queue))
        return result

    async def register_worker(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        await self._drive(flows.register_worker(worker_id, info, ttl))

    async def unregister_worker(self, worker_id: str) -> None:
        await self._drive(flows.unregister_worker(worker_id))

    async def live_workers(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._drive(flows.live_workers())
        return result

    async def close(self) -> None:
        await self._close_connections()

    # --- sync client twins: the same flows on the sync driver -----------------------------
    def enqueue_sync(self, records: Sequence[TaskRecord]) -> None:
        self._drive_sync(flows.enqueue(records))

    def put_sync(self, records: Sequence[TaskRecord]) -> None:
        if records:
            self._drive_sync(flows.put(records, self.config.result_ttl))

    def get_sync(self, uuid: str) -> TaskRecord | None:
        result: TaskRecord | None = self._drive_sync(flows.get(self.prefix, uuid))
        return result

    def wait_final_sync(self, uuid: str, timeout: float) -> TaskRecord | None:
        result: TaskRecord | None = self._drive_sync(flows.wait_final(self.prefix, uuid, timeout))
        return result

    def wait_progress_sync(self, uuid: str, seen: Any, timeout: float) -> TaskRecord | None:
        flow = flows.wait_progress(self.prefix, uuid, seen, timeout)
        result: TaskRecord | None = self._drive_sync(flow)
        return result

    def cancel_sync(self, uuid: str, reason: str) -> TaskRecord | None:
        result: TaskRecord | None = self._drive_sync(
            flows.cancel(uuid, reason, self.config.result_ttl)
        )
        return result

    def purge_sync(self) -> None:
        self._drive_sync(flows.purge(self.prefix))

    def live_workers_sync(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._drive_sync(flows.live_workers())
        return result

    # The worker's lease thread: the sync driver keeps one connection per thread.
    def extend_sync(self, deliveries: Sequence[Delivery], lease: float) -> None:
        if deliveries:
            self._drive_sync(flows.extend(deliveries, lease))

    def register_worker_sync(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        self._drive_sync(flows.register_worker(worker_id, info, ttl))

    def close_sync(self) -> None:
        self._close_connections_sync()

    # --- inspection (`inspect.py`) ------------------------------------------------------
    async def list_tasks(self, query: TaskQuery) -> TaskPage:
        result: TaskPage = await self._drive(inspect.list_tasks(self.prefix, query))
        return result

    def list_tasks_sync(self, query: TaskQuery) -> TaskPage:
        result: TaskPage = self._drive_sync(inspect.list_tasks(self.prefix, query))
        return result

    async def count_tasks(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = await self._drive(inspect.count_tasks())
        return result

    def count_tasks_sync(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = self._drive_sync(inspect.count_tasks())
        return result

    async def purge_tasks(self, queue: str | None = None, status: str | None = None) -> int:
        result: int = await self._drive(inspect.purge_tasks(self.prefix, queue, status))
        return result

    def purge_tasks_sync(self, queue: str | None = None, status: str | None = None) -> int:
        result: int = self._drive_sync(inspect.purge_tasks(self.prefix, queue, status))
        return result

    async def pause_queue(self, queue: str) -> None:
        await self._drive(inspect.pause(self.prefix, queue, True))

    def pause_queue_sync(self, queue: str) -> None:
        self._drive_sync(inspect.pause(self.prefix, queue, True))

    async def resume_queue(self, queue: str) -> None:
        await self._drive(inspect.pause(self.prefix, queue, False))

    def resume_queue_sync(self, queue: str) -> None:
        self._drive_sync(inspect.pause(self.prefix, queue, False))

    async def paused_queues(self) -> list[str]:
        result: list[str] = await self._drive(inspect.paused_queues(self.prefix))
        return result

    def paused_queues_sync(self) -> list[str]:
        result: list[str] = self._drive_sync(inspect.paused_queues(self.prefix))
        return result

    # --- shared settings (QTasks 1.7's global config) -------------------------------------
    async def settings_set(self, name: str, key: str, value: Any, ttl: float | None = None) -> None:
        await self._drive(flows.settings_set(name, key, value, ttl))

    async def settings_get(self, key: str, name: str) -> str | None:
        result: str | None = await self._drive(flows.settings_get(self.prefix, key, name))
        return result

    async def settings_get_all(self, key: str) -> dict[str, str]:
        result: dict[str, str] = await self._drive(flows.settings_get_all(self.prefix, key))
        return result

    async def settings_get_match(self, match: str) -> dict[str, dict[str, str]]:
        result: dict[str, dict[str, str]] = await self._drive(flows.settings_get_match(match))
        return result

    def settings_set_sync(self, name: str, key: str, value: Any, ttl: float | None = None) -> None:
        self._drive_sync(flows.settings_set(name, key, value, ttl))

    def settings_get_sync(self, key: str, name: str) -> str | None:
        result: str | None = self._drive_sync(flows.settings_get(self.prefix, key, name))
        return result

    def settings_get_all_sync(self, key: str) -> dict[str, str]:
        result: dict[str, str] = self._drive_sync(flows.settings_get_all(self.prefix, key))
        return result

    def settings_get_match_sync(self, match: str) -> dict[str, dict[str, str]]:
        result: dict[str, dict[str, str]] = self._drive_sync(flows.settings_get_match(match))
        return result

    # --- coordination (named leases, shared documents) ------------------------------------
    async def acquire_lease(self, name: str, holder: str, ttl: float) -> float | None:
        result: float | None = await self._drive(coordination.acquire_lease(name, holder, ttl))
        return result

    async def release_lease(self, name: str, holder: str) -> None:
        await self._drive(coordination.release_lease(name, holder))

    async def lease_holder(self, name: str) -> str | None:
        result: str | None = await self._drive(coordination.lease_holder(self.prefix, name))
        return result

    async def put_document(self, collection: str, key: str, document: dict[str, Any]) -> None:
        await self._drive(coordination.put_document(self.prefix, collection, key, document))

    async def get_document(self, collection: str, key: str) -> dict[str, Any] | None:
        flow = coordination.get_document(self.prefix, collection, key)
        result: dict[str, Any] | None = await self._drive(flow)
        return result

    async def list_documents(self, collection: str) -> dict[str, dict[str, Any]]:
        flow = coordination.list_documents(self.prefix, collection)
        result: dict[str, dict[str, Any]] = await self._drive(flow)
        return result

    async def delete_document(self, collection: str, key: str) -> bool:
        result: bool = await self._drive(coordination.delete_document(self.prefix, collection, key))
        return result


__all__ = ["RedisBackend"]
