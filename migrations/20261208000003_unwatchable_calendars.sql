-- Calendars Google will not watch (holiday, birthday and other read-only calendars answer
-- 400 pushNotSupportedForRequestedResource): polling alone covers them, and no sync asks
-- Google again (design §13).
CREATE TABLE IF NOT EXISTS jobs.unwatchable_calendars (
    ws_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    calendar_id text NOT NULL,
    reason text NOT NULL,
    marked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ws_id, calendar_id)
);
