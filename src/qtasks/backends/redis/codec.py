"""How the Redis backend stores a task, and the arguments its scripts take.

A task is one string `t:{uuid}`: a JSON header, a newline, a JSON body. The header is
[status, attempts, updated_at, queue, member, token, cancel_reason(, waited)] and is
what the scripts read and rewrite (updated_at is text, so Lua's cjson never rounds it);
the body is written by Python only. Strings let a batch be read and written with one
MGET/MSET, which keeps Redis commands per task at one or two.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import orjson

from qtasks.core import codec as serialization
from qtasks.core.models import DeadLetter, TaskRecord
from qtasks.core.status import CANCEL, NEW
from qtasks.exc import BackendError, SerializationError

_dumps = serialization.dumps
# Headers hold only str, int, float and None, and records are read back from what we
# wrote: orjson without the wrappers' error naming.
_head_dumps = orjson.dumps
_loads = orjson.loads


def body(r: TaskRecord) -> bytes:
    """The part of a stored task only Python writes (JSON; never holds a raw newline)."""
    try:
        return _dumps(
            [r.task_name, r.priority, r.args, r.kwargs, r.created_at, r.returning, r.traceback,
             r.extra, r.eta],
            what="task record",
        )  # fmt: skip
    except SerializationError:  # name the part that failed
        for what, value in (
            ("task args", r.args),
            ("task kwargs", r.kwargs),
            ("task result", r.returning),
            ("task extra fields", r.extra),
        ):
            _dumps(value, what=what)
        raise


def final_value(r: TaskRecord) -> bytes:
    """A task as stored outside any queue (finished, or `put`): no member, no lease token."""
    head = _head_dumps([r.status, r.attempts, repr(r.updated_at), r.queue, "", "", None])
    return head + b"\n" + body(r)


_PRIORITY: dict[int, str] = {}


def priority_prefix(priority: int) -> str:
    """Fixed-width hex of the priority shifted to unsigned, so byte order = numeric order."""
    prefix = _PRIORITY.get(priority)
    if prefix is None:
        prefix = format(min(max(int(priority) + 2**63, 0), 2**64 - 1), "016x")
        if len(_PRIORITY) < 256:
            _PRIORITY[priority] = prefix
    return prefix


_last_seq = 0


def member(r: TaskRecord) -> str:
    """A ready entry's member: priority, then a sequence, then the uuid.

    The sequence is this process's clock in nanoseconds, made strictly increasing:
    first in, first out within a priority for each producer, and across producers up
    to their clocks' skew (no shared counter to increment on the server). A priority
    prefix whose 17th character is "0" marks the 12-digit sequence of older versions.
    """
    global _last_seq
    seq = time.time_ns()
    if seq <= _last_seq:  # a coarse or stepped-back clock; racing threads may tie (no harm)
        seq = _last_seq + 1
    _last_seq = seq
    return f"{priority_prefix(r.priority)}{seq:016x}{r.uuid}"


def new_value(r: TaskRecord, m: str) -> bytes:
    """A queued task as stored."""
    head = _head_dumps([NEW, r.attempts, repr(r.updated_at), r.queue, m, "", None])
    return head + b"\n" + body(r)


def enqueue_one_args(r: TaskRecord) -> tuple[Any, ...]:
    """ENQUEUE_ONE's arguments for a ready record (eta None)."""
    m = member(r)
    return (r.uuid, r.queue, m, new_value(r, m), r.task_name, repr(r.created_at))


def enqueue_args(records: Sequence[TaskRecord]) -> list[Any]:
    out: list[Any] = [len(records)]
    for r in records:
        m = member(r)
        eta = "" if r.eta is None else r.eta
        out += (r.uuid, r.queue, m, eta, new_value(r, m), r.task_name, repr(r.created_at))
    return out


class Undecodable(BackendError):
    """A stored task that cannot be decoded; `reason` says what is wrong with it."""

    def __init__(self, uuid: str, reason: str) -> None:
        super().__init__(
            f"Stored task {uuid} cannot be decoded ({reason}); a worker that fetches it "
            "dead-letters it with its raw text"
        )
        self.reason = reason


def parse(uuid: str, raw: bytes | None) -> TaskRecord | None:
    return None if raw is None else record(uuid, raw)


def record(uuid: str | bytes, raw: bytes) -> TaskRecord:
    """The record stored as `raw`; `Undecodable` when it is not in the stored format."""
    if isinstance(uuid, bytes):
        uuid = uuid.decode()
    try:
        i = raw.index(b"\n")
        head = _loads(raw[:i])
        status, attempts, updated, queue, reason = head[0], head[1], head[2], head[3], head[6]
        updated = float(updated)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise Undecodable(uuid, f"header is not a task header: {exc}") from None
    try:
        body = _loads(raw[i + 1 :])
    except ValueError as exc:
        raise Undecodable(uuid, f"body is not JSON: {exc}") from None
    try:
        name, priority, args, kwargs, created, returning, tb, extra, eta = body
    except (ValueError, TypeError):
        raise Undecodable(uuid, "body is not a task body (a list of 9)") from None
    if not (
        type(name) is str and type(args) is list and type(kwargs) is dict and type(extra) is dict
    ):
        raise Undecodable(uuid, "body is not a task body (name, args, kwargs or extra)")
    if reason is not None:  # set by cancel: the reason, or a request to a running task
        extra["cancel_reason" if status == CANCEL else "cancel_requested"] = reason
    return TaskRecord(
        uuid, name, priority, args, kwargs, status, created, updated, returning, tb, extra, eta,
        attempts, queue,
    )  # fmt: skip


def dead_letter(uuid: bytes, entry: bytes, stored: bytes | None) -> DeadLetter:
    """A dead letter from its entry (`_dead.lua`) and its task's stored value. The raw
    text of an entry that could not be decoded is decoded with `surrogateescape`:
    `raw.encode("utf-8", "surrogateescape")` gives back the stored bytes."""
    i = entry.find(b"\n")
    queue, reason, dead_at = _loads(entry if i < 0 else entry[:i])
    raw = None if i < 0 else entry[i + 1 :].decode("utf-8", "surrogateescape")
    id_ = uuid.decode()
    rec = None
    if raw is None and stored:
        try:
            rec = record(id_, stored)
        except Undecodable:  # replaced since by something unreadable: listed without it
            rec = None
    return DeadLetter(id_, queue, reason, float(dead_at), rec, raw)


def requeued(r: TaskRecord, updated: float) -> TaskRecord:
    """A dead letter's record queued again: status `new`, no delivery counted, no result
    or traceback, the `dead_letter` extra removed."""
    extra = {k: v for k, v in r.extra.items() if k not in ("dead_letter", "cancel_requested")}
    return dataclasses.replace(
        r, status=NEW, attempts=0, updated_at=updated, returning=None, traceback=None, extra=extra
    )


__all__ = [
    "Undecodable", "body", "dead_letter", "enqueue_args", "enqueue_one_args", "final_value",
    "member", "new_value", "parse", "priority_prefix", "record", "requeued",
]  # fmt: skip
