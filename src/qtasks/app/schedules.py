"""Schedules on an app: declaring them (`app.schedule(...)`, `@app.task(schedule=...)`),
the scheduler a worker runs beside its workers, and managing the stored schedules from
any process (the facades' `schedules`, `pause_schedule`, `resume_schedule`,
`remove_schedule`, `run_schedule_now`)."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from qtasks.backends.bridge import portal
from qtasks.exc import ConfigError
from qtasks.scheduler import admin
from qtasks.scheduler.model import Schedule, timing_of
from qtasks.scheduler.runner import Scheduler

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from qtasks.core.config import QueueConfig
    from qtasks.core.models import TaskSpec
    from qtasks.core.ports import Backend
    from qtasks.logs import Logger
    from qtasks.registries.registry import TaskTable


class SchedulerOff:
    """The start-up line's word when this worker runs no scheduler."""

    def __init__(self, why: str = "") -> None:
        self.why = why

    def describe(self) -> str:
        return "scheduler=off" + (f" ({self.why})" if self.why else "")

    async def run(self) -> None:
        return None


class ScheduleDeclarations:
    """Mixed into `BaseQueueTasks`: the schedules this app declares."""

    name: str
    backend: Backend
    config: QueueConfig
    log: Logger
    tasks: TaskTable
    _schedules: dict[str, Schedule]
    find_task: Callable[[str], TaskSpec | None]

    def schedule(
        self,
        id: str,
        task: str | None = None,
        *,
        cron: str | None = None,
        every: float | timedelta | None = None,
        tz: str | None = None,
        args: tuple[Any, ...] | list[Any] = (),
        kwargs: dict[str, Any] | None = None,
        priority: int | None = None,
        queue: str | None = None,
        overlap: str = "skip",
        catch_up: str = "all",
        catch_up_window: float = 300.0,
        jitter: float = 0.0,
    ) -> Schedule:
        """Declare schedule `id`: run task `task` (default: the task named `id`) with
        `args`/`kwargs` at every slot of `cron` (an expression read in zone `tz`,
        default UTC) or `every` (seconds or a timedelta, on the epoch-aligned grid).
        Policies: `overlap` ("skip", "buffer_one", "allow"), `catch_up` ("all" within
        `catch_up_window` seconds, "last", "none"), `jitter` (seconds). No I/O: the
        schedule is stored when this process starts a worker or a scheduler, or manages
        schedules. Declaring an id again replaces it. Raises `ConfigError` for a bad
        expression, zone or policy."""
        declared = Schedule(
            id,
            task or id,
            timing_of(cron, every, tz),
            tuple(args),
            dict(kwargs or {}),
            priority,
            queue,
            overlap,
            catch_up,
            catch_up_window,
            jitter,
        )
        self._schedules[id] = declared
        return declared

    def _declared_schedules(self) -> dict[str, Schedule]:
        """The app's schedules: those of `app.schedule(...)`, then each task's own
        `schedule=` option (id: the task's name)."""
        out = dict(self._schedules)
        for name in list(self.tasks):
            spec = self.find_task(name)
            option = spec.extra.get("schedule") if spec is not None else None
            if option is not None and name not in out:
                try:
                    out[name] = _from_option(name, option)
                except ConfigError as exc:  # a router's or shared task's, not checked yet
                    self.log.warning("Task %r: its schedule= is ignored: %s", name, exc)
        return out

    def _check_task_schedule(self, spec: TaskSpec) -> None:
        """`@app.task(schedule=...)` is checked when the task is declared."""
        option = spec.extra.get("schedule")
        if option is not None:
            _from_option(spec.name, option)

    # --- the scheduler a worker runs ------------------------------------------------------
    def _scheduler_service(self, enabled: bool | None) -> Scheduler | SchedulerOff:
        if enabled is None:
            enabled = bool(self.config.scheduler)
        if not enabled:
            return SchedulerOff()
        if not self.backend.capabilities.coordination:
            return SchedulerOff(f"{type(self.backend).__name__} has no coordination")
        return self._scheduler()

    def _scheduler(self, lease: str = "scheduler", declared: Any = None) -> Scheduler:
        return Scheduler(
            self.backend,
            app_name=self.name,
            log=self.log.with_subname("Scheduler"),
            declared=declared or self._declared_schedules,
            find_task=self.find_task,
            default_priority=self.config.task_default_priority,
            lease_ttl=self.config.scheduler_lease_ttl,
            lease=lease,
        )

    def run_scheduler(self) -> None:
        """Run only the scheduler in this process (no worker) until SIGINT/SIGTERM:
        `qtasks -A module:app beat`, for teams that keep it apart from their workers.
        It competes for the same leader lease as the workers' schedulers, so running it
        beside them fires nothing twice. Blocks; not a coroutine on either app."""
        if not self.backend.capabilities.coordination:
            self.backend.capabilities.require("coordination", self.backend)
        run_blocking_service(self._scheduler(), self.log, self.name, self.backend)

    # --- management, written once (async); the facades call these -----------------------------
    async def _schedules_async(self) -> list[admin.ScheduleInfo]:
        coord = admin.coordination(self.backend)
        return await admin.list_schedules(coord, self._declared_schedules(), time.time())

    async def _set_paused_async(self, schedule_id: str, paused: bool) -> None:
        coord = admin.coordination(self.backend)
        await admin.set_paused(coord, self._declared_schedules(), schedule_id, paused)

    async def _remove_schedule_async(self, schedule_id: str) -> bool:
        return await admin.remove(admin.coordination(self.backend), schedule_id)

    async def _run_schedule_now_async(self, schedule_id: str) -> str:
        uuid = await admin.run_now(
            self.backend,
            self._declared_schedules(),
            schedule_id,
            find_task=self.find_task,
            default_priority=self.config.task_default_priority,
        )
        self.log.info("Schedule %r run now: task %s", schedule_id, uuid)
        return uuid


class SyncScheduleMethods(ScheduleDeclarations):
    """The sync app's schedule management: plain calls (run on the process's portal)."""

    @staticmethod
    def _wait(coro: Coroutine[Any, Any, Any]) -> Any:
        return portal().wait(coro)

    def schedules(self) -> list[admin.ScheduleInfo]:
        """Every stored schedule (the declared ones stored first), by id, each with its
        next run (`next_run`, a UTC datetime; None while paused). Raises
        `CapabilityError` on a backend without coordination."""
        result: list[admin.ScheduleInfo] = self._wait(self._schedules_async())
        return result

    def pause_schedule(self, schedule_id: str) -> None:
        """Stop firing `schedule_id` (every process sees it within a second); KeyError
        when unknown."""
        self._wait(self._set_paused_async(schedule_id, True))

    def resume_schedule(self, schedule_id: str) -> None:
        """Fire `schedule_id` again from now on (slots of the pause are not caught up)."""
        self._wait(self._set_paused_async(schedule_id, False))

    def remove_schedule(self, schedule_id: str) -> bool:
        """Forget a stored schedule; True when it was stored. One declared in code comes
        back when a process declaring it starts: pause it instead to stop it for good."""
        result: bool = self._wait(self._remove_schedule_async(schedule_id))
        return result

    def run_schedule_now(self, schedule_id: str) -> str:
        """Enqueue the schedule's task now, apart from its slots; returns its uuid."""
        result: str = self._wait(self._run_schedule_now_async(schedule_id))
        return result


class AsyncScheduleMethods(ScheduleDeclarations):
    """The async app's schedule management: coroutines (see `SyncScheduleMethods`)."""

    async def schedules(self) -> list[admin.ScheduleInfo]:
        """Every stored schedule with its next run; see the sync app's `schedules`."""
        return await self._schedules_async()

    async def pause_schedule(self, schedule_id: str) -> None:
        """Stop firing `schedule_id`; KeyError when unknown."""
        await self._set_paused_async(schedule_id, True)

    async def resume_schedule(self, schedule_id: str) -> None:
        """Fire `schedule_id` again from now on."""
        await self._set_paused_async(schedule_id, False)

    async def remove_schedule(self, schedule_id: str) -> bool:
        """Forget a stored schedule; True when it was stored."""
        return await self._remove_schedule_async(schedule_id)

    async def run_schedule_now(self, schedule_id: str) -> str:
        """Enqueue the schedule's task now, apart from its slots; returns its uuid."""
        return await self._run_schedule_now_async(schedule_id)


def run_blocking_service(service: Scheduler, log: Logger, name: str, backend: Backend) -> None:
    """Run `service` on a new event loop until SIGINT/SIGTERM, then give its lease up."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        installed = []
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, task.cancel)
                    installed.append(sig)
                except (NotImplementedError, RuntimeError):
                    pass
        log.info("Starting the scheduler of app %r on %s", name, backend.describe())
        try:
            await service.run()
        except asyncio.CancelledError:
            log.info("Stopped the scheduler of app %r after %s task(s)", name, service.fired)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            await backend.close()

    asyncio.run(main())


def _from_option(task_name: str, option: Any) -> Schedule:
    """A task's `schedule=` option: a cron expression, seconds or a timedelta, or a dict
    of `app.schedule`'s keywords."""
    if isinstance(option, str):
        return Schedule(task_name, task_name, timing_of(option, None, None))
    if isinstance(option, (int, float, timedelta)) and not isinstance(option, bool):
        return Schedule(task_name, task_name, timing_of(None, option, None))
    if isinstance(option, dict):
        opts = dict(option)
        timing = timing_of(opts.pop("cron", None), opts.pop("every", None), opts.pop("tz", None))
        opts["args"] = tuple(opts.get("args", ()))
        try:
            return Schedule(task_name, task_name, timing, **opts)
        except TypeError as exc:
            raise ConfigError(f"Bad schedule= option of task {task_name!r}: {exc}") from None
    raise ConfigError(
        f"schedule= of task {task_name!r} takes a cron expression, seconds, a timedelta or "
        f"a dict of app.schedule()'s options, got {option!r}"
    )


__all__ = [
    "AsyncScheduleMethods",
    "ScheduleDeclarations",
    "SchedulerOff",
    "SyncScheduleMethods",
    "run_blocking_service",
]
