-- Where a Google listing stopped when an invocation ran out of time: the next delivery goes on
-- from this page instead of starting over. Written in the same transaction as the page it
-- follows, and removed in the transaction that writes the last page.
CREATE TABLE IF NOT EXISTS jobs.sync_checkpoints (
    ws_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    -- The sync-token key of the connection, `google:<auth_token_id>:<calendarId>`.
    sync_key text NOT NULL,
    -- calendar-sync or calendar-full-sync: they list different windows.
    task text NOT NULL,
    -- The listing the page token belongs to: a sync token, or a time window.
    sync_token text,
    time_min timestamptz,
    time_max timestamptz,
    page_token text NOT NULL,
    pages_done integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ws_id, sync_key, task),
    CONSTRAINT sync_checkpoints_listing_check
        CHECK (sync_token IS NOT NULL OR (time_min IS NOT NULL AND time_max IS NOT NULL))
);
