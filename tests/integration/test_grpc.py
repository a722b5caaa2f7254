"""The gRPC service driven by a client whose stubs are generated from qtasks.proto in
the test (not the package's own): AddTask/GetTask, errors, health, reflection; with
the async plugin in a worker process and the sync plugin in-process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "src" / "qtasks" / "plugins" / "grpc" / "core"
EXAMPLE = ROOT / "examples" / "grpc"
PROTOC = [sys.executable, "-m", "grpc_tools.protoc"]

PROBE = textwrap.dedent(
    """
    import sys, grpc, qtasks_pb2 as pb, qtasks_pb2_grpc as rpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )
    with grpc.insecure_channel(f"127.0.0.1:{sys.argv[1]}") as channel:
        stub = rpc.QTasksServiceStub(channel)
        missing = stub.GetTask(pb.GetTaskRequest(uuid="00000000-0000-0000-0000-000000000000"))
        print("missing:", missing.ok, missing.error)
        bad = stub.AddTask(pb.AddTaskRequest(name="add", args_json="{}"))
        print("bad:", bad.ok, bad.error)
        unknown = stub.AddTask(pb.AddTaskRequest(name="nope", timeout=10))
        print("unknown:", unknown.ok, bool(unknown.uuid), "nope" in unknown.error)
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "qtasks.v1.QTasksService"):
            status = health.Check(health_pb2.HealthCheckRequest(service=service)).status
            name = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
            print("health:", repr(service), name)
        names = sorted(ProtoReflectionDescriptorDatabase(channel).get_services())
        print("reflection:", ",".join(names))
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stubs")
    subprocess.run(
        [
            *PROTOC,
            f"-I{PROTO_DIR}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            "qtasks.proto",
        ],
        check=True,
    )
    (out / "probe.py").write_text(PROBE)
    (out / "client.py").write_text((EXAMPLE / "client.py").read_text())
    return out


def run_client(stubs: Path, script: str, port: int) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
    proc = subprocess.run(
        [sys.executable, script, str(port)],
        cwd=stubs,
        env=dict(env, PYTHONPATH=str(stubs)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 30
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert proc is None or proc.poll() is None
        assert time.monotonic() < deadline
        time.sleep(0.1)


EXPECTED_PROBE = (
    "missing: False Task not found!\n"
    "bad: False ValueError: args_json must be a JSON array\n"
    "unknown: False True True\n"
    "health: '' SERVING\n"
    "health: 'qtasks.v1.QTasksService' SERVING\n"
    "reflection: grpc.health.v1.Health,grpc.reflection.v1alpha.ServerReflection,"
    "qtasks.v1.QTasksService\n"
)


def test_async_plugin_in_a_worker_process(stubs: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QTASKS_")}
    env.update(QTASKS_GRPC_PORT=str(port), QTASKS_BROKER_URL=f"sqlite:///{tmp_path / 'q.db'}")
    server = subprocess.Popen([sys.executable, str(EXAMPLE / "server.py")], cwd=tmp_path, env=env)
    try:
        wait_for_port(port, server)
        assert run_client(stubs, "client.py", port) == (
            "add: True 5\nget: True success 3\nfail: False task failed: ValueError: no\n"
        )
        assert run_client(stubs, "probe.py", port) == EXPECTED_PROBE
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0


def test_sync_plugin_in_process(stubs: Path) -> None:
    from qtasks import QueueTasks
    from qtasks.plugins import SyncgRPCPlugin

    app = QueueTasks(name="grpc-sync", broker_url="memory://grpc-sync")

    @app.task(name="add")
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="fail")
    def fail(reason: str) -> None:
        raise ValueError(reason)

    plugin = SyncgRPCPlugin(app=app, host="127.0.0.1", port=0)
    app.add_plugin(plugin, trigger_names=["-"])
    with app.serve():
        assert plugin.server.bound_port
        assert run_client(stubs, "client.py", plugin.server.bound_port) == (
            "add: True 5\nget: True success 3\nfail: False task failed: ValueError: no\n"
        )
        assert run_client(stubs, "probe.py", plugin.server.bound_port) == EXPECTED_PROBE
