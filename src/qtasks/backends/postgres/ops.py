"""The PostgreSQL backend's operations, each written once as a generator of statements
(`Q`): the driver runs them on a sync or an async connection, or on the user's own
connection inside the user's transaction (`driver.drive_sync/drive_async`), and sends
each statement's rows (or row count) back in.

Every operation takes the `Statements` of its schema (`sql.py`) and the app's namespace
first. Values are encoded before the first statement, so bad input touches nothing.
"""

from __future__ import annotations

import dataclasses
import time
import uuid as uuid_mod
from collections.abc import Generator, Sequence
from typing import Any, TypeVar

from qtasks.backends import rows
from qtasks.backends.base import requeued, undecodable
from qtasks.backends.postgres.sql import Statements
from qtasks.core import codec
from qtasks.core.models import Completion, DeadLetter, Delivery, TaskRecord
from qtasks.core.status import CANCEL, SETTLED_STATUSES
from qtasks.exc import SerializationError

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Q:
    """One statement and its parameters; `prepare` lets the server keep its plan
    (psycopg prepares a statement used a few times on a connection)."""

    sql: str
    params: Any = None
    prepare: bool | None = None


Op = Generator[Q, Any, T]

_SETTLED = sorted(SETTLED_STATUSES)
_FIELDS = rows.NAMES


def _arrays(records: Sequence[TaskRecord]) -> dict[str, list[Any]]:
    """A batch of records as one array per column (`sql._RECORDS`)."""
    encoded = [rows.task_params(r) for r in records]
    return {name: [row[i] for row in encoded] for i, name in enumerate(_FIELDS)}


def _unique(records: Sequence[TaskRecord]) -> list[TaskRecord]:
    """First record of each uuid: one INSERT ... ON CONFLICT may touch a row only once."""
    seen: set[str] = set()
    out = []
    for r in records:
        if r.uuid not in seen:
            seen.add(r.uuid)
            out.append(r)
    return out


# --- client side ---------------------------------------------------------------------------------


def enqueue(s: Statements, ns: str, channel: str, records: Sequence[TaskRecord]) -> Op[None]:
    """Store and queue records, idempotent by uuid (a known, unexpired uuid is left as it
    is); wakes the queues' workers when the transaction commits."""
    if not records:
        return
    if len(records) == 1:
        values = dict(zip(_FIELDS, rows.task_params(records[0]), strict=True))
        yield Q(s.enqueue_one, {"ns": ns, "channel": channel, **values}, prepare=True)
        return
    params = _arrays(_unique(records))
    yield Q(s.enqueue, {"ns": ns, "channel": channel, **params}, prepare=True)


def put(
    s: Statements, ns: str, channel: str, records: Sequence[TaskRecord], ttl: float
) -> Op[None]:
    if not records:
        return
    params = _arrays(_unique(records))
    yield Q(s.put, {"ns": ns, "channel": channel, "ttl": ttl, "settled": _SETTLED, **params})


def get(s: Statements, ns: str, uuid: str) -> Op[TaskRecord | None]:
    """The stored record; `SerializationError` naming the fault for a row that cannot be
    decoded (a fetch dead-letters such a row)."""
    found = yield Q(s.get, (ns, uuid), prepare=True)
    if not found:
        return None
    got = rows.decoded(found[0])
    if isinstance(got, str):
        raise SerializationError(f"The stored task {uuid} cannot be decoded: {got}")
    return got


def cancel(s: Statements, ns: str, uuid: str, reason: str, ttl: float) -> Op[TaskRecord | None]:
    """Run in a transaction: a queued task ends now; a running one gets a request."""
    found = yield Q(s.lock_task, (ns, uuid))
    if not found:
        return None
    record = rows.decoded(found[0][:-1])
    if isinstance(record, str) or record.status in SETTLED_STATUSES:
        return None
    if found[0][-1] not in (0, 3):  # leased (or acknowledged): its worker acts on it
        record.extra["cancel_requested"] = reason
        yield Q(s.set_extra, (codec.dumps(record.extra), ns, uuid))
        return record
    now = time.time()
    record.status = CANCEL
    record.updated_at = now
    record.extra["cancel_reason"] = reason
    extra = codec.dumps(record.extra)
    yield Q(s.cancel_queued, {"now": now, "extra": extra, "ttl": ttl, "ns": ns, "uuid": uuid})
    return record


def cancel_requests(s: Statements, ns: str, uuids: Sequence[str]) -> Op[dict[str, str]]:
    found = yield Q(s.cancel_requests, (ns, list(uuids)), prepare=True)
    out = {}
    for uuid, extra in found:
        reason = codec.loads(extra).get("cancel_requested")
        if reason is not None:
            out[uuid] = str(reason)
    return out


# --- worker side ---------------------------------------------------------------------------------


def fetch(
    s: Statements, ns: str, queue: str, limit: int, lease: float, worker_id: str, ttl: float
) -> Op[tuple[list[Delivery], float | None]]:
    """Lease up to `limit` due tasks: (deliveries, None), or, when none is due, ([],
    seconds until a delayed task is due or a lease ends; None when nothing is pending).
    Rows that cannot be decoded are dead-lettered (`ttl`: their `error` record's time to
    live) and the fetch picks again in their place, so a bad row never blocks its queue.
    A crash between the two statements leaves those rows leased: their lease ends and
    the next fetch buries them."""
    token = f"{worker_id}:{uuid_mod.uuid4().hex[:12]}"
    params = {"ns": ns, "queue": queue, "lease": lease, "token": token}
    out: list[Delivery] = []
    while len(out) < limit:
        want = limit - len(out)
        picked = yield Q(s.fetch, {**params, "n": want}, prepare=True)
        if picked and picked[0][1] is None:  # nothing was due
            if out:
                break
            wait = picked[0][-1]
            return [], None if wait is None else max(0.0, float(wait))
        picked.sort(key=lambda row: (row[4], row[0]))  # priority, then FIFO
        bad = []
        for row in picked:
            got = rows.decoded(row[1:-1])
            if isinstance(got, str):
                bad.append((row[1:-1], got))
            else:
                out.append(Delivery(got, token))
        if bad:
            yield _bury(s, ns, token, bad, ttl)
        if not bad or len(picked) < want:
            break
    return out, None


def _bury(s: Statements, ns: str, token: str, bad: list[tuple[Any, str]], ttl: float) -> Q:
    now = time.time()
    made = []
    for row, fault in bad:
        letter, record = undecodable(
            row[0], row[1], fault, rows.raw(row), now,
            task_name=row[2], priority=row[3], created_at=row[7],
        )  # fmt: skip
        made.append((letter, record))
    return Q(
        s.bury,
        {
            "ns": ns,
            "ttl": ttl,
            "uuid": [letter.uuid for letter, _ in made],
            "token": [token] * len(made),
            "traceback": [record.traceback for _, record in made],
            "extra": [codec.dumps(record.extra) for _, record in made],
            "queue": [letter.queue for letter, _ in made],
            "reason": [letter.reason for letter, _ in made],
            "dead_at": [letter.dead_at for letter, _ in made],
            "raw": [letter.raw for letter, _ in made],
        },
    )


def needs_transaction(completions: Sequence[Completion]) -> bool:
    """Whether `complete` writes more than the final records (one statement)."""
    return any(c.followups or c.dead_letter is not None for c in completions)


def complete(
    s: Statements, ns: str, channels: tuple[str, str], completions: Sequence[Completion], ttl: float
) -> Op[None]:
    """Final records of the deliveries their tokens still hold (fencing: others change
    nothing), then, for those, their follow-ups and dead letters. Run in a transaction
    when `needs_transaction` says so."""
    if not completions:
        return
    queued_channel, results_channel = channels
    records = [c.record for c in completions]
    later = needs_transaction(completions)
    followups = {c.record.uuid: c.followups for c in completions if c.followups}
    now = time.time()
    letters = {
        c.record.uuid: (c.record, c.dead_letter) for c in completions if c.dead_letter is not None
    }
    blobs = {u: rows.record_json(r) for u, (r, _) in letters.items()}
    got = yield Q(
        s.complete,
        {
            "ns": ns,
            "ttl": ttl,
            "channel": results_channel,
            "uuid": [r.uuid for r in records],
            "token": [c.delivery.token for c in completions],
            "status": [r.status for r in records],
            # Only what a completion changes is encoded (not the arguments again).
            "result": [rows.result_json(r) for r in records],
            "traceback": [r.traceback for r in records],
            "extra": [rows.extra_json(r) for r in records],
            "updated_at": [r.updated_at for r in records],
            "attempts": [r.attempts for r in records],
            "eta": [r.eta for r in records],
        },
        prepare=True,
    )
    if not later or not got:
        return
    held = set(got[0][0] or ())
    follow = [f for uuid, fs in followups.items() if uuid in held for f in fs]
    if follow:
        yield from enqueue(s, ns, queued_channel, follow)
    dead = [(u, r, reason) for u, (r, reason) in letters.items() if u in held]
    if dead:
        yield Q(
            s.add_dead,
            {
                "ns": ns,
                "uuid": [u for u, _, _ in dead],
                "queue": [r.queue for _, r, _ in dead],
                "reason": [reason for _, _, reason in dead],
                "dead_at": [now] * len(dead),
                "record": [blobs[u] for u, _, _ in dead],
                "raw": [None] * len(dead),
            },
        )


def _held(ns: str, deliveries: Sequence[Delivery]) -> dict[str, Any]:
    return {
        "ns": ns,
        "uuid": [d.record.uuid for d in deliveries],
        "token": [d.token for d in deliveries],
    }


def ack(s: Statements, ns: str, deliveries: Sequence[Delivery]) -> Op[None]:
    if deliveries:
        yield Q(s.ack, _held(ns, deliveries), prepare=True)


def extend(s: Statements, ns: str, deliveries: Sequence[Delivery], lease: float) -> Op[None]:
    if deliveries:
        yield Q(s.extend, {**_held(ns, deliveries), "lease": lease}, prepare=True)


def release(
    s: Statements, ns: str, channel: str, deliveries: Sequence[Delivery], delay: float = 0.0
) -> Op[None]:
    """Give back the deliveries their tokens still hold, undoing their delivery count;
    due again now, or after `delay` seconds."""
    by_queue: dict[str, list[Delivery]] = {}
    for d in deliveries:
        by_queue.setdefault(d.record.queue, []).append(d)
    for queue, some in by_queue.items():
        params = {**_held(ns, some), "delay": float(delay), "channel": channel, "queue": queue}
        yield Q(s.release, params)


# --- upkeep and administration ---------------------------------------------------------------

#: Expired records deleted per statement, and how long one upkeep call goes on.
EXPIRE_BATCH = 5000
UPKEEP_BUDGET = 0.5


def maintain(s: Statements, ns: str, dead_ttl: float | None) -> Op[int]:
    """Delete expired records (every namespace of the schema, a batch at a time, for up
    to `UPKEEP_BUDGET` seconds), expired worker registrations, and the dead letters of
    `ns` older than `dead_ttl` seconds. Returns how many records were deleted."""
    deadline = time.monotonic() + UPKEEP_BUDGET
    yield Q(s.expire_workers)
    if dead_ttl is not None:
        yield Q(s.expire_dead, (ns, time.time() - dead_ttl))
    total = 0
    while True:
        count = int((yield Q(s.expire, (EXPIRE_BATCH,))))
        total += count
        if count < EXPIRE_BATCH or time.monotonic() > deadline:
            return total


def purge(s: Statements, ns: str) -> Op[None]:
    for statement in s.purge:
        yield Q(statement, (ns,))


def stats(s: Statements, ns: str, queue: str) -> Op[dict[str, int]]:
    found = yield Q(s.stats, {"ns": ns, "queue": queue})
    queued, leased = found[0]
    return {"queued": int(queued), "leased": int(leased)}


def register_worker(
    s: Statements, ns: str, worker_id: str, info: dict[str, Any], ttl: float
) -> Op[None]:
    yield Q(s.register_worker, (ns, worker_id, codec.dumps(info), ttl))


def unregister_worker(s: Statements, ns: str, worker_id: str) -> Op[None]:
    yield Q(s.unregister_worker, (ns, worker_id))


def live_workers(s: Statements, ns: str) -> Op[list[dict[str, Any]]]:
    found = yield Q(s.live_workers, (ns,))
    return [dict(codec.loads(info), worker_id=wid) for wid, info in found]


# --- dead letters ------------------------------------------------------------------------------


def _letter(row: Sequence[Any]) -> DeadLetter:
    uuid, queue, reason, dead_at, blob, raw = row
    record = None
    if blob is not None:
        try:
            record = rows.record_from_json(blob)
        except (ValueError, TypeError):  # written by something else: show it as it is
            raw = raw or bytes(blob).decode(errors="replace")
    return DeadLetter(uuid, queue, reason, dead_at, record=record, raw=raw)


def dead_letters(s: Statements, ns: str, limit: int, offset: int) -> Op[list[DeadLetter]]:
    found = yield Q(s.dead_letters, (ns, limit, offset))
    return [_letter(row) for row in found]


def requeue_dead_letters(
    s: Statements, ns: str, channel: str, uuids: Sequence[str] | None
) -> Op[int]:
    """Run in a transaction: queue again the dead letters that have a record, unless
    their task is queued or running again already. Returns how many were queued."""
    wanted = None if uuids is None else list(dict.fromkeys(uuids))
    taken = yield Q(s.take_dead, (ns, wanted, wanted))
    now = time.time()
    again = []
    for row in taken:
        letter = _letter(row)
        if letter.record is None:
            continue
        live = yield Q(s.live_status, (ns, letter.uuid))
        if live and live[0][0] not in SETTLED_STATUSES:
            continue  # queued or running again already
        again.append(requeued(letter.record, now))
    if again:
        yield Q(s.queue_again, {"ns": ns, **_arrays(again)})
        for queue in {r.queue for r in again}:
            yield Q(s.notify, (channel, queue))
    return len(again)


def purge_dead_letters(s: Statements, ns: str, uuids: Sequence[str] | None) -> Op[int]:
    wanted = None if uuids is None else list(dict.fromkeys(uuids))
    count = yield Q(s.purge_dead, (ns, wanted, wanted))
    return int(count)


__all__ = [
    "EXPIRE_BATCH",
    "UPKEEP_BUDGET",
    "Op",
    "Q",
    "ack",
    "cancel",
    "cancel_requests",
    "complete",
    "dead_letters",
    "enqueue",
    "extend",
    "fetch",
    "get",
    "live_workers",
    "maintain",
    "needs_transaction",
    "purge",
    "purge_dead_letters",
    "put",
    "register_worker",
    "release",
    "requeue_dead_letters",
    "stats",
    "unregister_worker",
]
