-- Calendar connections that need the user's attention: Google answered that the calendar is
-- gone or no longer shared (404, 403 forbidden / insufficientPermissions). The syncs skip such
-- a connection until it is changed in the web app (its updated_at moves past marked_at),
-- instead of failing on every poll (design §6). `jobs connections` lists them. No foreign key
-- to Tuturuuu's table: the jobs schema only ever references `public.workspaces`; a row of a
-- deleted connection is never read (the syncs and `jobs connections` join the connection).
CREATE TABLE IF NOT EXISTS jobs.connection_attention (
    connection_id uuid PRIMARY KEY,
    ws_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    calendar_id text NOT NULL,
    -- Google's status and reason, e.g. `404 notFound`.
    reason text NOT NULL,
    marked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS connection_attention_ws_id_idx ON jobs.connection_attention (ws_id);
