"""Server lifecycle of one app: start-up line, events, plugins, workers, shutdown.

Written once (async). `run_forever()` runs it with `asyncio.run`, `await app.start()`
runs it as a task of the caller's loop, `start_in_background()` on a thread's loop.
The workers and the status publisher run in one task group: a worker that fails stops
its siblings (they drain and release their tasks), and the failure propagates.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

from qtasks.core.callables import call_maybe_async
from qtasks.core.hooks import all_plugins
from qtasks.core.models import DEFAULT_QUEUE
from qtasks.core.ports import SharedSettings
from qtasks.engine.worker import Worker, first_error

if TYPE_CHECKING:
    from collections.abc import Sequence

    from qtasks.core.runtime import Runtime, Service


class Server:
    def __init__(
        self,
        app: Runtime,
        *,
        num_workers: int = 1,
        queues: list[str] | None = None,
        concurrency: int | None = None,
        services: Sequence[Service] = (),
    ) -> None:
        self.app = app
        #: Run beside the workers (the scheduler), each described on the start-up line.
        self.services = list(services)
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
        self.log.info(
            "Starting app %r (%s) on %s queues=%s concurrency=%s tasks=%s%s",
            app.name,
            app.method,
            app.backend.describe(),
            ",".join(self.queues),
            self.concurrency,
            app.task_count,
            "".join(" " + service.describe() for service in self.services),
        )
        plugins = all_plugins(app.hooks.tables.values())
        try:
            await app.events.fire(
                "starting", starter=self, worker=self.workers[0], broker=app.backend
            )
            for plugin in plugins:
                try:
                    await _lifecycle_call(plugin, "start", app)
                except Exception:
                    self.log.exception("Plugin %r failed to start", _name(plugin))
            await self._lifecycle("start")
            await self._run_workers(ready)
        finally:
            await self._lifecycle("stop")
            for plugin in plugins:
                try:
                    await _lifecycle_call(plugin, "stop", app)
                except Exception:
                    self.log.exception("Plugin %r failed to stop", _name(plugin))
            await app.events.fire(
                "stopping", starter=self, worker=self.workers[0], broker=app.backend
            )
            await app.backend.close()
            executed = sum(w.executed for w in self.workers)
            self.log.info("Stopped app %r after %s task(s)", app.name, executed)

    async def _run_workers(self, ready: Any) -> None:
        pending = len(self.workers)

        def one_ready() -> None:
            nonlocal pending
            pending -= 1
            if pending == 0 and ready is not None:
                ready()

        if self._stop_requested:
            self._stop_now()
        with first_error():
            async with asyncio.TaskGroup() as group:
                status = group.create_task(self._publish_status())
                runs = [group.create_task(w.run(one_ready)) for w in self.workers]
                helpers = [status, *(group.create_task(s.run()) for s in self.services)]
                try:
                    await asyncio.wait(runs)  # a failure reaches the group, not this body
                finally:
                    for helper in helpers:
                        helper.cancel()

    async def _publish_status(self) -> None:
        """Where the backend keeps shared settings (Redis), keep the app's `main` status
        there with a TTL while it runs, as QTasks 1.7 did (`app.ping()` itself reads the
        live-worker registry)."""
        backend = self.app.backend
        if not backend.capabilities.shared_settings:
            return
        settings = cast(SharedSettings, backend)
        cfg = self.app.config
        await self.app.hooks.run("global_config_set_status", global_config=backend)
        while True:
            try:
                ttl = cfg.global_config_status_ttl
                await settings.settings_set("main", "name", self.app.name, ttl)
                await settings.settings_set("main", "status", "running", ttl)
            except Exception as exc:
                self.log.warning("Publishing the app status failed: %r", exc)
            await asyncio.sleep(cfg.global_config_status_set_periodic)

    async def _lifecycle(self, phase: str) -> None:
        """`starter_*`, `broker_*`, `storage_*`, `global_config_*` start/stop triggers
        (the worker fires its own)."""
        hooks, backend = self.app.hooks, self.app.backend
        steps: list[tuple[str, dict[str, Any]]] = [
            (f"starter_{phase}", {"starter": self}),
            (f"broker_{phase}", {"broker": backend}),
            (f"storage_{phase}", {"storage": backend}),
            (f"global_config_{phase}", {"global_config": backend}),
        ]
        if phase == "start":
            steps[1][1]["worker"] = self.workers[0]
        for name, kwargs in steps:
            await hooks.run(name, **kwargs)


async def _lifecycle_call(plugin: Any, method: str, app: Any) -> None:
    """A plugin's `start`/`stop` (QTasks 1.7 plugins have them; typed ones may not)."""
    call = getattr(plugin, method, None)
    if call is not None:
        await call_maybe_async(call, app=app)


def _name(plugin: Any) -> str:
    return str(getattr(plugin, "name", None) or type(plugin).__name__)


__all__ = ["Server"]
