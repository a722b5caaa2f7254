"""OpenTelemetry tracing for qtasks (`pip install ".[otel]"`).

`TaskTracing` is a plugin over the typed hooks: a PRODUCER span `send <queue>` around
each enqueue, and a CONSUMER span `process <queue>` around each execution, the child of
the producer's span wherever the worker runs. The producer's context travels in the
task record, in the `trace_context` extra field (a dict of the propagator's headers:
W3C `traceparent`, and `tracestate` / `baggage` when set), which every backend stores
as it stores any extra field; a retry's next attempt inherits it. While the task body
runs, its span is the current one (sync bodies in the worker's threads included), so
spans the task starts, and tasks it enqueues, are its children.

Attributes follow OpenTelemetry's messaging semantic conventions: `messaging.system`
(`qtasks`), `messaging.operation.name` and `messaging.operation.type` (`send`,
`process`), `messaging.destination.name` (the queue), `messaging.message.id` (the task
uuid), `messaging.client.id` (the worker, on `process`), plus `qtasks.task.name`,
`qtasks.task.attempt` and `qtasks.task.status`. A failed attempt sets the span's status
to ERROR with `error.type` and an `exception` event holding the stored traceback.
See docs/features/tracing.md.
"""

from __future__ import annotations

from typing import Any

import qtasks
from qtasks.core.hooks import Hooks
from qtasks.core.status import ERROR, RETRY
from qtasks.exc import ConfigError

INSTALL_HINT = 'tracing needs opentelemetry-api: pip install ".[otel]"'
#: The record's extra field holding the producer's trace context.
CONTEXT_FIELD = "trace_context"
#: Spans of enqueues that never reported back (their enqueue failed) kept at most.
_MAX_PENDING = 10_000

try:
    from opentelemetry import context as otel_context
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError:  # the extra is not installed: TaskTracing() says how to get it
    trace = None  # type: ignore[assignment]


class TaskTracing(Hooks):
    """The tracing plugin (see the module docs). `tracer_provider`: where the spans go
    (None: OpenTelemetry's global provider). Raises `ConfigError` without
    opentelemetry-api."""

    name = "qtasks-tracing"

    def __init__(self, tracer_provider: Any = None) -> None:
        if trace is None:
            raise ConfigError(INSTALL_HINT)
        self.tracer = trace.get_tracer("qtasks", qtasks.__version__, tracer_provider)
        self._sending: dict[str, Any] = {}  # uuid -> producer span, until enqueued
        self._running: dict[str, tuple[Any, Any]] = {}  # uuid -> (span, context token)

    # --- producer ------------------------------------------------------------------------
    def broker_add_before(self, **kw: Any) -> None:
        record = kw["model"]
        span = self.tracer.start_span(
            f"send {record.queue}",
            kind=SpanKind.PRODUCER,
            attributes=_attributes(record, "send"),
        )
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        record.extra[CONTEXT_FIELD] = carrier
        if len(self._sending) >= _MAX_PENDING:  # enqueues that failed: drop the oldest
            self._sending.pop(next(iter(self._sending))).end()
        self._sending[record.uuid] = span

    def broker_add_after(self, **kw: Any) -> None:
        span = self._sending.pop(kw["model"].uuid, None)
        if span is not None:
            span.end()

    # --- worker --------------------------------------------------------------------------
    def worker_execute_before(self, **kw: Any) -> None:
        record = kw["model"]
        parent = propagate.extract(record.extra.get(CONTEXT_FIELD) or {})
        attributes = _attributes(record, "process")
        worker_id = getattr(kw.get("worker"), "worker_id", None)
        if worker_id:
            attributes["messaging.client.id"] = worker_id
        attributes["qtasks.task.attempt"] = max(int(record.attempts), 1)
        span = self.tracer.start_span(
            f"process {record.queue}", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
        )
        # Current for the rest of this delivery (the worker runs it in one asyncio task,
        # whose context the task body's thread copies): the body's spans are children.
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        self._running[record.uuid] = (span, token)

    def worker_execute_after(self, **kw: Any) -> None:
        final = kw["model"]
        held = self._running.pop(final.uuid, None)
        if held is None:
            return  # settled without running (dead letter, cancel found at fetch)
        span, token = held
        span.set_attribute("qtasks.task.status", final.status)
        if final.status in (ERROR, RETRY):
            kind, message = _exception_of(final.traceback)
            span.set_attribute("error.type", kind)
            span.add_event(
                "exception",
                {
                    "exception.type": kind,
                    "exception.message": message,
                    "exception.stacktrace": final.traceback or "",
                },
            )
            span.set_status(Status(StatusCode.ERROR, message[:200]))
        span.end()
        try:
            otel_context.detach(token)
        except Exception:  # pragma: no cover - another context: nothing left to undo
            pass

    def worker_stop(self, **kw: Any) -> None:
        """Spans of tasks the stopping worker released, ended as such."""
        for uuid in list(self._running):
            span, _ = self._running.pop(uuid)
            span.set_attribute("qtasks.task.status", "released")
            span.end()


def _attributes(record: Any, operation: str) -> dict[str, Any]:
    return {
        "messaging.system": "qtasks",
        "messaging.operation.name": operation,
        "messaging.operation.type": operation,
        "messaging.destination.name": record.queue,
        "messaging.message.id": record.uuid,
        "qtasks.task.name": record.task_name,
    }


def _exception_of(traceback: str | None) -> tuple[str, str]:
    """(type, message) of a stored traceback's last line, `ValueError: bad input`."""
    lines = (traceback or "").strip().splitlines()
    last = lines[-1] if lines else ""
    kind, _, message = last.partition(": ")
    return (kind.strip() or "Exception"), message.strip()


__all__ = ["CONTEXT_FIELD", "INSTALL_HINT", "TaskTracing"]
