"""OpenTelemetry tracing: the producer's span and the worker's, joined through the trace
context stored in the task record, on every app kind, with the SDK's in-memory
exporter. The producer and the worker are two app objects (two processes' worth of
state) sharing only the backend, so the context must survive the backend's encoding."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import qtasks
import qtasks.asyncio
from qtasks.exc import ConfigError
from qtasks.tracing import CONTEXT_FIELD, TaskTracing

pytestmark = pytest.mark.anyio

LIMIT = 20.0


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _twin(env: Any, app: Any) -> Any:
    """A second app object of the same name on the same backend: the worker's."""
    url = {  # as the `env` fixture builds them
        "memory": f"memory://{app.name}",
        "sqlite": f"sqlite:///{env.tmp_path}/{app.name}.db",
        "redis": os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        "postgres": os.environ.get(
            "QTASKS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    }[env.backend]
    cls = qtasks.asyncio.QueueTasks if env.is_async else qtasks.QueueTasks
    twin = cls(app.name, broker_url=url)
    env.apps.append(twin)
    return twin


def _by_name(exporter: InMemorySpanExporter, uuid: Any) -> dict[str, ReadableSpan]:
    found = {}
    for span in exporter.get_finished_spans():
        if (span.attributes or {}).get("messaging.message.id") == str(uuid):
            found[span.name.split()[0]] = span
    return found


async def test_the_workers_span_is_a_child_of_the_producers(env: Any, spans: Any) -> None:
    provider, exporter = spans
    producer = env.app("traced")
    worker = _twin(env, producer)
    producer.add_plugin(TaskTracing(provider))
    worker.add_plugin(TaskTracing(provider))
    tracer = provider.get_tracer("test")

    def send_email_body(to: str) -> str:
        with tracer.start_as_current_span("smtp"):  # the body's own span: a grandchild
            return to

    def fails_body() -> None:
        raise ValueError("mailbox full")

    send_email = producer.task(name="send_email")(send_email_body)
    fails = producer.task(name="fails")(fails_body)
    worker.task(name="send_email")(send_email_body)
    worker.task(name="fails")(fails_body)

    with tracer.start_as_current_span("request") as request:
        ok = await env.call(send_email.add_task, "a@b")
        bad = await env.call(fails.add_task)
    stored = await env.call(producer.get, ok.uuid)
    traceparent = stored.extra[CONTEXT_FIELD]["traceparent"]  # W3C: 00-trace-span-flags
    assert traceparent.split("-")[1] == format(request.get_span_context().trace_id, "032x")
    async with env.serve(worker):
        for task in (ok, bad):
            assert (await env.call(producer.wait, task.uuid, LIMIT)).status in ("success", "error")
        for _ in range(100):  # the span ends just after the record is final
            if "process" in _by_name(exporter, bad.uuid):
                break
            await asyncio.sleep(0.02)

    sent, processed = _by_name(exporter, ok.uuid)["send"], _by_name(exporter, ok.uuid)["process"]
    trace_id = request.get_span_context().trace_id
    assert sent.context.trace_id == processed.context.trace_id == trace_id
    assert sent.parent is not None and sent.parent.span_id == request.get_span_context().span_id
    assert processed.parent is not None and processed.parent.span_id == sent.context.span_id
    [smtp] = [s for s in exporter.get_finished_spans() if s.name == "smtp"]
    assert smtp.parent is not None and smtp.parent.span_id == processed.context.span_id
    assert (sent.kind, processed.kind) == (SpanKind.PRODUCER, SpanKind.CONSUMER)
    assert (sent.name, processed.name) == ("send default", "process default")
    attrs = dict(processed.attributes or {})
    assert attrs["messaging.system"] == "qtasks"
    assert attrs["messaging.operation.type"] == "process"
    assert attrs["messaging.destination.name"] == "default"
    assert attrs["qtasks.task.name"] == "send_email"
    assert attrs["qtasks.task.status"] == "success" and attrs["qtasks.task.attempt"] == 1
    assert attrs["messaging.client.id"]
    assert dict(sent.attributes or {})["messaging.operation.type"] == "send"

    failed = _by_name(exporter, bad.uuid)["process"]
    assert failed.status.status_code == StatusCode.ERROR
    assert dict(failed.attributes or {})["error.type"] == "ValueError"
    [event] = [e for e in failed.events if e.name == "exception"]
    assert dict(event.attributes or {})["exception.message"] == "mailbox full"
    assert "Traceback" in dict(event.attributes or {})["exception.stacktrace"]


async def test_retries_and_tasks_enqueued_by_a_task_stay_in_the_trace(spans: Any) -> None:
    provider, exporter = spans
    app = qtasks.asyncio.QueueTasks("trace-retry", broker_url="memory://trace-retry")
    app.add_plugin(TaskTracing(provider))
    attempts: list[int] = []

    @app.task(retry=1, retry_backoff=0)
    async def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("once")
        await child.add_task()

    @app.task
    async def child() -> None:
        pass

    async with app.serve():
        task = await flaky.add_task(timeout=LIMIT)
        assert task.status == "success"
        for _ in range(100):
            if any(
                s.name == "process default" and _task(s) == "child" for s in _finished(exporter)
            ):
                break
            await asyncio.sleep(0.02)
    spans_ = _finished(exporter)
    assert len({s.context.trace_id for s in spans_}) == 1  # one trace from enqueue to child
    [first_send] = [s for s in spans_ if s.name == "send default" and _task(s) == "flaky"]
    runs = [s for s in spans_ if s.name == "process default" and _task(s) == "flaky"]
    assert len(runs) == 2 and all(r.parent.span_id == first_send.context.span_id for r in runs)  # type: ignore[union-attr]
    [child_send] = [s for s in spans_ if s.name == "send default" and _task(s) == "child"]
    success = next(r for r in runs if dict(r.attributes or {})["qtasks.task.status"] == "success")
    assert child_send.parent.span_id == success.context.span_id  # type: ignore[union-attr]


def _finished(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return list(exporter.get_finished_spans())


def _task(span: ReadableSpan) -> Any:
    return (span.attributes or {}).get("qtasks.task.name")


def test_tracing_names_the_extra_when_opentelemetry_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import qtasks.tracing as tracing

    monkeypatch.setattr(tracing, "trace", None)
    with pytest.raises(ConfigError, match=r"pip install \"\.\[otel\]\""):
        TaskTracing()
