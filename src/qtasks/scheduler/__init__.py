"""Periodic tasks: schedules declared on an app (`@app.task(schedule=...)`,
`app.schedule(...)`), stored in the backend, fired exactly once per slot by whichever
process holds the leader lease. See docs/features/schedules.md."""

from qtasks.scheduler.admin import ScheduleInfo
from qtasks.scheduler.model import Schedule
from qtasks.scheduler.runner import Scheduler
from qtasks.scheduler.slots import Cron, Every, Trigger

__all__ = ["Cron", "Every", "Schedule", "ScheduleInfo", "Scheduler", "Trigger"]
