"""Undecodable stored entries among good tasks, corrupted the way a bad writer would
(SQLite and PostgreSQL: the args or kwargs column not JSON; Redis: the header or the
body of the stored task not JSON). The good tasks must run, each once; the bad ones
must not run and must be listed by `app.dead_letters()` with their raw text; the
workers must stay up."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from chaos.harness import Result
from chaos.verdict import tally

if TYPE_CHECKING:
    from chaos.scenarios import Context


def run(ctx: Context) -> Result:
    res = ctx.result("malformed")
    with ctx.lab("malformed") as lab:
        good: list[str] = []
        bad: dict[str, str] = {}
        for part in ctx.target.parts():
            good += lab.enqueue(("work", [0.01]) for _ in range(10))
            (uuid,) = lab.enqueue([("work", [0.01])])
            bad[uuid] = ctx.target.corrupt(lab.url, lab.app_name, uuid, part)
        good += lab.enqueue(("work", [0.01]) for _ in range(10))
        workers = lab.start_workers(2)
        finals = lab.wait_done(good, timeout=8, settle=1)
        t = tally(good, finals, lab.log, lab.interrupted)
        letters = _wait_dead_letters(lab.client, set(bad), timeout=5)
        lab.log.refresh()
        for uuid, how in bad.items():
            ran = len(lab.log.runs_of(uuid))
            if ran:
                res.fail(f"{uuid} ({how}) ran {ran} times")
            res.notes.append(f"{uuid} ({how}): record {_status(lab.client, uuid)}")
            if letters is None:
                continue
            letter = letters.get(uuid)
            if letter is None:
                res.fail(f"{uuid} ({how}) is not among app.dead_letters()")
            elif not getattr(letter, "raw", None) and getattr(letter, "record", None) is None:
                res.fail(f"{uuid} ({how}): its dead letter keeps neither raw text nor record")
        if letters is None:
            res.fail("app.dead_letters() does not exist: undecodable entries are not listed")
        dead = [w.pid for w in workers if not w.alive()]
        if dead:
            res.fail(f"workers {dead} exited")
        errors = sum(w.log().count("failed") for w in workers)
        res.figures["worker_log_failures"] = errors
    res.figures["malformed"] = len(bad)
    return res.conclude(t, len(bad))


def _wait_dead_letters(app: Any, wanted: set[str], timeout: float) -> dict[str, Any] | None:
    """The dead letters by uuid once all `wanted` are listed (or at `timeout`); None when
    the app has no `dead_letters()`."""
    if not hasattr(app, "dead_letters"):
        return None
    deadline = time.monotonic() + timeout
    while True:
        found = {d.uuid: d for d in app.dead_letters()}
        if wanted <= set(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _status(app: Any, uuid: str) -> str:
    try:
        task = app.get(uuid)
    except Exception as exc:
        return f"unreadable: {type(exc).__name__}: {str(exc)[:120]}"
    return "none" if task is None else repr(task.status)
