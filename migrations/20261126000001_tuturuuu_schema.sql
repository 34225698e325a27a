-- The subset of Tuturuuu's `public` (and `private`) schema that the background jobs read and
-- write, with Tuturuuu's own table, column, constraint and index names, so the same code runs
-- against the real Supabase database.
--
-- On Tuturuuu's own database (where `public.workspaces` already exists) this migration does
-- nothing at all: it never adds indexes or replaces functions in the production schema. On any
-- other database it creates the mirror; every statement is idempotent (`IF NOT EXISTS`).

DO $mirror$
BEGIN
IF to_regclass('public.workspaces') IS NOT NULL THEN
    RAISE NOTICE 'Tuturuuu schema present: the local mirror is not created';
    RETURN;
END IF;

CREATE SCHEMA IF NOT EXISTS private;

-- Enumerated types (CREATE TYPE has no IF NOT EXISTS).
    IF to_regtype('public.calendar_provider') IS NULL THEN
        CREATE TYPE public.calendar_provider AS ENUM ('tuturuuu', 'google', 'microsoft');
    END IF;
    IF to_regtype('public.calendar_scheduling_source') IS NULL THEN
        CREATE TYPE public.calendar_scheduling_source AS ENUM ('manual', 'task', 'habit');
    END IF;
    IF to_regtype('public.calendar_hours') IS NULL THEN
        CREATE TYPE public.calendar_hours AS ENUM ('work_hours', 'personal_hours', 'meeting_hours');
    END IF;
    IF to_regtype('public.calendar_hour_type') IS NULL THEN
        CREATE TYPE public.calendar_hour_type AS ENUM ('WORK', 'PERSONAL', 'MEETING');
    END IF;
    IF to_regtype('public.task_priority') IS NULL THEN
        CREATE TYPE public.task_priority AS ENUM ('low', 'normal', 'high', 'critical');
    END IF;
    IF to_regtype('public.habit_frequency') IS NULL THEN
        CREATE TYPE public.habit_frequency AS ENUM ('daily', 'weekly', 'monthly', 'yearly', 'custom');
    END IF;
    IF to_regtype('public.task_board_status') IS NULL THEN
        CREATE TYPE public.task_board_status AS ENUM ('not_started', 'active', 'review', 'done', 'closed');
    END IF;

-- Users, as far as foreign keys need them (Supabase's table references auth.users).
CREATE TABLE IF NOT EXISTS public.users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    display_name text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.workspaces (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text,
    creator_id uuid REFERENCES public.users (id) ON DELETE SET NULL,
    personal boolean NOT NULL DEFAULT false,
    timezone text DEFAULT 'auto',
    deleted boolean DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.calendar_event_colors (
    value text PRIMARY KEY
);
INSERT INTO public.calendar_event_colors (value)
VALUES ('RED'), ('BLUE'), ('GREEN'), ('YELLOW'), ('ORANGE'), ('PURPLE'), ('PINK'), ('INDIGO'), ('CYAN'), ('GRAY')
ON CONFLICT (value) DO NOTHING;

CREATE TABLE IF NOT EXISTS private.workspace_calendars (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ws_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    name text NOT NULL,
    color text,
    calendar_type text NOT NULL DEFAULT 'custom'
        CONSTRAINT workspace_calendars_calendar_type_check
        CHECK (calendar_type IN ('primary', 'tasks', 'habits', 'custom')),
    is_system boolean NOT NULL DEFAULT false,
    is_enabled boolean NOT NULL DEFAULT true,
    position integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS workspace_calendars_system_type_key
    ON private.workspace_calendars (ws_id, calendar_type)
    WHERE calendar_type IN ('primary', 'tasks', 'habits');

-- §8.2
CREATE TABLE IF NOT EXISTS public.calendar_auth_tokens (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
    ws_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    access_token text NOT NULL,
    refresh_token text NOT NULL,
    created_at timestamp DEFAULT now(),
    provider text NOT NULL DEFAULT 'google'
        CONSTRAINT calendar_auth_tokens_provider_check CHECK (provider IN ('google', 'microsoft')),
    account_email text,
    account_name text,
    expires_at timestamptz,
    is_active boolean NOT NULL DEFAULT true
);
CREATE UNIQUE INDEX IF NOT EXISTS calendar_auth_tokens_user_ws_provider_email_key
    ON public.calendar_auth_tokens (user_id, ws_id, provider, account_email)
    WHERE account_email IS NOT NULL;
CREATE INDEX IF NOT EXISTS calendar_auth_tokens_ws_id_idx ON public.calendar_auth_tokens (ws_id);

-- §8.3
CREATE TABLE IF NOT EXISTS public.calendar_connections (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ws_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    calendar_id text NOT NULL,
    calendar_name text NOT NULL,
    is_enabled boolean NOT NULL DEFAULT true,
    color text,
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now(),
    auth_token_id uuid REFERENCES public.calendar_auth_tokens (id) ON DELETE SET NULL,
    provider text NOT NULL DEFAULT 'google'
        CONSTRAINT calendar_connections_provider_check CHECK (provider IN ('google', 'microsoft')),
    workspace_calendar_id uuid REFERENCES private.workspace_calendars (id) ON DELETE SET NULL,
    access_role text DEFAULT 'writer',
    sync_inbound_enabled boolean NOT NULL DEFAULT true,
    sync_outbound_enabled boolean NOT NULL DEFAULT false,
    sync_delete_enabled boolean NOT NULL DEFAULT true
);
CREATE UNIQUE INDEX IF NOT EXISTS calendar_connections_ws_provider_token_calendar_key
    ON public.calendar_connections (ws_id, provider, auth_token_id, calendar_id)
    WHERE auth_token_id IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS calendar_connections_ws_provider_calendar_legacy_key
    ON public.calendar_connections (ws_id, provider, calendar_id)
    WHERE auth_token_id IS NULL;

-- §8.4: one sync token per (workspace, token key).
CREATE TABLE IF NOT EXISTS public.calendar_sync_states (
    ws_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    calendar_id text NOT NULL DEFAULT 'primary',
    sync_token text,
    last_synced_at timestamptz DEFAULT now(),
    PRIMARY KEY (ws_id, calendar_id)
);
CREATE INDEX IF NOT EXISTS calendar_sync_states_ws_id_idx ON public.calendar_sync_states (ws_id);
CREATE INDEX IF NOT EXISTS calendar_sync_states_calendar_id_idx ON public.calendar_sync_states (calendar_id);

-- §8.5
CREATE TABLE IF NOT EXISTS public.workspace_calendar_sync_coordination (
    ws_id uuid PRIMARY KEY REFERENCES public.workspaces (id) ON DELETE CASCADE,
    last_upsert timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

-- §8.1
CREATE TABLE IF NOT EXISTS public.workspace_calendar_events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ws_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    title text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL,
    color text REFERENCES public.calendar_event_colors (value),
    location text,
    locked boolean NOT NULL DEFAULT false,
    created_at timestamptz DEFAULT now(),
    task_id uuid,
    google_event_id text,
    google_calendar_id text,
    provider public.calendar_provider DEFAULT 'tuturuuu',
    external_calendar_id text,
    external_event_id text,
    source_calendar_id uuid REFERENCES private.workspace_calendars (id) ON DELETE SET NULL,
    scheduling_source public.calendar_scheduling_source DEFAULT 'manual',
    scheduling_metadata jsonb,
    is_encrypted boolean NOT NULL DEFAULT false,
    external_updated_at timestamptz,
    last_synced_at timestamptz,
    sync_status text NOT NULL DEFAULT 'local_only'
        CONSTRAINT workspace_calendar_events_sync_status_check
        CHECK (sync_status IN ('idle', 'syncing', 'synced', 'failed', 'conflict', 'local_only')),
    sync_error text,
    CONSTRAINT calendar_events_title_length_check CHECK (char_length(title) <= 255),
    CONSTRAINT calendar_events_title_bytes_check CHECK (octet_length(title) <= 1020),
    CONSTRAINT calendar_events_description_length_check CHECK (char_length(description) <= 10000),
    CONSTRAINT calendar_events_description_bytes_check CHECK (octet_length(description) <= 40000),
    CONSTRAINT workspace_calendar_events_provider_external_key
        UNIQUE (ws_id, provider, external_calendar_id, external_event_id)
);
CREATE INDEX IF NOT EXISTS workspace_calendar_events_provider_idx
    ON public.workspace_calendar_events (ws_id, provider);
CREATE INDEX IF NOT EXISTS workspace_calendar_events_scheduling_source_idx
    ON public.workspace_calendar_events (ws_id, scheduling_source);
CREATE INDEX IF NOT EXISTS workspace_calendar_events_source_calendar_id_idx
    ON public.workspace_calendar_events (source_calendar_id);
CREATE INDEX IF NOT EXISTS workspace_calendar_events_google_calendar_id_idx
    ON public.workspace_calendar_events (google_calendar_id);
CREATE INDEX IF NOT EXISTS workspace_calendar_events_ws_google_calendar_id_idx
    ON public.workspace_calendar_events (ws_id, google_calendar_id);
CREATE INDEX IF NOT EXISTS workspace_calendar_events_sync_status_idx
    ON public.workspace_calendar_events (ws_id, sync_status);
CREATE INDEX IF NOT EXISTS workspace_calendar_events_last_synced_at_idx
    ON public.workspace_calendar_events (ws_id, last_synced_at);
-- Not in Tuturuuu: the schedulers read a workspace's events by time.
CREATE INDEX IF NOT EXISTS workspace_calendar_events_ws_end_at_idx
    ON public.workspace_calendar_events (ws_id, end_at);

-- §8.6: the web app reads these rows for sync status.
CREATE TABLE IF NOT EXISTS public.calendar_sync_dashboard (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    ws_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    triggered_by uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
    start_time timestamptz,
    end_time timestamptz,
    type text CONSTRAINT calendar_sync_dashboard_type_check CHECK (type IN ('active', 'manual', 'background')),
    source text,
    status text CONSTRAINT calendar_sync_dashboard_status_check CHECK (status IN ('completed', 'failed', 'running')),
    inserted_events integer DEFAULT 0,
    updated_events integer DEFAULT 0,
    deleted_events integer DEFAULT 0,
    timing_google_api_fetch_ms integer,
    timing_token_operations_ms integer,
    timing_event_processing_ms integer,
    timing_database_writes_ms integer,
    timing_total_ms integer,
    google_api_calls_count integer,
    google_api_pages_fetched integer,
    google_api_retry_count integer,
    google_api_error_code text,
    events_fetched_total integer,
    events_filtered_out integer,
    batch_count integer,
    payload_size_bytes bigint,
    error_message text,
    error_type text,
    error_stack_trace text,
    failed_event_ids jsonb,
    calendar_ids_synced text[],
    calendar_connection_count integer,
    was_blocked_by_cooldown boolean,
    cooldown_remaining_seconds integer,
    sync_token_used boolean,
    date_range_start timestamptz,
    date_range_end timestamptz,
    triggered_from text
);
CREATE INDEX IF NOT EXISTS calendar_sync_dashboard_ws_id_idx ON public.calendar_sync_dashboard (ws_id);
CREATE INDEX IF NOT EXISTS calendar_sync_dashboard_status_idx ON public.calendar_sync_dashboard (status);
CREATE INDEX IF NOT EXISTS calendar_sync_dashboard_triggered_by_idx ON public.calendar_sync_dashboard (triggered_by);
CREATE INDEX IF NOT EXISTS calendar_sync_dashboard_error_type_idx
    ON public.calendar_sync_dashboard (error_type) WHERE error_type IS NOT NULL;
CREATE INDEX IF NOT EXISTS calendar_sync_dashboard_triggered_from_idx ON public.calendar_sync_dashboard (triggered_from);
CREATE INDEX IF NOT EXISTS calendar_sync_dashboard_timing_total_ms_idx ON public.calendar_sync_dashboard (timing_total_ms);
CREATE INDEX IF NOT EXISTS calendar_sync_dashboard_ws_start_time_idx
    ON public.calendar_sync_dashboard (ws_id, start_time DESC);

-- §8.8: tasks and what they need to belong to a workspace.
CREATE TABLE IF NOT EXISTS public.workspace_boards (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ws_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    name text,
    created_at timestamptz DEFAULT now(),
    deleted_at timestamptz
);

CREATE TABLE IF NOT EXISTS public.task_lists (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    board_id uuid NOT NULL REFERENCES public.workspace_boards (id) ON DELETE CASCADE,
    name text,
    status public.task_board_status DEFAULT 'not_started',
    deleted boolean DEFAULT false,
    created_at timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.tasks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    description text,
    list_id uuid REFERENCES public.task_lists (id) ON DELETE CASCADE,
    board_id uuid REFERENCES public.workspace_boards (id) ON DELETE CASCADE,
    creator_id uuid REFERENCES public.users (id) ON DELETE SET NULL,
    priority public.task_priority,
    start_date timestamptz,
    end_date timestamptz,
    completed boolean DEFAULT false,
    completed_at timestamptz,
    closed_at timestamptz,
    deleted_at timestamptz,
    created_at timestamptz DEFAULT now(),
    estimation_points smallint,
    sort_key bigint,
    display_number integer
);
CREATE INDEX IF NOT EXISTS tasks_list_id_idx ON public.tasks (list_id);

CREATE TABLE IF NOT EXISTS public.task_user_scheduling_settings (
    task_id uuid NOT NULL REFERENCES public.tasks (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
    total_duration real,
    is_splittable boolean NOT NULL DEFAULT false,
    min_split_duration_minutes real,
    max_split_duration_minutes real,
    calendar_hours public.calendar_hours,
    auto_schedule boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, user_id)
);

CREATE TABLE IF NOT EXISTS public.task_calendar_events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id uuid NOT NULL REFERENCES public.tasks (id) ON DELETE CASCADE,
    event_id uuid NOT NULL REFERENCES public.workspace_calendar_events (id) ON DELETE CASCADE,
    scheduled_minutes integer NOT NULL DEFAULT 0,
    completed boolean NOT NULL DEFAULT false,
    scheduling_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT task_calendar_events_task_id_event_id_key UNIQUE (task_id, event_id)
);
CREATE INDEX IF NOT EXISTS task_calendar_events_task_id_idx ON public.task_calendar_events (task_id);
CREATE INDEX IF NOT EXISTS task_calendar_events_event_id_idx ON public.task_calendar_events (event_id);

CREATE TABLE IF NOT EXISTS public.workspace_habits (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ws_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    creator_id uuid REFERENCES public.users (id) ON DELETE SET NULL,
    name text NOT NULL,
    description text,
    color text DEFAULT 'BLUE',
    calendar_hours public.calendar_hours DEFAULT 'personal_hours',
    priority public.task_priority DEFAULT 'normal',
    duration_minutes integer NOT NULL DEFAULT 30,
    min_duration_minutes integer,
    max_duration_minutes integer,
    ideal_time time,
    time_preference text
        CONSTRAINT workspace_habits_time_preference_check
        CHECK (time_preference IN ('morning', 'afternoon', 'evening', 'night')),
    frequency public.habit_frequency NOT NULL DEFAULT 'daily',
    recurrence_interval integer DEFAULT 1,
    days_of_week integer[],
    monthly_type text
        CONSTRAINT workspace_habits_monthly_type_check CHECK (monthly_type IN ('day_of_month', 'day_of_week')),
    day_of_month integer,
    week_of_month integer CONSTRAINT workspace_habits_week_of_month_check CHECK (week_of_month BETWEEN 1 AND 5),
    day_of_week_monthly integer
        CONSTRAINT workspace_habits_day_of_week_monthly_check CHECK (day_of_week_monthly BETWEEN 0 AND 6),
    start_date date NOT NULL DEFAULT current_date,
    end_date date,
    is_active boolean DEFAULT true,
    auto_schedule boolean DEFAULT true,
    is_visible_in_calendar boolean DEFAULT true,
    is_splittable boolean NOT NULL DEFAULT false,
    min_instances_per_day integer CONSTRAINT workspace_habits_min_instances_per_day_check CHECK (min_instances_per_day >= 1),
    ideal_instances_per_day integer
        CONSTRAINT workspace_habits_ideal_instances_per_day_check CHECK (ideal_instances_per_day >= 1),
    max_instances_per_day integer CONSTRAINT workspace_habits_max_instances_per_day_check CHECK (max_instances_per_day >= 1),
    dependency_habit_id uuid REFERENCES public.workspace_habits (id) ON DELETE SET NULL,
    dependency_type text
        CONSTRAINT workspace_habits_dependency_type_check CHECK (dependency_type IN ('after', 'before')),
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT workspace_habits_instances_order_check CHECK (
        (min_instances_per_day IS NULL OR ideal_instances_per_day IS NULL OR min_instances_per_day <= ideal_instances_per_day)
        AND (ideal_instances_per_day IS NULL OR max_instances_per_day IS NULL OR ideal_instances_per_day <= max_instances_per_day)
        AND (min_instances_per_day IS NULL OR max_instances_per_day IS NULL OR min_instances_per_day <= max_instances_per_day)
    ),
    CONSTRAINT workspace_habits_dependency_pair_check
        CHECK ((dependency_habit_id IS NULL) = (dependency_type IS NULL)),
    CONSTRAINT workspace_habits_dependency_not_self_check
        CHECK (dependency_habit_id IS NULL OR dependency_habit_id <> id)
);
CREATE INDEX IF NOT EXISTS workspace_habits_ws_auto_schedule_idx
    ON public.workspace_habits (ws_id, auto_schedule)
    WHERE is_active AND deleted_at IS NULL;

CREATE TABLE IF NOT EXISTS public.habit_calendar_events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    habit_id uuid NOT NULL REFERENCES public.workspace_habits (id) ON DELETE CASCADE,
    event_id uuid NOT NULL REFERENCES public.workspace_calendar_events (id) ON DELETE CASCADE,
    occurrence_date date NOT NULL,
    completed boolean DEFAULT false,
    scheduling_reason text,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now(),
    CONSTRAINT habit_calendar_events_habit_id_event_id_key UNIQUE (habit_id, event_id)
);
CREATE INDEX IF NOT EXISTS habit_calendar_events_habit_id_idx ON public.habit_calendar_events (habit_id);
CREATE INDEX IF NOT EXISTS habit_calendar_events_event_id_idx ON public.habit_calendar_events (event_id);
CREATE INDEX IF NOT EXISTS habit_calendar_events_habit_occurrence_idx
    ON public.habit_calendar_events (habit_id, occurrence_date);

CREATE TABLE IF NOT EXISTS public.habit_skipped_occurrences (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ws_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    habit_id uuid NOT NULL REFERENCES public.workspace_habits (id) ON DELETE CASCADE,
    occurrence_date date NOT NULL,
    created_by uuid REFERENCES public.users (id) ON DELETE SET NULL,
    source_event_id uuid REFERENCES public.workspace_calendar_events (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CONSTRAINT habit_skipped_occurrences_ws_habit_date_key UNIQUE (ws_id, habit_id, occurrence_date)
);
CREATE INDEX IF NOT EXISTS habit_skipped_occurrences_active_idx
    ON public.habit_skipped_occurrences (habit_id, occurrence_date)
    WHERE revoked_at IS NULL;

CREATE TABLE IF NOT EXISTS public.workspace_calendar_hour_settings (
    ws_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    type public.calendar_hour_type NOT NULL,
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ws_id, type)
);

CREATE TABLE IF NOT EXISTS private.workspace_scheduling_metadata (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ws_id uuid NOT NULL UNIQUE REFERENCES public.workspaces (id) ON DELETE CASCADE,
    last_scheduled_at timestamptz,
    last_status text,
    last_message text,
    habits_scheduled integer DEFAULT 0,
    tasks_scheduled integer DEFAULT 0,
    events_created integer DEFAULT 0,
    bumped_habits integer DEFAULT 0,
    window_days integer DEFAULT 30,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION private.upsert_scheduling_metadata(
    p_ws_id uuid,
    p_status text,
    p_message text,
    p_habits_scheduled integer,
    p_tasks_scheduled integer,
    p_events_created integer,
    p_bumped_habits integer,
    p_window_days integer
) RETURNS void
LANGUAGE sql
AS $fn$
    INSERT INTO private.workspace_scheduling_metadata AS m (
        ws_id, last_scheduled_at, last_status, last_message, habits_scheduled,
        tasks_scheduled, events_created, bumped_habits, window_days
    )
    VALUES (
        p_ws_id, now(), p_status, p_message, p_habits_scheduled,
        p_tasks_scheduled, p_events_created, p_bumped_habits, p_window_days
    )
    ON CONFLICT (ws_id) DO UPDATE SET
        last_scheduled_at = now(),
        last_status = excluded.last_status,
        last_message = excluded.last_message,
        habits_scheduled = excluded.habits_scheduled,
        tasks_scheduled = excluded.tasks_scheduled,
        events_created = excluded.events_created,
        bumped_habits = excluded.bumped_habits,
        window_days = excluded.window_days,
        updated_at = now();
$fn$;

CREATE TABLE IF NOT EXISTS public.workspace_encryption_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ws_id uuid NOT NULL UNIQUE REFERENCES public.workspaces (id) ON DELETE CASCADE,
    encrypted_key text NOT NULL,
    key_version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
END
$mirror$;
