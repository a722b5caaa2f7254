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
    async def events() -> AsyncIterator[str]:
        last = None
        while True:
            task = await tasks.get(uuid)
            status = "unknown" if task is None else task.status
            progress = None if task is None else task.progress
            event = {"status": status, "progress": progress and progress["value"]}
            if event != last:  # a new status or a new progress report
                last = event
                yield f"data: {json.dumps(event)}\n\n"
            if task is None or status in FINAL:
                return
            await asyncio.sleep(0.05)

    return StreamingResponse(events(), media_type="text/event-stream")
