"""A worker that also serves `qtasks.v1.QTasksService` over gRPC.

QTASKS_GRPC_PORT=50051 python server.py     # then: python client.py
"""

from __future__ import annotations

import os

from qtasks.asyncio import QueueTasks
from qtasks.plugins import AsyncgRPCPlugin

app = QueueTasks(name="grpc-demo", broker_url=os.environ.get("QTASKS_BROKER_URL"))


@app.task(name="add")
async def add(x: int, y: int) -> int:
    return x + y


@app.task(name="fail")
async def fail(reason: str) -> None:
    raise ValueError(reason)


port = int(os.environ.get("QTASKS_GRPC_PORT", "50051"))
app.add_plugin(AsyncgRPCPlugin(app=app, host="127.0.0.1", port=port), trigger_names=["-"])

if __name__ == "__main__":
    app.run_forever()
