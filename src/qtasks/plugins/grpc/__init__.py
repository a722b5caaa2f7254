"""A gRPC server for producers in any language: `qtasks.v1.QTasksService` (`AddTask`,
`GetTask`, see `core/qtasks.proto`), with the standard health service (SERVING) and
server reflection. Needs the `grpc` extra.

    app.add_plugin(AsyncgRPCPlugin(app=app), trigger_names=["-"])   # async app
    app.add_plugin(SyncgRPCPlugin(app=app), trigger_names=["-"])    # sync app

The server starts and stops with the app's worker (a server that cannot listen fails
the worker's start-up, logged). It listens on `host:port` (0.0.0.0:50051 by default, as
in QTasks 1.7) without TLS or authentication: bind it to an address only trusted
producers reach, or give `host="127.0.0.1"`. `AsyncQTasksGRPCServer` and
`SyncQTasksGRPCServer` (`qtasks.plugins.grpc.server`) run the same service without a
worker.
"""

from __future__ import annotations

from typing import Any

try:
    import grpc  # noqa: F401  (the extra's presence, checked once, with a clear error)
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("qtasks.plugins.grpc needs gRPC: install qtasks with the grpc extra") from exc

from qtasks.plugins.base import BasePlugin
from qtasks.plugins.grpc.core import qtasks_pb2, qtasks_pb2_grpc
from qtasks.plugins.grpc.server import (
    DEFAULT_OPTIONS,
    AsyncQTasksGRPCServer,
    SyncQTasksGRPCServer,
)


class _GrpcPlugin(BasePlugin):
    """What both plugins share: the server of `server_class`, made with the 1.7 arguments."""

    server_class: Any

    def __init__(
        self,
        app: Any,
        host: str = "0.0.0.0",
        port: int = 50051,
        *,
        max_concurrent_rpcs: int | None = None,
        grpc_options: list[tuple[str, Any]] | None = None,
    ) -> None:
        super().__init__(type(self).__name__)
        self.app = app
        self.server = self.server_class(
            app, host, port, max_concurrent_rpcs=max_concurrent_rpcs, grpc_options=grpc_options
        )


class AsyncgRPCPlugin(_GrpcPlugin):
    """The gRPC server on the worker's event loop; for an async app (a sync app's
    blocking calls would stall the loop: use `SyncgRPCPlugin`). `server.bound_port`
    is the port it listens on once started."""

    server_class = AsyncQTasksGRPCServer

    async def start(self, *args: Any, **kwargs: Any) -> None:
        await self.server.start()

    async def stop(self, *args: Any, **kwargs: Any) -> None:
        await self.server.stop()


class SyncgRPCPlugin(_GrpcPlugin):
    """The gRPC server on a thread pool of its own; for a sync app. `server.bound_port`
    is the port it listens on once started."""

    server_class = SyncQTasksGRPCServer

    def start(self, *args: Any, **kwargs: Any) -> None:
        self.server.start()

    def stop(self, *args: Any, **kwargs: Any) -> None:
        self.server.stop()


__all__ = [
    "DEFAULT_OPTIONS",
    "AsyncgRPCPlugin",
    "SyncgRPCPlugin",
    "qtasks_pb2",
    "qtasks_pb2_grpc",
]
