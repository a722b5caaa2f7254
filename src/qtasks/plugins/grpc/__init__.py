"""A gRPC server for producers in any language: `qtasks.v1.QTasksService` (`AddTask`,
`GetTask`, see `core/qtasks.proto`), with the standard health service (SERVING) and
server reflection. Needs the `grpc` extra.

    app.add_plugin(AsyncgRPCPlugin(app=app), trigger_names=["-"])   # async app
    app.add_plugin(SyncgRPCPlugin(app=app), trigger_names=["-"])    # sync app

The server starts and stops with the app's worker. It listens on `host:port`
(0.0.0.0:50051 by default, as in QTasks 1.7) without TLS or authentication: bind it to
an address only trusted producers reach, or give `host="127.0.0.1"`.
"""

from __future__ import annotations

from concurrent import futures
from typing import Any

try:
    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("qtasks.plugins.grpc needs gRPC: install qtasks with the grpc extra") from exc

from qtasks.plugins.base import BasePlugin
from qtasks.plugins.grpc import service
from qtasks.plugins.grpc.core import qtasks_pb2, qtasks_pb2_grpc

#: 40 MiB each way, as in QTasks 1.7: arguments and results travel inline.
DEFAULT_OPTIONS = [
    ("grpc.max_send_message_length", 40 * 1024 * 1024),
    ("grpc.max_receive_message_length", 40 * 1024 * 1024),
]
#: Seconds running calls get to finish when the worker stops.
STOP_GRACE = 5.0


def _names() -> tuple[str, ...]:
    return (
        qtasks_pb2.DESCRIPTOR.services_by_name["QTasksService"].full_name,
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        reflection.SERVICE_NAME,
    )


class _BasegRPCPlugin(BasePlugin):
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
        self.host = host
        self.port = port
        self.max_concurrent_rpcs = max_concurrent_rpcs
        self.grpc_options = grpc_options if grpc_options is not None else list(DEFAULT_OPTIONS)
        #: The port the server listens on once started (the one chosen for port=0).
        self.bound_port: int | None = None

    def _health(self) -> health.HealthServicer:
        servicer = health.HealthServicer()
        for name in ("", service.SERVICE_NAME):
            servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        return servicer

    def _bind(self, server: Any) -> None:
        self.bound_port = server.add_insecure_port(f"{self.host}:{self.port}")
        if not self.bound_port:
            raise OSError(f"gRPC server cannot listen on {self.host}:{self.port}")


class _AsyncServicer(qtasks_pb2_grpc.QTasksServiceServicer):
    def __init__(self, app: Any) -> None:
        self.app = app

    async def AddTask(self, request: Any, context: Any) -> Any:
        return await service.add_task(self.app, request)

    async def GetTask(self, request: Any, context: Any) -> Any:
        return await service.get_task(self.app, request)


class AsyncgRPCPlugin(_BasegRPCPlugin):
    """The gRPC server on the worker's event loop (`grpc.aio`); for an async app (a
    sync app's blocking calls would stall the loop: use `SyncgRPCPlugin`)."""

    _server: Any = None

    async def start(self, *args: Any, **kwargs: Any) -> None:
        server = grpc.aio.server(
            options=self.grpc_options, maximum_concurrent_rpcs=self.max_concurrent_rpcs
        )
        qtasks_pb2_grpc.add_QTasksServiceServicer_to_server(_AsyncServicer(self.app), server)  # type: ignore[no-untyped-call]
        health_pb2_grpc.add_HealthServicer_to_server(self._health(), server)
        reflection.enable_server_reflection(_names(), server)
        self._bind(server)
        await server.start()
        self._server = server

    async def stop(self, *args: Any, **kwargs: Any) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop(STOP_GRACE)


class _SyncServicer(qtasks_pb2_grpc.QTasksServiceServicer):
    def __init__(self, app: Any) -> None:
        self.app = app

    def AddTask(self, request: Any, context: Any) -> Any:
        return service.run_sync(service.add_task(self.app, request))

    def GetTask(self, request: Any, context: Any) -> Any:
        return service.run_sync(service.get_task(self.app, request))


class SyncgRPCPlugin(_BasegRPCPlugin):
    """The gRPC server on a thread pool of its own (`grpc.server`); for a sync app."""

    _server: Any = None

    def start(self, *args: Any, **kwargs: Any) -> None:
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=10, thread_name_prefix="qtasks-grpc"),
            options=self.grpc_options,
            maximum_concurrent_rpcs=self.max_concurrent_rpcs,
        )
        qtasks_pb2_grpc.add_QTasksServiceServicer_to_server(_SyncServicer(self.app), server)  # type: ignore[no-untyped-call]
        health_pb2_grpc.add_HealthServicer_to_server(self._health(), server)
        reflection.enable_server_reflection(_names(), server)
        self._bind(server)
        server.start()
        self._server = server

    def stop(self, *args: Any, **kwargs: Any) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop(STOP_GRACE).wait()


__all__ = ["DEFAULT_OPTIONS", "AsyncgRPCPlugin", "SyncgRPCPlugin"]
