"""The gRPC servers: `qtasks.v1.QTasksService` beside the standard health service
(SERVING) and server reflection, on `grpc.aio` (async) or a thread pool (sync)."""

from __future__ import annotations

from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from qtasks.plugins.grpc import service
from qtasks.plugins.grpc.core import qtasks_pb2, qtasks_pb2_grpc

#: 40 MiB each way, as in QTasks 1.7: arguments and results travel inline.
DEFAULT_OPTIONS = [
    ("grpc.max_send_message_length", 40 * 1024 * 1024),
    ("grpc.max_receive_message_length", 40 * 1024 * 1024),
]
#: Seconds running calls get to finish when the server stops.
STOP_GRACE = 3.0


class AsyncQTasksServiceServicer(qtasks_pb2_grpc.QTasksServiceServicer):
    """`QTasksService` over an app whose client methods are coroutines (or plain)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def AddTask(self, request: Any, context: Any) -> Any:
        return await service.add_task(self.app, request)

    async def GetTask(self, request: Any, context: Any) -> Any:
        return await service.get_task(self.app, request)


class SyncQTasksServiceServicer(qtasks_pb2_grpc.QTasksServiceServicer):
    """`QTasksService` over a sync app (its calls block a thread of the server's pool)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def AddTask(self, request: Any, context: Any) -> Any:
        return service.run_sync(service.add_task(self.app, request))

    def GetTask(self, request: Any, context: Any) -> Any:
        return service.run_sync(service.get_task(self.app, request))


class _BaseServer:
    def __init__(
        self,
        app: Any,
        host: str = "0.0.0.0",
        port: int = 50051,
        *,
        max_concurrent_rpcs: int | None = None,
        grpc_options: list[tuple[str, Any]] | None = None,
    ) -> None:
        self.app = app
        self.host = host
        self.port = int(port)
        self.max_concurrent_rpcs = max_concurrent_rpcs
        self.grpc_options = grpc_options if grpc_options is not None else list(DEFAULT_OPTIONS)
        #: The port listened on once started (the one the system chose for port=0).
        self.bound_port: int | None = None
        self._server: Any = None

    def _setup(self, server: Any, servicer: Any) -> None:
        qtasks_pb2_grpc.add_QTasksServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
        checks = health.HealthServicer()
        for name in ("", service.SERVICE_NAME):
            checks.set(name, health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(checks, server)
        names = (
            qtasks_pb2.DESCRIPTOR.services_by_name["QTasksService"].full_name,
            health.SERVICE_NAME,
            reflection.SERVICE_NAME,
        )
        reflection.enable_server_reflection(names, server)
        self.bound_port = server.add_insecure_port(f"{self.host}:{self.port}")
        if not self.bound_port:
            raise OSError(f"the gRPC server cannot listen on {self.host}:{self.port}")


class AsyncQTasksGRPCServer(_BaseServer):
    """The service on the running event loop (`grpc.aio`): `await start()`, `await
    stop(grace)`. Raises `OSError` from `start()` when it cannot listen."""

    async def start(self) -> None:
        if self._server is not None:
            return
        server = grpc.aio.server(
            options=self.grpc_options, maximum_concurrent_rpcs=self.max_concurrent_rpcs
        )
        self._setup(server, AsyncQTasksServiceServicer(self.app))
        await server.start()
        self._server = server

    async def stop(self, grace: float = STOP_GRACE) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop(grace)


class SyncQTasksGRPCServer(_BaseServer):
    """The service on a thread pool of its own (`grpc.server`): `start()`,
    `stop(grace)`. Raises `OSError` from `start()` when it cannot listen."""

    def start(self) -> None:
        if self._server is not None:
            return
        pool = futures.ThreadPoolExecutor(max_workers=10, thread_name_prefix="qtasks-grpc")
        server = grpc.server(
            pool, options=self.grpc_options, maximum_concurrent_rpcs=self.max_concurrent_rpcs
        )
        self._setup(server, SyncQTasksServiceServicer(self.app))
        server.start()
        self._server = server

    def stop(self, grace: float = STOP_GRACE) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop(grace).wait()


__all__ = [
    "DEFAULT_OPTIONS",
    "AsyncQTasksGRPCServer",
    "AsyncQTasksServiceServicer",
    "SyncQTasksGRPCServer",
    "SyncQTasksServiceServicer",
]
