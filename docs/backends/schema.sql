-- qtasks PostgreSQL schema, version 3
CREATE SCHEMA IF NOT EXISTS qtasks;
CREATE TABLE IF NOT EXISTS qtasks.schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());

-- migration 1
CREATE TABLE IF NOT EXISTS qtasks.tasks (
    ns text NOT NULL,
    uuid text NOT NULL,
    queue text NOT NULL,
    task_name text NOT NULL,
    priority bigint NOT NULL,
    status text NOT NULL,
    args bytea NOT NULL,
    kwargs bytea NOT NULL,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    result bytea,
    traceback text,
    extra bytea,
    eta double precision,
    attempts integer NOT NULL DEFAULT 0,
    expires_at double precision,
    state smallint NOT NULL,
    seq bigserial NOT NULL,
    due double precision NOT NULL DEFAULT 0,
    lease_until double precision,
    token text,
    PRIMARY KEY (uuid, ns)
);
CREATE INDEX IF NOT EXISTS tasks_ready ON qtasks.tasks (ns, queue, priority, seq)
    WHERE state = 0;
CREATE INDEX IF NOT EXISTS tasks_leased ON qtasks.tasks (ns, queue, lease_until)
    WHERE state = 1;
CREATE INDEX IF NOT EXISTS tasks_delayed ON qtasks.tasks (ns, queue, due)
    WHERE state = 3;
CREATE INDEX IF NOT EXISTS tasks_expiry ON qtasks.tasks (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS qtasks.dead_letters (
    ns text NOT NULL,
    uuid text NOT NULL,
    queue text NOT NULL,
    reason text NOT NULL,
    dead_at double precision NOT NULL,
    record bytea,
    raw text,
    PRIMARY KEY (ns, uuid)
);
CREATE INDEX IF NOT EXISTS dead_letters_order ON qtasks.dead_letters (ns, dead_at);
CREATE TABLE IF NOT EXISTS qtasks.workers (
    ns text NOT NULL,
    worker_id text NOT NULL,
    info bytea NOT NULL,
    expires_at double precision NOT NULL,
    PRIMARY KEY (ns, worker_id)
);
INSERT INTO qtasks.schema_version (version) VALUES (1) ON CONFLICT DO NOTHING;

-- migration 2
CREATE TABLE IF NOT EXISTS qtasks.leases (
    ns text NOT NULL,
    name text NOT NULL,
    holder text NOT NULL,
    expires_at double precision NOT NULL,
    PRIMARY KEY (ns, name)
);
CREATE TABLE IF NOT EXISTS qtasks.documents (
    ns text NOT NULL,
    collection text NOT NULL,
    key text NOT NULL,
    document bytea NOT NULL,
    PRIMARY KEY (ns, collection, key)
);
INSERT INTO qtasks.schema_version (version) VALUES (2) ON CONFLICT DO NOTHING;

-- migration 3
CREATE INDEX IF NOT EXISTS tasks_by_status ON qtasks.tasks (status, ns, created_at, uuid);
CREATE INDEX IF NOT EXISTS tasks_by_name ON qtasks.tasks (task_name, ns, created_at, uuid);
CREATE TABLE IF NOT EXISTS qtasks.paused (
    ns text NOT NULL,
    queue text NOT NULL,
    PRIMARY KEY (ns, queue)
);
INSERT INTO qtasks.schema_version (version) VALUES (3) ON CONFLICT DO NOTHING;
