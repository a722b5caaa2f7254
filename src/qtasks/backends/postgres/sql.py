"""The PostgreSQL backend's statements, written once per schema name (`Statements`).

One row per task in `tasks`: the record's columns (`qtasks.backends.rows`) plus where
it stands in delivery: `state` (0 ready, 1 leased, 2 out of the queue, 3 delayed),
`seq` (FIFO order), `due` (epoch seconds it may run from), `lease_until` and `token`
(the holder's fencing token). Each hot statement is one round trip and uses a partial
index of its own (docs/backends/postgres.md shows their plans):

```
  enqueue   INSERT ... SELECT FROM unnest(arrays) ON CONFLICT   + NOTIFY of the queue
  fetch     3 index probes FOR UPDATE SKIP LOCKED (ready, due, lease expired) -> UPDATE
  complete  UPDATE ... FROM unnest(arrays) WHERE token matches   + NOTIFY of the uuids
  extend    UPDATE lease_until ... WHERE token matches
```

Times are the database's clock (`NOW`), so workers on machines whose clocks differ
agree on when a lease ends and a delayed task is due.
"""

from __future__ import annotations

from functools import lru_cache

from qtasks.backends.rows import COLUMNS

NOW = "extract(epoch from statement_timestamp())"

# Arrays of a batch of records, in COLUMNS order, as a table `x`. Arrays go in binary
# (`%(...)b`): psycopg's text format quotes every element, several times slower.
_RECORDS = (
    "unnest(%(uuid)b::text[], %(queue)b::text[], %(task_name)b::text[], %(priority)b::bigint[],"
    " %(status)b::text[], %(args)b::bytea[], %(kwargs)b::bytea[], %(created_at)b::float8[],"
    " %(updated_at)b::float8[], %(result)b::bytea[], %(traceback)b::text[], %(extra)b::bytea[],"
    " %(eta)b::float8[], %(attempts)b::integer[]) AS x(" + COLUMNS + ")"
)
_SET_RECORD = ", ".join(f"{c}=excluded.{c}" for c in COLUMNS.replace(" ", "").split(",")[1:])
# Statements that join a batch's arrays (`unnest`) to the table also say
# `t.uuid = ANY(<the uuids>)`: with uuid leading the primary key, these are probes of
# those uuids whatever join order the planner picks from its statistics (stale ones, with
# the namespace leading, made it walk a whole namespace).

# The fetch's row of NULLs (seq and the record's columns) when it leased nothing.
_NULLS = ", ".join(["NULL::bigint"] + ["NULL"] * len(COLUMNS.split(",")))
# A NOTIFY payload is at most 8000 bytes: a longer list of uuids wakes every waiter ("*").
_UUID_PAYLOAD = "CASE WHEN sum(length(uuid) + 1) > 7900 THEN '*' ELSE string_agg(uuid, ',') END"


class Statements:
    """Every statement, with the schema's name in it."""

    def __init__(self, s: str) -> None:
        self.schema = s
        t = f"{s}.tasks"
        self.enqueue = (
            f"WITH ins AS (INSERT INTO {t} AS t (ns, {COLUMNS}, state, due)"
            f" SELECT %(ns)s, x.*, CASE WHEN coalesce(x.eta, 0) > {NOW} THEN 3 ELSE 0 END,"
            f" coalesce(x.eta, 0) FROM {_RECORDS}"
            f" ON CONFLICT (ns, uuid) DO UPDATE SET {_SET_RECORD}, state=excluded.state,"
            f" due=excluded.due, seq=nextval('{s}.tasks_seq_seq'), lease_until=NULL,"
            " token=NULL, expires_at=NULL"
            f" WHERE t.expires_at IS NOT NULL AND t.expires_at <= {NOW} RETURNING t.queue)"
            " SELECT pg_notify(%(channel)s, q) FROM (SELECT DISTINCT queue AS q FROM ins) d"
        )
        # One record: plain values (cheaper to send than fourteen one-element arrays).
        values = ", ".join(f"%({c.strip()})s" for c in COLUMNS.split(","))
        self.enqueue_one = (
            f"WITH ins AS (INSERT INTO {t} AS t (ns, {COLUMNS}, state, due)"
            f" VALUES (%(ns)s, {values}, CASE WHEN coalesce(%(eta)s::float8, 0) > {NOW}"
            " THEN 3 ELSE 0 END, coalesce(%(eta)s::float8, 0))"
            f" ON CONFLICT (ns, uuid) DO UPDATE SET {_SET_RECORD}, state=excluded.state,"
            f" due=excluded.due, seq=nextval('{s}.tasks_seq_seq'), lease_until=NULL,"
            " token=NULL, expires_at=NULL"
            f" WHERE t.expires_at IS NOT NULL AND t.expires_at <= {NOW} RETURNING t.queue)"
            " SELECT pg_notify(%(channel)s, queue) FROM ins"
        )
        # Store (insert or replace) records without queueing them.
        self.put = (
            f"WITH up AS (INSERT INTO {t} AS t (ns, {COLUMNS}, state, expires_at)"
            f" SELECT %(ns)s, x.*, 2, CASE WHEN x.status = ANY(%(settled)b::text[])"
            f" THEN {NOW} + %(ttl)s END FROM {_RECORDS}"
            f" ON CONFLICT (ns, uuid) DO UPDATE SET {_SET_RECORD},"
            " expires_at=excluded.expires_at RETURNING t.uuid)"
            f" SELECT pg_notify(%(channel)s, {_UUID_PAYLOAD}) FROM up HAVING count(*) > 0"
        )
        self.get = (
            f"SELECT {COLUMNS} FROM {t} WHERE ns=%s AND uuid=%s"
            f" AND (expires_at IS NULL OR expires_at > {NOW})"
        )
        pick = (
            f"SELECT ctid AS row_at, priority, seq FROM {t}"
            " WHERE ns=%(ns)s AND queue=%(queue)s AND "
        )
        # Seconds until a delayed task is due or a lease ends (None: nothing pending).
        next_due = (
            f"least((SELECT min(due) FROM {t} WHERE ns=%(ns)s AND queue=%(queue)s"
            f" AND state=3), (SELECT min(lease_until) FROM {t} WHERE ns=%(ns)s"
            f" AND queue=%(queue)s AND state=1)) - {NOW}"
        )
        self.fetch = (
            f"WITH ready AS ({pick}state=0 ORDER BY priority, seq"
            " LIMIT %(n)s FOR UPDATE SKIP LOCKED),"
            f" due AS ({pick}state=3 AND due <= {NOW} ORDER BY due"
            " LIMIT %(n)s FOR UPDATE SKIP LOCKED),"
            f" expired AS ({pick}state=1 AND lease_until < {NOW} ORDER BY lease_until"
            " LIMIT %(n)s FOR UPDATE SKIP LOCKED),"
            " picked AS (SELECT row_at FROM (SELECT * FROM ready UNION ALL SELECT * FROM due"
            " UNION ALL SELECT * FROM expired) c ORDER BY priority, seq LIMIT %(n)s),"
            f" upd AS (UPDATE {t} t SET state=1, status='process', lease_until={NOW} + %(lease)s,"
            f" token=%(token)s, attempts=t.attempts + 1, updated_at={NOW}"
            # By the row addresses the probes locked (they cannot move while locked):
            # a plan that no statistics can turn into a walk over the namespace.
            " WHERE t.ctid = ANY(ARRAY(SELECT row_at FROM picked))"
            f" RETURNING t.seq, {', '.join('t.' + c.strip() for c in COLUMNS.split(','))})"
            # Nothing leased: one row of NULLs whose last column is `next_due`, so an
            # idle worker learns how long it may sleep in the same round trip.
            f" SELECT upd.*, NULL::float8 FROM upd UNION ALL SELECT {_NULLS}, ({next_due})"
            " WHERE NOT EXISTS (SELECT 1 FROM upd)"
        )
        # Final records of deliveries their tokens still hold; the held uuids come back.
        self.complete = (
            f"WITH done AS (UPDATE {t} t SET status=x.status, result=x.result,"
            " traceback=x.traceback, extra=x.extra, updated_at=x.updated_at,"
            " attempts=x.attempts, eta=x.eta, state=2, lease_until=NULL, token=NULL,"
            f" expires_at={NOW} + %(ttl)s"
            " FROM unnest(%(uuid)b::text[], %(token)b::text[], %(status)b::text[],"
            " %(result)b::bytea[], %(traceback)b::text[], %(extra)b::bytea[],"
            " %(updated_at)b::float8[], %(attempts)b::integer[], %(eta)b::float8[])"
            " AS x(uuid, token, status, result, traceback, extra, updated_at, attempts, eta)"
            " WHERE t.ns=%(ns)s AND t.uuid = ANY(%(uuid)b::text[]) AND t.uuid=x.uuid"
            " AND t.token=x.token RETURNING t.uuid)"
            f" SELECT array_agg(uuid), pg_notify(%(channel)s, {_UUID_PAYLOAD})"
            " FROM done HAVING count(*) > 0"
        )
        held = (
            " FROM unnest(%(uuid)b::text[], %(token)b::text[]) AS x(uuid, token)"
            " WHERE t.ns=%(ns)s AND t.uuid = ANY(%(uuid)b::text[]) AND t.uuid=x.uuid"
            " AND t.token=x.token"
        )
        self.ack = f"UPDATE {t} t SET state=2, lease_until=NULL, token=NULL" + held
        # A heartbeat never waits for a row lock: a row another statement holds (the
        # worker's own completion, mostly) is skipped, as that statement settles it or
        # the next heartbeat renews it. Waiting could deadlock against a completion
        # that locks the same rows in another order.
        self.extend = (
            f"UPDATE {t} SET lease_until={NOW} + %(lease)s WHERE ctid = ANY(ARRAY("
            f"SELECT t.ctid FROM {t} t,"
            + held.removeprefix(" FROM")
            + " FOR UPDATE OF t SKIP LOCKED))"
        )
        # Give back (release, nack): ready now, or delayed by %(delay)s seconds.
        self.release = (
            f"WITH back AS (UPDATE {t} t SET state=CASE WHEN %(delay)s > 0 THEN 3 ELSE 0 END,"
            f" due={NOW} + %(delay)s, lease_until=NULL, token=NULL, status='new',"
            f" updated_at={NOW}, attempts=greatest(t.attempts - 1, 0)" + held + " RETURNING 1)"
            " SELECT pg_notify(%(channel)s, %(queue)s) FROM back HAVING count(*) > 0"
        )
        # Take rows that could not be decoded out of delivery, keeping them as dead
        # letters (fenced by token: another worker may hold them by now).
        self.bury = (
            f"WITH bad AS (UPDATE {t} t SET state=2, status='error', lease_until=NULL,"
            f" token=NULL, expires_at={NOW} + %(ttl)s, updated_at={NOW},"
            " traceback=x.traceback, extra=x.extra, args='[]', kwargs='{}', result=NULL"
            " FROM unnest(%(uuid)b::text[], %(token)b::text[], %(traceback)b::text[],"
            " %(extra)b::bytea[]) AS x(uuid, token, traceback, extra)"
            " WHERE t.ns=%(ns)s AND t.uuid = ANY(%(uuid)b::text[]) AND t.uuid=x.uuid"
            " AND t.token=x.token RETURNING t.uuid)"
            f" INSERT INTO {s}.dead_letters AS d (ns, uuid, queue, reason, dead_at, record, raw)"
            " SELECT %(ns)s, y.uuid, y.queue, y.reason, y.dead_at, NULL, y.raw"
            " FROM unnest(%(uuid)b::text[], %(queue)b::text[], %(reason)b::text[],"
            " %(dead_at)b::float8[], %(raw)b::text[]) AS y(uuid, queue, reason, dead_at, raw)"
            " WHERE y.uuid IN (SELECT uuid FROM bad)"
            " ON CONFLICT (ns, uuid) DO UPDATE SET queue=excluded.queue, reason=excluded.reason,"
            " dead_at=excluded.dead_at, record=excluded.record, raw=excluded.raw"
        )
        self.add_dead = (
            f"INSERT INTO {s}.dead_letters AS d (ns, uuid, queue, reason, dead_at, record, raw)"
            " SELECT %(ns)s, * FROM unnest(%(uuid)b::text[], %(queue)b::text[],"
            " %(reason)b::text[], %(dead_at)b::float8[], %(record)b::bytea[], %(raw)b::text[])"
            " ON CONFLICT (ns, uuid) DO UPDATE SET queue=excluded.queue, reason=excluded.reason,"
            " dead_at=excluded.dead_at, record=excluded.record, raw=excluded.raw"
        )
        self.lock_task = (
            f"SELECT {COLUMNS}, state FROM {t} WHERE ns=%s AND uuid=%s"
            f" AND (expires_at IS NULL OR expires_at > {NOW}) FOR UPDATE"
        )
        self.cancel_queued = (
            f"UPDATE {t} SET state=2, status='cancel', updated_at=%(now)s, extra=%(extra)s,"
            f" expires_at={NOW} + %(ttl)s, lease_until=NULL, token=NULL"
            " WHERE ns=%(ns)s AND uuid=%(uuid)s"
        )
        self.set_extra = f"UPDATE {t} SET extra=%s WHERE ns=%s AND uuid=%s"
        self.cancel_requests = (
            f"SELECT uuid, extra FROM {t} WHERE ns=%s AND uuid = ANY(%b::text[])"
            " AND extra IS NOT NULL"
        )
        # Queue a record again whatever is stored under its uuid (a dead letter's requeue).
        self.queue_again = (
            f"INSERT INTO {t} AS t (ns, {COLUMNS}, state, due)"
            f" SELECT %(ns)s, x.*, 0, 0 FROM {_RECORDS}"
            f" ON CONFLICT (ns, uuid) DO UPDATE SET {_SET_RECORD}, state=0, due=0,"
            f" seq=nextval('{s}.tasks_seq_seq'), lease_until=NULL, token=NULL, expires_at=NULL"
        )
        self.notify = "SELECT pg_notify(%s, %s)"
        self.live_status = (
            f"SELECT status FROM {t} WHERE ns=%s AND uuid=%s"
            f" AND (expires_at IS NULL OR expires_at > {NOW})"
        )
        letter = "uuid, queue, reason, dead_at, record, raw"
        self.dead_letters = (
            f"SELECT {letter} FROM {s}.dead_letters WHERE ns=%s"
            " ORDER BY dead_at DESC, uuid LIMIT %s OFFSET %s"
        )
        self.take_dead = (
            f"DELETE FROM {s}.dead_letters WHERE ns=%s AND (%b::text[] IS NULL"
            f" OR uuid = ANY(%b::text[])) AND record IS NOT NULL RETURNING {letter}"
        )
        self.purge_dead = (
            f"DELETE FROM {s}.dead_letters WHERE ns=%s AND (%b::text[] IS NULL"
            " OR uuid = ANY(%b::text[]))"
        )
        self.expire_dead = f"DELETE FROM {s}.dead_letters WHERE ns=%s AND dead_at < %s"
        # Expired records, a batch at a time; rows another session holds are left for later.
        self.expire = (
            f"DELETE FROM {t} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {t}"
            f" WHERE expires_at < {NOW} LIMIT %s FOR UPDATE SKIP LOCKED))"
        )
        self.expire_workers = f"DELETE FROM {s}.workers WHERE expires_at < {NOW}"
        self.purge = [
            f"DELETE FROM {s}.{table} WHERE ns=%s"
            for table in ("tasks", "dead_letters", "workers", "paused")
        ]
        # One count per partial index (index-only scans), not a pass over the queue.
        count = f"(SELECT count(*) FROM {t} WHERE ns=%(ns)s AND queue=%(queue)s AND "
        self.stats = (
            f"SELECT {count}state=0) + {count}state=3) + {count}state=1"
            f" AND lease_until < {NOW}), {count}state=1 AND lease_until >= {NOW})"
        )
        self.register_worker = (
            f"INSERT INTO {s}.workers (ns, worker_id, info, expires_at)"
            f" VALUES (%s, %s, %s, {NOW} + %s) ON CONFLICT (ns, worker_id)"
            " DO UPDATE SET info=excluded.info, expires_at=excluded.expires_at"
        )
        self.unregister_worker = f"DELETE FROM {s}.workers WHERE ns=%s AND worker_id=%s"
        self.live_workers = (
            f"SELECT worker_id, info FROM {s}.workers WHERE ns=%s AND expires_at > {NOW}"
        )
        # Coordination: a lease is taken when free, expired or already the holder's, in
        # one statement (a racing insert waits on the row and re-checks the condition).
        self.acquire_lease = (
            f"INSERT INTO {s}.leases AS l (ns, name, holder, expires_at)"
            f" VALUES (%s, %s, %s, {NOW} + %s) ON CONFLICT (ns, name)"
            " DO UPDATE SET holder=excluded.holder, expires_at=excluded.expires_at"
            f" WHERE l.holder=excluded.holder OR l.expires_at <= {NOW} RETURNING {NOW}"
        )
        self.release_lease = f"DELETE FROM {s}.leases WHERE ns=%s AND name=%s AND holder=%s"
        self.lease_holder = (
            f"SELECT holder FROM {s}.leases WHERE ns=%s AND name=%s AND expires_at > {NOW}"
        )
        self.put_document = (
            f"INSERT INTO {s}.documents (ns, collection, key, document) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (ns, collection, key) DO UPDATE SET document=excluded.document"
        )
        self.get_document = (
            f"SELECT document FROM {s}.documents WHERE ns=%s AND collection=%s AND key=%s"
        )
        self.list_documents = (
            f"SELECT key, document FROM {s}.documents WHERE ns=%s AND collection=%s"
        )
        self.delete_document = f"DELETE FROM {s}.documents WHERE ns=%s AND collection=%s AND key=%s"


@lru_cache(maxsize=64)
def statements(schema: str) -> Statements:
    return Statements(schema)


__all__ = ["NOW", "Statements", "statements"]
