"""A producer that knows only the proto: stubs generated from qtasks.proto by
`python -m grpc_tools.protoc -I <folder of qtasks.proto> --python_out=. --grpc_python_out=.
qtasks.proto` (any language's generator works the same way).

    python client.py [port]
"""

from __future__ import annotations

import json
import sys
import time

import grpc
import qtasks_pb2
import qtasks_pb2_grpc


def main(port: int) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = qtasks_pb2_grpc.QTasksServiceStub(channel)
        # Enqueue and wait up to 10 s for the result.
        done = stub.AddTask(qtasks_pb2.AddTaskRequest(name="add", args_json="[2, 3]", timeout=10))
        print("add:", done.ok, json.loads(done.result_json))
        # Enqueue only, then poll the status.
        queued = stub.AddTask(qtasks_pb2.AddTaskRequest(name="add", kwargs_json='{"x": 1, "y": 2}'))
        while True:
            got = stub.GetTask(qtasks_pb2.GetTaskRequest(uuid=queued.uuid, include_result=True))
            if got.status in ("success", "error", "cancel"):
                break
            time.sleep(0.05)
        print("get:", got.ok, got.status, got.result_json)
        failed = stub.AddTask(
            qtasks_pb2.AddTaskRequest(name="fail", args_json='["no"]', timeout=10)
        )
        print("fail:", failed.ok, failed.error)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50051)
