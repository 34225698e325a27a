-- Google push-notification channels (design §13): one live channel per watched calendar, two
-- while a renewal overlaps. The channel's secret token is never stored, only its SHA-256, so a
-- reader of this table cannot forge notifications.
CREATE TABLE IF NOT EXISTS jobs.watch_channels (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ws_id uuid NOT NULL,
    auth_token_id uuid NOT NULL,
    calendar_id text NOT NULL,
    channel_id text NOT NULL CONSTRAINT watch_channels_channel_id_key UNIQUE,
    -- NULL while Google is being asked to open the channel: its first notification can
    -- arrive before that call returns.
    resource_id text,
    token_hash bytea NOT NULL CONSTRAINT watch_channels_token_hash_check CHECK (octet_length(token_hash) = 32),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    stopped_at timestamptz
);
-- Renewal finds the live channels that expire soon; opening and stopping find a calendar's.
CREATE INDEX IF NOT EXISTS watch_channels_live_expires_at_idx
    ON jobs.watch_channels (expires_at) WHERE stopped_at IS NULL;
CREATE INDEX IF NOT EXISTS watch_channels_live_calendar_idx
    ON jobs.watch_channels (ws_id, calendar_id) WHERE stopped_at IS NULL;
