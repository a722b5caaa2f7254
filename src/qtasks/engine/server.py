"""Server lifecycle of one app: start-up line, events, plugins, workers, shutdown.

Written once (async). `run_forever()` runs it with `asyncio.run`, `await app.start()`
runs it as a task of the caller's loop, `start_in_background()` on a thread's loop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from qtasks.core.callables import call_maybe_async
from qtasks.core.models import DEFAULT_QUEUE
from qtasks.engine.worker import Worker
from qtasks.plugins.runner import all_plugins, has_plugins, trigger

if TYPE_CHECKING:
    from qtasks.app.base import BaseQueueTasks


class Server:
    def __init__(
        self,
        app: BaseQueueTasks,
        *,
        num_workers: int = 1,
        queues: list[str] | None = None,
        concurrency: int | None = None,
    ) -> None:
        self.app = app
        self.queues = queues or [DEFAULT_QUEUE]
        self.concurrency = concurrency or app.config.max_tasks_process
        self.num_workers = max(1, int(num_workers))
        self.workers: list[Worker] = []
        self.log = app.log.with_subname("Starter")
        self._stop_requested = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def stop(self) -> None:
        """Ask every worker to stop; safe from any thread."""
        self._stop_requested = True
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._stop_now()
        else:
            loop.call_soon_threadsafe(self._stop_now)

    def _stop_now(self) -> None:
        for worker in self.workers:
            worker.stop()

    async def serve(self, ready: Any = None) -> None:
        """Run until `stop()`; `ready()` is called once every worker is fetching."""
        app = self.app
        self._loop = asyncio.get_running_loop()
        self.workers = [
            Worker(app, queue=q, concurrency=self.concurrency, consumers=self.num_workers)
            for q in self.queues
        ]
        app.worker = self.workers[0]
        self.log.info(
            f"Starting app {app.name!r} ({app._method}) on {app.backend.describe()} "
            f"queues={','.join(self.queues)} concurrency={self.concurrency} "
            f"tasks={len(app.tasks)}"
        )
        plugins = all_plugins(app.plugins, *app._component_plugins.values())
        await app.events.fire("starting", starter=self, worker=app.worker, broker=app.backend)
        for plugin in plugins:
            try:
                await call_maybe_async(plugin.start, app=app)
            except Exception:
                self.log.exception(f"Plugin {plugin.name!r} failed to start")
        await self._lifecycle("start")
        pending = len(self.workers)

        def one_ready() -> None:
            nonlocal pending
            pending -= 1
            if pending == 0 and ready is not None:
                ready()

        if self._stop_requested:
            self._stop_now()
        status = asyncio.ensure_future(self._publish_status())
        try:
            await asyncio.gather(*(w.run(one_ready) for w in self.workers))
        finally:
            status.cancel()
            await asyncio.gather(status, return_exceptions=True)
            await self._lifecycle("stop")
            for plugin in plugins:
                try:
                    await call_maybe_async(plugin.stop, app=app)
                except Exception:
                    self.log.exception(f"Plugin {plugin.name!r} failed to stop")
            await app.events.fire("stopping", starter=self, worker=app.worker, broker=app.backend)
            await app.backend.close()
            executed = sum(w.executed for w in self.workers)
            self.log.info(f"Stopped app {app.name!r} after {executed} task(s)")

    async def _publish_status(self) -> None:
        """Where the backend keeps a global config (Redis), keep the app's `main` status
        there with a TTL while it runs, as QTasks 1.7 did (`app.ping()` itself reads the
        live-worker registry every backend has)."""
        backend = self.app.backend
        gc_set = getattr(backend, "settings_set", None)
        if gc_set is None:
            return
        cfg, tables = self.app.config, self.app._component_plugins
        if has_plugins(tables["global_config"], "global_config_set_status"):
            await trigger(
                tables["global_config"], "global_config_set_status", self.log, global_config=backend
            )
        while True:
            try:
                ttl = cfg.global_config_status_ttl
                await gc_set("main", "name", self.app.name, ttl)
                await gc_set("main", "status", "running", ttl)
            except Exception as exc:
                self.log.warning(f"Publishing the app status failed: {exc!r}")
            await asyncio.sleep(cfg.global_config_status_set_periodic)

    async def _lifecycle(self, phase: str) -> None:
        """`starter_*`, `broker_*`, `storage_*`, `global_config_*` start/stop triggers
        (the worker fires its own)."""
        app, tables, log = self.app, self.app._component_plugins, self.log
        backend = app.backend
        steps: list[tuple[str, str, dict[str, Any]]] = [
            ("starter", f"starter_{phase}", {"starter": self}),
            ("broker", f"broker_{phase}", {"broker": backend}),
            ("storage", f"storage_{phase}", {"storage": backend}),
            ("global_config", f"global_config_{phase}", {"global_config": backend}),
        ]
        if phase == "start":
            steps[1][2]["worker"] = app.worker
        for component, name, kwargs in steps:
            await trigger(tables[component], name, log, **kwargs)


__all__ = ["Server"]
