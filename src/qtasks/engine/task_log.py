"""The worker's line per task.

```
INFO     Task send_email (3f2a...) success in 0.0042s on queue default
INFO     Task send_email (3f2a...) cancel in 1.2000s on queue default: <reason>
WARNING  Task send_email (3f2a...) retry in 0.0042s on queue default: ValueError('x'); retry 1/3 ...
ERROR    Task send_email (3f2a...) error in 0.0042s on queue default: ValueError('x')
         Traceback (most recent call last): ...
DEBUG    Task send_email (3f2a...) started on queue default (attempt 1)
```

One line per task at INFO, when its outcome is known (it says everything the start
would, and a line costs about a tenth of a short task's time in the worker); the start
line too at DEBUG. Each record carries, besides its message, the fields `task_name`,
`task_uuid`, `queue`, and on an outcome `duration` (seconds) and `outcome` (the
status), for a structured formatter (`logs_format="json"`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from qtasks.core import policy as outcome
from qtasks.core.status import ERROR, RETRY

if TYPE_CHECKING:
    from qtasks.core.log import Log
    from qtasks.core.models import TaskRecord

#: The level of the line a task's start gets.
START_LEVEL = logging.DEBUG


def _emit(log: Log, level: int, msg: str, args: tuple[Any, ...], extra: dict[str, Any]) -> None:
    line = getattr(log, "_line", None)  # `qtasks.logs.Logger`'s cheaper way
    if line is not None:
        line(level, msg, args, extra)
        return
    {logging.DEBUG: log.debug, logging.INFO: log.info, logging.WARNING: log.warning}.get(
        level, log.error
    )(msg, *args, extra=extra)


def started(log: Log, record: TaskRecord) -> None:
    """The line of a task about to run (`START_LEVEL`)."""
    _emit(
        log,
        START_LEVEL,
        "Task %s (%s) started on queue %s (attempt %s)",
        (record.task_name, record.uuid, record.queue, max(record.attempts, 1)),
        {"task_name": record.task_name, "task_uuid": record.uuid, "queue": record.queue},
    )


def _extra(record: TaskRecord, final: TaskRecord, duration: float) -> dict[str, Any]:
    return {
        "task_name": record.task_name,
        "task_uuid": record.uuid,
        "queue": record.queue,
        "duration": duration,
        "outcome": final.status,
    }


def finished(log: Log, record: TaskRecord, final: TaskRecord, duration: float) -> None:
    """The INFO line of an outcome no failure line told: success, cancel (with the
    reason)."""
    if final.status in (ERROR, RETRY):
        return  # `failed` told it, with its exception
    head = (record.task_name, record.uuid, final.status, duration, record.queue)
    reason = final.extra.get("cancel_reason")
    if reason:
        msg = "Task %s (%s) %s in %.4fs on queue %s: %s"
        _emit(log, logging.INFO, msg, (*head, reason), _extra(record, final, duration))
        return
    msg = "Task %s (%s) %s in %.4fs on queue %s"
    _emit(log, logging.INFO, msg, head, _extra(record, final, duration))


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
    head = (record.task_name, record.uuid, final.status, duration, record.queue)
    described = outcome.describe_exception(exc)
    extra = _extra(record, final, duration)
    if final.status == RETRY:
        msg = "Task %s (%s) %s in %.4fs on queue %s: %s; %s"
        _emit(log, logging.WARNING, msg, (*head, described, retry), extra)
        return
    msg = "Task %s (%s) %s in %.4fs on queue %s: %s\n%s"
    traceback = (final.traceback or "").rstrip()
    _emit(log, logging.ERROR, msg, (*head, described, traceback), extra)


__all__ = ["START_LEVEL", "failed", "finished", "started"]
