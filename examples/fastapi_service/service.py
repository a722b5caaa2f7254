"""A FastAPI service with an in-process qtasks worker.

    uvicorn service:api          # from this folder; QTASKS_BROKER_URL picks the backend

Routes: POST /reports enqueues a report and returns its uuid (or, with ?wait=seconds,
the finished report); GET /reports/{uuid} reads it; GET /reports/{uuid}/events streams
its status and progress as server-sent events until it finishes; /qtasks/... is the HTTP
API of qtasks itself (enqueue any task by name, get, wait; /qtasks/openapi.json).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse

from qtasks.asyncio import QueueTasks
from qtasks.contrib.fastapi import QTasksApp, lifespan
from qtasks.web.api import create_api

app = QueueTasks(
    name="reports",
    broker_url=os.environ.get("QTASKS_BROKER_URL", "memory://reports"),
)
FINAL = {"success", "error", "cancel"}


@app.task(name="reports.build", echo=True)
async def build_report(self, user: str, pages: int = 3) -> dict[str, object]:
    for page in range(1, pages + 1):
        await asyncio.sleep(0.05)  # stands for real work
        await self.ctx.set_progress(page / pages, f"page {page}/{pages}")
    return {"user": user, "pages": pages, "title": f"Report for {user}"}


api = FastAPI(title="reports", lifespan=lifespan(app))
api.mount("/qtasks", create_api(app))


@api.post("/reports")
async def create_report(tasks: QTasksApp, user: str, pages: int = 3, wait: float = 0):
    task = await tasks.enqueue("reports.build", [user], {"pages": pages})
    if wait:
        task = await tasks.wait(task.uuid, timeout=wait) or task
    return {"uuid": str(task.uuid), "status": task.status, "report": task.returning}


@api.get("/reports/{uuid}")
async def read_report(tasks: QTasksApp, uuid: str):
    task = await tasks.get(uuid)
    if task is None:
        raise HTTPException(404, "no such report")
    return {"uuid": uuid, "status": task.status, "report": task.returning}


@api.get("/reports/{uuid}/events")
async def report_events(tasks: QTasksApp, uuid: str) -> StreamingResponse:
    first = await tasks.get(uuid)
    if first is None:
        raise HTTPException(404, "no such report")

    def event(task: Any) -> dict[str, Any]:
        progress = task.progress
        return {"status": task.status, "progress": progress and progress["value"]}

    async def events() -> AsyncIterator[str]:
        # wait() calls on_progress as each report is written (the backend wakes it, no
        # polling here), then returns the finished task.
        updates: asyncio.Queue[Any] = asyncio.Queue()
        updates.put_nowait(first)
        waiting = asyncio.ensure_future(
            tasks.wait(uuid, timeout=300, on_progress=updates.put_nowait)
        )
        waiting.add_done_callback(lambda _: updates.put_nowait(None))
        last = None
        try:
            while True:
                task = await updates.get()
                if task is None:  # wait() returned: the finished task, or None (time out)
                    task = waiting.result()
                    if task is None:
                        return
                if event(task) != last:  # a new status or a new progress report
                    last = event(task)
                    yield f"data: {json.dumps(last)}\n\n"
                if task.status in FINAL:
                    return
        finally:
            waiting.cancel()

    return StreamingResponse(events(), media_type="text/event-stream")
