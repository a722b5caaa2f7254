"""Prometheus metrics: the `TaskMetrics` plugin counted against a real worker on every
app kind, read through the exporters (registry, ASGI, WSGI, the HTTP server), and the
sum of several processes' snapshots."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from qtasks.core.models import Completion, Delivery, TaskRecord
from qtasks.metrics import (
    TaskMetrics,
    asgi_app,
    install,
    read_directory,
    registry,
    start_http_server,
    wsgi_app,
)
from qtasks.metrics.state import RUN_BUCKETS, Tallies, merge

pytestmark = pytest.mark.anyio

LIMIT = 20.0


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by (name, sorted labels)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_a_worker_counts_outcomes_times_and_slots(env: Any) -> None:
    app = env.app("metrics")
    plugin = TaskMetrics()
    app.add_plugin(plugin)
    assert install(app) is plugin  # one plugin per app

    @app.task
    def ok(x: int) -> int:
        return x

    @app.task(retry=1, retry_backoff=0)
    def bad() -> None:
        raise ValueError("no")

    async with env.serve(app):
        for i in range(3):
            assert (await env.call(ok.add_task, i, timeout=LIMIT)).status == "success"
        assert (await env.call(bad.add_task, timeout=LIMIT)).status == "error"
        running = samples(generate_latest(registry(plugin)).decode())
        for _ in range(200):  # acks follow the stored record; upkeep reads the depth
            if value(running, "qtasks_tasks_failed_total", task="bad", queue="default") and (
                ("qtasks_queue_depth", (("queue", "default"),)) in running
            ):
                break
            await asyncio.sleep(0.05)
            running = samples(generate_latest(registry(plugin)).decode())
    found = samples(generate_latest(registry(plugin)).decode())
    q = {"queue": "default"}
    assert value(found, "qtasks_tasks_enqueued_total", task="ok", **q) == 3
    assert value(found, "qtasks_tasks_enqueued_total", task="bad", **q) == 1  # the retry is not
    assert value(found, "qtasks_tasks_started_total", task="ok", **q) == 3
    assert value(found, "qtasks_tasks_started_total", task="bad", **q) == 2
    assert value(found, "qtasks_tasks_succeeded_total", task="ok", **q) == 3
    assert value(found, "qtasks_tasks_retried_total", task="bad", **q) == 1
    assert value(found, "qtasks_tasks_failed_total", task="bad", **q) == 1
    assert value(found, "qtasks_task_run_seconds_count", task="ok", **q) == 3
    assert value(found, "qtasks_task_queue_wait_seconds_count", task="bad", **q) == 2
    assert value(found, "qtasks_task_run_seconds_bucket", task="ok", le="+Inf", **q) == 3
    assert 0 < value(found, "qtasks_task_run_seconds_sum", task="ok", **q) < LIMIT
    # while the worker ran: its slots; after: none, and nothing held
    assert value(running, "qtasks_worker_slots", **q) == app.config.max_tasks_process
    assert value(found, "qtasks_worker_slots", **q) == 0
    assert value(found, "qtasks_worker_busy_slots", **q) == 0
    # the worker's upkeep read the queue's depth from the backend
    assert ("qtasks_queue_depth", (("queue", "default"),)) in found


async def test_queue_depth_comes_from_the_backends_stats(env: Any) -> None:
    app = env.app("depth")
    plugin = install(app)

    @app.task
    def later() -> None:
        pass

    for _ in range(2):
        await env.call(later.add_task)
    await plugin.read_depth(app.backend, "default")
    found = samples(generate_latest(registry(plugin)).decode())
    assert value(found, "qtasks_queue_depth", queue="default") == 2
    assert value(found, "qtasks_queue_leased", queue="default") == 0


def _record(uuid: str, status: str = "new", **kw: Any) -> TaskRecord:
    return TaskRecord(uuid, "job", 0, [], {}, status, 100.0, 100.0, **kw)


def test_dead_letters_cancels_and_busy_slots_from_the_batch_hooks() -> None:
    plugin = TaskMetrics()
    got = [Delivery(_record(f"u{i}", attempts=1), "t") for i in range(3)]
    plugin.worker_tasks_fetched(deliveries=got)
    assert plugin.tallies.busy == {"default": 3}
    done = [
        Completion(got[0], _record("u0", "error"), dead_letter="delivered 5 times"),
        Completion(got[1], _record("u1", "cancel", extra={"cancel_reason": "asked"})),
    ]
    plugin.worker_tasks_acked(completions=done)
    key = ("job", "default")
    assert plugin.tallies.counters["dead"] == {key: 1}
    assert plugin.tallies.counters["cancelled"] == {key: 1}
    assert plugin.tallies.counters["failed"] == {}
    assert plugin.tallies.busy == {"default": 1}
    # a task delayed by eta waits from its eta, not from its creation
    plugin.worker_tasks_fetched(deliveries=[Delivery(_record("u9", eta=4e9), "t")])
    waits = plugin.tallies.wait[key]
    assert waits[0] == 1  # the eta one: not due yet, clamped at 0
    assert waits[-2] == 3  # +Inf: those created at epoch 100 waited decades


def test_snapshots_of_several_processes_add_up(tmp_path: Path) -> None:
    a, b = TaskMetrics(tmp_path), TaskMetrics(tmp_path)
    a.tallies.count("succeeded", ("job", "q"), 2)
    a.tallies.observe_run(("job", "q"), 0.003)
    a.tallies.slots["q"], a.tallies.busy["q"] = 10, 4
    a.tallies.depth["q"] = (7, 4, 100.0)
    a.write(force=True)  # this process's file
    snap = b.tallies
    snap.count("succeeded", ("job", "q"), 3)
    snap.observe_run(("job", "q"), 0.5)
    snap.slots["q"], snap.busy["q"] = 10, 2
    snap.depth["q"] = (5, 2, 200.0)
    dead = snap.snapshot()  # as if written by a process that has exited
    (tmp_path / "qtasks-metrics-999999999.json").write_text(json.dumps(dead))
    total = read_directory(tmp_path)
    assert total.counters["succeeded"] == {("job", "q"): 5}  # a dead worker's tasks count
    run = total.run[("job", "q")]
    assert sum(run[:-1]) == 2 and run[-1] == pytest.approx(0.503)
    assert run[RUN_BUCKETS.index(0.005)] == 1
    assert total.slots == {"q": 10} and total.busy == {"q": 4}  # live processes only
    assert total.depth["q"] == (5, 2, 200.0)  # the latest reading
    assert merge([]).counters["succeeded"] == {}


def test_a_snapshot_with_other_buckets_is_not_added() -> None:
    other = Tallies().snapshot()
    other["run"] = [["job", "q", [1, 2, 0.5]]]
    assert merge([(other, True)]).run == {}


async def test_asgi_wsgi_and_http_exporters_serve_the_same_text(tmp_path: Path) -> None:
    plugin = TaskMetrics()
    plugin.broker_add_after(model=_record("u1"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi_app(plugin)), base_url="http://test"
    ) as client:
        via_asgi = (await client.get("/metrics")).text
    assert value(samples(via_asgi), "qtasks_tasks_enqueued_total", task="job", queue="default") == 1

    responses: list[str] = []
    body = wsgi_app(plugin)(
        {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "QUERY_STRING": ""},
        lambda status, headers: responses.append(status),
    )
    assert responses[0].startswith("200") and b"qtasks_tasks_enqueued_total" in b"".join(body)

    server = start_http_server(plugin, 0)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
    finally:
        server.shutdown()
        server.server_close()
    assert b'qtasks_tasks_enqueued_total{queue="default",task="job"} 1.0' in text


async def test_the_asgi_exporter_reads_the_depth_of_an_async_apps_queues(tmp_path: Path) -> None:
    import qtasks.asyncio

    app = qtasks.asyncio.QueueTasks("asgi-depth", broker_url=f"sqlite:///{tmp_path}/d.db")
    plugin = install(app)

    @app.task
    async def later() -> None:
        pass

    await later.add_task()
    endpoint = asgi_app(plugin, app=app, queues=("default",))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=endpoint), base_url="http://test"
    ) as client:
        text = (await client.get("/metrics")).text
    await app.backend.close()
    assert value(samples(text), "qtasks_queue_depth", queue="default") == 1


def test_the_exporters_name_the_extra_when_prometheus_client_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from qtasks.exc import ConfigError

    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(ConfigError, match=r"pip install \"\.\[prometheus\]\""):
        registry(TaskMetrics())
    assert os.environ.get("QTASKS_METRICS_PORT") is None
