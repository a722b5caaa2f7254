"""Pure decisions: a finished attempt's final record, retry and backoff, when a task is
due (eta/delay). No I/O."""

from __future__ import annotations

import copy
import dataclasses
import random
import time
import traceback as tb
import uuid as uuid_mod
from datetime import datetime
from typing import Any

from qtasks.core import codec
from qtasks.core.models import TaskRecord, TaskSpec
from qtasks.core.status import CANCEL, ERROR, NEW, PROCESS, RETRY, SUCCESS
from qtasks.exc import ArgumentTypeError, ConfigError, TaskCancelError

#: Longest exception text kept in a log line (characters).
LOG_TEXT_LIMIT = 2_000
#: Longest traceback stored in a record (characters): the head and the tail are kept
#: (where it started, and the exception itself), the middle is cut and says so.
TRACEBACK_LIMIT = 64_000
#: Chained exceptions (`__cause__`/`__context__`) rendered before the rest is cut.
CHAIN_LIMIT = 50


def describe_exception(exc: BaseException) -> str:
    """`repr(exc)` for a log line, or a fallback naming the type when that repr raises:
    `<unprintable MyError: repr failed with ValueError>`; at most `LOG_TEXT_LIMIT`
    characters. Never raises."""
    try:
        text = repr(exc)
    except BaseException as fault:  # a user's __repr__ may raise anything
        return f"<unprintable {_type_name(exc)}: repr failed with {_type_name(fault)}>"
    return _shortened(text, LOG_TEXT_LIMIT)


def _shortened(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n... [{cut} characters cut] ...\n{text[-tail:]}"


def _cut_chain(exc: BaseException) -> int:
    """Keep the first `CHAIN_LIMIT` exceptions of a long chain for rendering (the rest
    would take seconds to format and megabytes to store); how many were cut."""
    current: BaseException | None = exc
    seen: set[int] = set()
    for _ in range(CHAIN_LIMIT):
        if current is None or id(current) in seen:
            return 0
        seen.add(id(current))
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    if current is None:
        return 0
    rest = 0
    after: BaseException | None = current
    while after is not None and id(after) not in seen and rest < 10**6:
        seen.add(id(after))
        rest += 1
        after = after.__cause__ or after.__context__
    current.__cause__ = current.__context__ = None  # the task is over: its chain too
    return rest


def format_exception(exc: BaseException) -> str:
    """The traceback text of `exc` (with its chain), as Python prints it, cut to
    `TRACEBACK_LIMIT` characters and `CHAIN_LIMIT` chained exceptions. Never raises:
    when formatting fails (an exception whose attributes raise when read), the text is
    the frames that can be had and a fallback line naming the type and the fault."""
    try:
        cut = _cut_chain(exc)
        text = "".join(tb.format_exception(type(exc), exc, exc.__traceback__))
        if cut:
            text = f"[{cut} earlier chained exceptions cut]\n{text}"
        return _shortened(text, TRACEBACK_LIMIT)
    except BaseException as fault:
        try:
            frames = "".join(tb.format_tb(exc.__traceback__))
        except BaseException:
            frames = ""
        return (
            f"Traceback (most recent call last):\n{frames}"
            f"{_type_name(exc)}: <unprintable {_type_name(exc)}: formatting the exception "
            f"failed with {_type_name(fault)}>\n"
        )


def drop_frames(exc: BaseException) -> None:
    """Forget the frames (and so the local variables) behind `exc` and its chain once
    its traceback was rendered: a failed task must not keep its locals alive in a worker
    that runs on. Frames still executing are left as they are."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        tb.clear_frames(current.__traceback__)
        current.__traceback__ = None
        todo += (current.__cause__, current.__context__)
        if isinstance(current, BaseExceptionGroup):
            todo += current.exceptions


def _type_name(obj: object) -> str:
    try:
        return type(obj).__qualname__
    except BaseException:
        return "exception"


def _final(record: TaskRecord, status: str, **fields: Any) -> TaskRecord:
    # copy.copy is several times cheaper than dataclasses.replace on this hot path
    final = copy.copy(record)
    final.status = status
    final.updated_at = time.time()
    final.traceback = None
    for name, value in fields.items():
        setattr(final, name, value)
    return final


def success(record: TaskRecord, value: Any) -> TaskRecord:
    return _final(record, SUCCESS, returning=value)


def failure(record: TaskRecord, exc: BaseException, context: str | None = None) -> TaskRecord:
    """The final record of an attempt that raised `exc`: `cancel` for a `TaskCancelError`,
    else `error` with the rendered traceback, after `context` (a line saying where it
    failed) when given. Never raises."""
    if isinstance(exc, TaskCancelError):
        return _final(record, CANCEL, extra=dict(record.extra, cancel_reason=str(exc)))
    text = format_exception(exc)
    return _final(record, ERROR, traceback=f"{context}\n{text}" if context else text)


def cancelled(record: TaskRecord, reason: str) -> TaskRecord:
    """The final record of a task cancelled through `app.cancel()` with `reason`."""
    return _final(record, CANCEL, extra=dict(record.extra, cancel_reason=reason))


def max_deliveries(schema: TaskSpec | None, default: int) -> int:
    """The task's `max_deliveries` option, else the config's `default`."""
    if schema is not None:
        own = schema.extra.get("max_deliveries")
        if own is not None:
            return int(own)
    return default


def dead_letter_reason(record: TaskRecord, limit: int) -> str | None:
    """Why a delivery must not run (it was delivered more than `limit` times without a
    worker reporting back, so it most likely kills its worker), or None."""
    if record.attempts <= limit:
        return None
    return (
        f"delivered {record.attempts} times without its worker reporting back "
        f"(the worker died or lost its lease each time); max_deliveries={limit}"
    )


def dead_lettered(record: TaskRecord, reason: str) -> TaskRecord:
    """The final `error` record of a task taken out of delivery for `reason`."""
    return _final(record, ERROR, traceback=reason, extra=dict(record.extra, dead_letter=reason))


def unstorable(record: TaskRecord, exc: BaseException) -> TaskRecord:
    """An `error` record in place of a final record the backend could not encode
    (`exc`): no result, and only the extra fields that encode."""
    extra = {}
    for key, value in record.extra.items():
        try:
            codec.dumps(value)
        except Exception:
            continue
        extra[key] = value
    text = f"The task's final record could not be stored: {describe_exception(exc)}"
    return _final(record, ERROR, returning=None, traceback=text, extra=extra)


def should_retry(schema: TaskSpec | None, record: TaskRecord, exc: BaseException) -> bool:
    """Whether the task retries after `exc`. Exceptions that are not `Exception`s
    (SystemExit, KeyboardInterrupt, custom BaseException subclasses) retry only when
    `retry_on_exc` names them."""
    if schema is None or not schema.retry or isinstance(exc, TaskCancelError):
        return False
    if not isinstance(exc, Exception) and not schema.retry_on_exc:
        return False
    if schema.retry_on_exc and not (
        isinstance(exc, tuple(schema.retry_on_exc)) or _names_one_of(exc, schema.retry_on_exc)
    ):
        return False
    return retries_left(schema, record) > 0


def _names_one_of(exc: BaseException, kinds: list[type[BaseException]]) -> bool:
    """A stand-in for an exception that could not cross a process boundary as itself
    (it carries the original's `type_name`, `module.QualName`) names one of `kinds`."""
    name = getattr(exc, "type_name", None)
    if not isinstance(name, str):
        return False
    for kind in kinds:
        qualified = kind.__qualname__
        if kind.__module__ != "builtins":
            qualified = f"{kind.__module__}.{qualified}"
        if name == qualified:
            return True
    return False


def retries_left(schema: TaskSpec, record: TaskRecord) -> int:
    left = record.extra.get("retry")
    return int(schema.retry or 0) if left is None else int(left)


def retry_delay(attempt: int, base: float, cap: float, jitter: float) -> float:
    """Exponential backoff: base * 2**attempt, capped, with +/- jitter fraction."""
    if base <= 0:
        return 0.0
    delay = min(cap, base * (2**attempt))
    result: float = max(0.0, delay * (1 + random.uniform(-jitter, jitter)))
    return result


def retry_records(
    schema: TaskSpec, record: TaskRecord, exc: BaseException, delay: float
) -> tuple[TaskRecord, TaskRecord]:
    """The failed attempt (status `retry`) and the next attempt to enqueue."""
    left = retries_left(schema, record)
    now = time.time()
    child_uuid = str(uuid_mod.uuid4())
    child_extra = {k: v for k, v in record.extra.items() if k != "retry_child_uuid"}
    child_extra.update(retry=left - 1, retry_parent_uuid=record.uuid)
    child = dataclasses.replace(
        record,
        uuid=child_uuid,
        status=NEW,
        created_at=now,
        updated_at=now,
        returning=None,
        traceback=None,
        extra=child_extra,
        eta=now + delay if delay > 0 else None,
        attempts=0,
    )
    failed = dataclasses.replace(
        record,
        status=RETRY,
        traceback=format_exception(exc),
        updated_at=now,
        extra=dict(record.extra, retry=left, retry_child_uuid=child_uuid),
    )
    return failed, child


#: What `app.cancel()` does to a task, by its status: a queued task ends now; a running
#: one gets a request its worker acts on (its async code is cancelled at the next await);
#: a settled one is left alone. Every backend follows this table.
CANCEL_NOW = frozenset({NEW})
CANCEL_BY_REQUEST = frozenset({PROCESS})


def cancel_action(status: str) -> str | None:
    """ "cancel" (end it now), "request" (ask its worker) or None (nothing to cancel)."""
    if status in CANCEL_NOW:
        return "cancel"
    if status in CANCEL_BY_REQUEST:
        return "request"
    return None


def eta_from(delay: float | None, eta: Any, now: float | None = None) -> float | None:
    """Epoch seconds to run at, from `delay` seconds or `eta` (datetime or epoch seconds);
    None means now. Raises `ConfigError` (a ValueError) for both or a negative delay, and
    `TypeError` for an eta of another type."""
    if delay is not None and eta is not None:
        raise ConfigError("give delay or eta, not both")
    if delay is not None:
        if delay < 0:
            raise ConfigError("delay must be >= 0 seconds")
        return (time.time() if now is None else now) + float(delay)
    if eta is None:
        return None
    if isinstance(eta, datetime):
        try:
            return eta.timestamp()
        except (ValueError, OverflowError, OSError) as exc:  # datetime.min, say
            raise ConfigError(f"eta {eta!r} has no epoch time ({exc}): use a later one") from None
    if isinstance(eta, (int, float)) and not isinstance(eta, bool):
        return float(eta)
    raise ArgumentTypeError(f"eta must be a datetime or epoch seconds, got {eta!r}")


__all__ = [
    "CANCEL_BY_REQUEST",
    "CANCEL_NOW",
    "cancel_action",
    "cancelled",
    "dead_letter_reason",
    "dead_lettered",
    "describe_exception",
    "drop_frames",
    "eta_from",
    "failure",
    "format_exception",
    "max_deliveries",
    "retries_left",
    "retry_delay",
    "retry_records",
    "should_retry",
    "success",
    "unstorable",
]
