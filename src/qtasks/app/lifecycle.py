"""Running an app's server in the three positions of the integration architecture:
blocking (`run_forever`), in the caller's event loop, or on a background thread.

One `Server` (async) does the work; these helpers only own where it runs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from typing import TYPE_CHECKING, Any

from qtasks.engine.server import Server
from qtasks.exc import EngineError, StartTimeoutError, WorkerRecycledError

if TYPE_CHECKING:
    from qtasks.app.base import BaseQueueTasks

#: Seconds to wait for a server to come up before reporting a failure to start.
START_TIMEOUT = 30.0


def run_blocking(server: Server, loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `server.stop()`): stop fetching, let running tasks
    finish within `shutdown_grace`, release the rest. A second Ctrl+C exits at once
    (a repeated SIGTERM does not: process managers often send it to the whole group).
    `loop`: an event loop of the caller's to run on (not running; left open)."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        installed = []
        seen: list[int] = []

        def on_signal(signum: int) -> None:
            if signum == signal.SIGINT and signal.SIGINT in seen:
                server.log.warning("Second Ctrl+C: exiting without waiting for running tasks")
                os._exit(130)
            first = not seen
            seen.append(signum)
            if not first:
                return
            server.log.info("Received %s: shutting down gracefully", signal.Signals(signum).name)
            server.stop()

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, on_signal, sig)
                    installed.append(sig)
                except (NotImplementedError, RuntimeError):
                    pass
        try:
            await server.serve()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    if loop is None:
        asyncio.run(main())
    elif loop.is_running():
        raise EngineError("run_forever(loop=...) needs a loop that is not running")
    else:
        loop.run_until_complete(main())


class BackgroundServer:
    """A server on its own thread and event loop, for sync hosts (Django, scripts)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._main, name=f"qtasks-{server.app.name}", daemon=True
        )

    def _main(self) -> None:
        try:
            asyncio.run(self.server.serve(self._ready.set))
        except WorkerRecycledError as exc:
            self._error = exc  # the worker logged why; stop() raises it
        except BaseException as exc:
            self._error = exc
            self.server.log.exception("Background server crashed")
        finally:
            self._ready.set()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise StartTimeoutError(f"qtasks server did not start within {START_TIMEOUT}s")
        if self._error is not None:
            raise EngineError("qtasks server failed to start") from self._error

    def stop(self, timeout: float | None = None) -> None:
        """Stop the server and wait for it; raise `WorkerRecycledError` if a worker
        had stopped itself to be replaced (the host decides what to do about it)."""
        self.server.stop()
        self._thread.join(timeout)
        if isinstance(self._error, WorkerRecycledError):
            raise self._error

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


class LoopServer:
    """A server running as a task of the caller's event loop (FastAPI lifespan...)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ready = asyncio.Event()
        self._task = asyncio.ensure_future(self.server.serve(ready.set))
        waiter = asyncio.ensure_future(ready.wait())
        await asyncio.wait(
            {self._task, waiter}, timeout=START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        if self._task.done():
            self._task.result()  # re-raise the start-up failure
            raise EngineError("qtasks server stopped while starting")
        if not ready.is_set():
            raise StartTimeoutError(f"qtasks server did not start within {START_TIMEOUT}s")

    async def stop(self) -> None:
        self.server.stop()
        if self._task is not None:
            await self._task


def make_server(
    app: BaseQueueTasks, num_workers: int | None, scheduler: bool | None = None, **options: Any
) -> Server:
    """The app's server; `scheduler` (default: `config.scheduler`) says whether it runs
    the scheduler beside its workers."""
    services = [app._scheduler_service(scheduler)]
    return Server(app, num_workers=num_workers or 1, services=services, **options)


__all__ = ["BackgroundServer", "LoopServer", "make_server", "run_blocking"]
