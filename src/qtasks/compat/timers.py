"""`qtasks.timers` (QTasks 1.7): `AsyncTimer`, `SyncTimer` and their base `BaseTimer`,
over APScheduler triggers (`pip install '.[timers]' in a checkout of qtasks`).

`timer.add_task(*args, task_name=..., priority=None, timeout=None, trigger=..., **kwargs)`
declares a schedule whose slots are the trigger's fire times; `timer.run_forever()` runs
the app's scheduler for those schedules in this process until SIGINT/SIGTERM. Unlike
1.7, two timer processes do not fire twice: the timers share one leader lease (named
"timer", apart from the workers' scheduler, which does not hold the triggers) and each
fire time is one task uuid. `timeout` is accepted and ignored, as in 1.7. `scheduler` is
an APScheduler scheduler holding a job per `add_task` (as in 1.7, for code that reads
it); it is never started: qtasks fires the slots.
"""

from __future__ import annotations

import hashlib
from typing import Any

from qtasks.app.schedules import run_blocking_service
from qtasks.core import codec
from qtasks.exc import ConfigError
from qtasks.logs import Logger
from qtasks.scheduler.model import Schedule
from qtasks.scheduler.slots import Trigger


def _apscheduler(kind: str) -> Any:
    try:
        if kind == "async":
            from apscheduler.schedulers.asyncio import AsyncIOScheduler

            return AsyncIOScheduler
        from apscheduler.schedulers.background import BackgroundScheduler

        return BackgroundScheduler
    except ImportError:
        raise ConfigError(
            "Timers need APScheduler: pip install '.[timers]' in a checkout of qtasks"
        ) from None


class BaseTimer:
    """What both timers share: the app, its config and a logger."""

    _kind = "sync"

    def __init__(self, app: Any, log: Logger | None = None, config: Any = None) -> None:
        self.app = app
        self.config = config or app.config
        self.log = (
            log.with_subname("Timer")
            if log is not None
            else Logger(app.name, "Timer", self.config.logs_default_level_server)
        )
        self.scheduler = _apscheduler(self._kind)()
        #: task name -> the trigger of its latest `add_task` (as in 1.7).
        self.tasks: dict[str, Any] = {}
        self._schedules: dict[str, Schedule] = {}

    def add_task(
        self,
        *args: Any,
        task_name: str,
        priority: int | None = None,
        timeout: float | None = None,
        trigger: Any,
        **kwargs: Any,
    ) -> Any:
        """Enqueue `task_name(*args, **kwargs)` at each fire time of `trigger` (any
        APScheduler trigger). Returns the APScheduler job standing for it."""
        if trigger is None or not hasattr(trigger, "get_next_fire_time"):
            raise ConfigError(
                f"add_task(trigger=...) takes an APScheduler trigger, got {trigger!r}"
            )
        codec.check_call(list(args), dict(kwargs), context=f"timer task {task_name!r}")
        digest = hashlib.sha1(codec.dumps([list(args), kwargs])).hexdigest()[:10]
        schedule_id = f"timer:{task_name}:{trigger}:{digest}"
        self._schedules[schedule_id] = Schedule(
            schedule_id,
            task_name,
            Trigger(trigger),
            tuple(args),
            dict(kwargs),
            priority,
            overlap="allow",  # 1.7 enqueued at every fire time
            owner="timer",
        )
        self.tasks[task_name] = trigger
        return self.scheduler.add_job(
            _not_run, trigger=trigger, id=schedule_id, args=[schedule_id], name=task_name
        )

    def _declared(self) -> dict[str, Schedule]:
        return dict(self._schedules)

    def run_forever(self) -> None:
        """Fire this timer's schedules until SIGINT/SIGTERM (blocks)."""
        self.app.backend.capabilities.require("coordination", self.app.backend)
        scheduler = self.app._scheduler(lease="timer", declared=self._declared)
        scheduler.log = self.log
        run_blocking_service(scheduler, self.log, self.app.name, self.app.backend)


def _not_run(schedule_id: str) -> None:  # pragma: no cover - the job is never started
    raise RuntimeError(f"timer job {schedule_id} is fired by qtasks' scheduler")


class AsyncTimer(BaseTimer):
    """A timer of an async app (`qtasks.asyncio.QueueTasks`)."""

    _kind = "async"


class SyncTimer(BaseTimer):
    """A timer of a sync app (`qtasks.QueueTasks`)."""


__all__ = ["AsyncTimer", "BaseTimer", "SyncTimer"]
