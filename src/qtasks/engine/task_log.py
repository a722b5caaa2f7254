"""The worker's line per task start and per task outcome.

```
INFO     Task send_email (3f2a...) started on queue default (attempt 1)
INFO     Task send_email (3f2a...) success in 0.0042s
INFO     Task send_email (3f2a...) cancel in 1.2000s: <reason>
WARNING  Task send_email (3f2a...) retry in 0.0042s: ValueError('x'); retry 1/3 as 9b1c... in 1.00s
ERROR    Task send_email (3f2a...) error in 0.0042s: ValueError('x')
         Traceback (most recent call last): ...
```

Each record carries, besides its message, the fields `task_name`, `task_uuid`,
`queue` and, on an outcome, `duration` (seconds) and `outcome` (the final status), for a
structured formatter (`logs_format="json"`). A level above INFO on the app's logger
skips the start and success lines for the cost of one level check each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtasks.core import policy as outcome
from qtasks.core.status import ERROR, RETRY

if TYPE_CHECKING:
    from qtasks.core.log import Log
    from qtasks.core.models import TaskRecord


def _fields(record: TaskRecord) -> dict[str, object]:
    return {"task_name": record.task_name, "task_uuid": record.uuid, "queue": record.queue}


def started(log: Log, record: TaskRecord) -> None:
    """The INFO line of a task about to run."""
    log.info(
        "Task %s (%s) started on queue %s (attempt %s)",
        record.task_name,
        record.uuid,
        record.queue,
        max(record.attempts, 1),
        extra=_fields(record),
    )


def finished(log: Log, record: TaskRecord, final: TaskRecord, duration: float) -> None:
    """The line of a task's outcome that no failure line told: success (INFO), cancel
    (INFO, with the reason)."""
    if final.status in (ERROR, RETRY):
        return  # `failed` told it, with its exception
    extra = dict(_fields(record), duration=duration, outcome=final.status)
    reason = final.extra.get("cancel_reason")
    if reason:
        log.info(
            "Task %s (%s) %s in %.4fs: %s",
            record.task_name,
            record.uuid,
            final.status,
            duration,
            reason,
            extra=extra,
        )
        return
    log.info(
        "Task %s (%s) %s in %.4fs",
        record.task_name,
        record.uuid,
        final.status,
        duration,
        extra=extra,
    )


def failed(
    log: Log,
    record: TaskRecord,
    final: TaskRecord,
    exc: BaseException,
    duration: float,
    retry: str = "",
) -> None:
    """The line of a failed attempt: WARNING when it is retried (`retry` says how), else
    ERROR with the stored traceback under the message."""
    extra = dict(_fields(record), duration=duration, outcome=final.status)
    described = outcome.describe_exception(exc)
    if final.status == RETRY:
        log.warning(
            "Task %s (%s) retry in %.4fs: %s; %s",
            record.task_name,
            record.uuid,
            duration,
            described,
            retry,
            extra=extra,
        )
        return
    log.error(
        "Task %s (%s) %s in %.4fs: %s\n%s",
        record.task_name,
        record.uuid,
        final.status,
        duration,
        described,
        (final.traceback or "").rstrip(),
        extra=extra,
    )


__all__ = ["failed", "finished", "started"]
