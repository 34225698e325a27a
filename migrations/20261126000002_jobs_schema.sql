-- Objects this project owns: the run ledger and the per-workspace leases.
CREATE SCHEMA IF NOT EXISTS jobs;

-- One row per attempt at one SQS record. It is the dashboard, the history, and what the
-- idempotency check reads.
CREATE TABLE IF NOT EXISTS jobs.runs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task text NOT NULL,
    ws_id uuid,
    message_id text NOT NULL,
    deduplication_id text,
    message_group_id text,
    attempt integer NOT NULL DEFAULT 1 CONSTRAINT runs_attempt_check CHECK (attempt >= 1),
    status text NOT NULL DEFAULT 'running'
        CONSTRAINT runs_status_check CHECK (status IN ('running', 'succeeded', 'failed', 'dead', 'skipped')),
    result jsonb,
    error text,
    error_kind text CONSTRAINT runs_error_kind_check CHECK (error_kind IN ('retryable', 'permanent')),
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CONSTRAINT runs_finished_check CHECK ((status = 'running') = (finished_at IS NULL))
);
-- At most one success per (task, deduplication id): two concurrent deliveries of one message
-- cannot both be recorded as done, and the idempotency lookup is an index probe.
CREATE UNIQUE INDEX IF NOT EXISTS runs_task_deduplication_succeeded_key
    ON jobs.runs (task, deduplication_id)
    WHERE status = 'succeeded';
CREATE INDEX IF NOT EXISTS runs_task_started_at_idx ON jobs.runs (task, started_at DESC);
CREATE INDEX IF NOT EXISTS runs_ws_id_started_at_idx ON jobs.runs (ws_id, started_at DESC);
CREATE INDEX IF NOT EXISTS runs_running_idx ON jobs.runs (started_at) WHERE status = 'running';

-- Atomic, expiring per-(scope, workspace) leases. A lease past `expires_at` is free to take,
-- so a worker that died never blocks a workspace for longer than its lease.
CREATE TABLE IF NOT EXISTS jobs.leases (
    scope text NOT NULL,
    ws_id uuid NOT NULL,
    holder uuid NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (scope, ws_id)
);
