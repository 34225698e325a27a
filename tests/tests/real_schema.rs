//! The jobs on the faithful mirror of Tuturuuu's real schema (design §5.1): every job kind
//! reads workspaces that use every label of every enum column it reads, and every text column
//! the jobs write takes the longest legal value and refuses, or is kept from, one past it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use shared::db::Db;
use std::time::Duration;

use chrono::{DateTime, Duration as Span, Utc};
use google_sync::sync::connection::SyncKind;
use google_sync::sync::report::{Failure, WorkspaceReport};
use google_sync::sync::{dashboard, state};
use integration_tests::fake_google::{FakeGoogle, timed_event};
use integration_tests::sync_support::{connect_google, offline_syncer};
use integration_tests::{encrypt_workspace, test_now, workspace};
use serde_json::json;
use shared::config::Secret;
use shared::encryption::MasterKey;
use shared::error::ErrorKind;
use shared::job_kind::JobKind;
use shared::limits::{self, TRUNCATED};
use sqlx::PgPool;
use uuid::Uuid;

const TIME_PREFERENCES: [&str; 4] = ["morning", "afternoon", "evening", "night"];
const CALENDAR_HOURS: [&str; 3] = ["work_hours", "personal_hours", "meeting_hours"];
const PRIORITIES: [&str; 4] = ["low", "normal", "high", "critical"];
const FREQUENCIES: [&str; 5] = ["daily", "weekly", "monthly", "yearly", "custom"];
const BOARD_STATUSES: [&str; 6] = [
    "not_started",
    "active",
    "review",
    "done",
    "closed",
    "documents",
];

async fn creator(pool: &Db, ws: Uuid) -> Uuid {
    sqlx::query_scalar("SELECT creator_id FROM public.workspaces WHERE id = $1")
        .bind(ws)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Events of every provider and scheduling source, in the past and the next days.
async fn events_of_every_kind(pool: &Db, ws: Uuid, now: DateTime<Utc>) {
    sqlx::query(
        "INSERT INTO public.workspace_calendar_events
             (ws_id, title, start_at, end_at, locked, provider, scheduling_source,
              external_calendar_id, external_event_id)
         SELECT $1, 'Event ' || p || ' ' || s, $2 + (n * interval '5 hours'),
                $2 + (n * interval '5 hours') + interval '30 minutes', n % 2 = 0,
                p, s, CASE WHEN p <> 'tuturuuu' THEN 'primary' END, 'x' || n
         FROM unnest(enum_range(NULL::calendar_provider)) WITH ORDINALITY AS a(p, i),
              unnest(enum_range(NULL::calendar_scheduling_source)) WITH ORDINALITY AS b(s, j),
              LATERAL (SELECT (i * 3 + j - 6)::int AS n) k",
    )
    .bind(ws)
    .bind(now)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn unified_schedule_reads_every_label_of_every_enum_it_reads(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let now = test_now();
    let ws = workspace(&pool, Some("Europe/Berlin")).await;
    let user = creator(&pool, ws).await;
    events_of_every_kind(&pool, ws, now).await;
    for kind in ["WORK", "PERSONAL", "MEETING"] {
        sqlx::query(
            "INSERT INTO public.workspace_calendar_hour_settings (ws_id, type, data)
             VALUES ($1, $2::calendar_hour_type, $3)",
        )
        .bind(ws)
        .bind(kind)
        .bind(json!({ "monday": { "enabled": true, "timeBlocks": [{ "startTime": "08:00", "endTime": "20:00" }] } }))
        .execute(&pool)
        .await
        .unwrap();
    }
    let mut habits = 0;
    for (i, frequency) in FREQUENCIES.iter().enumerate() {
        for (j, preference) in TIME_PREFERENCES.iter().enumerate() {
            let monthly = ["day_of_month", "day_of_week"][j % 2];
            sqlx::query(
                "INSERT INTO public.workspace_habits
                     (ws_id, name, frequency, time_preference, monthly_type, calendar_hours,
                      priority, day_of_month, week_of_month, day_of_week_monthly, start_date)
                 VALUES ($1, $2, $3::habit_frequency, $4::time_of_day_preference,
                         $5::monthly_recurrence_type, $6::calendar_hours, $7::task_priority,
                         7, 2, 1, '2026-01-01')",
            )
            .bind(ws)
            .bind(format!("{frequency} {preference}"))
            .bind(frequency)
            .bind(preference)
            .bind(monthly)
            .bind(CALENDAR_HOURS[(i + j) % 3])
            .bind(PRIORITIES[(i + j) % 4])
            .execute(&pool)
            .await
            .unwrap();
            habits += 1;
        }
    }
    let board: Uuid = sqlx::query_scalar(
        "INSERT INTO public.workspace_boards (ws_id, name) VALUES ($1, 'Board') RETURNING id",
    )
    .bind(ws)
    .fetch_one(&pool)
    .await
    .unwrap();
    let mut open_tasks = 0;
    for (i, status) in BOARD_STATUSES.iter().enumerate() {
        let list: Uuid = sqlx::query_scalar(
            "INSERT INTO public.task_lists (board_id, name, status)
             VALUES ($1, $2, $2::task_board_status) RETURNING id",
        )
        .bind(board)
        .bind(status)
        .fetch_one(&pool)
        .await
        .unwrap();
        for (j, priority) in PRIORITIES.iter().enumerate() {
            let task: Uuid = sqlx::query_scalar(
                "INSERT INTO public.tasks (name, list_id, board_id, priority)
                 VALUES ($1, $2, $3, $4::task_priority) RETURNING id",
            )
            .bind(format!("Task {status} {priority}"))
            .bind(list)
            .bind(board)
            .bind(priority)
            .fetch_one(&pool)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO public.task_user_scheduling_settings
                     (task_id, user_id, total_duration, calendar_hours, auto_schedule)
                 VALUES ($1, $2, 0.5, $3::calendar_hours, true)",
            )
            .bind(task)
            .bind(user)
            .bind(CALENDAR_HOURS[(i + j) % 3])
            .execute(&pool)
            .await
            .unwrap();
            open_tasks += 1;
        }
    }
    // Every row is read and every label decoded (not defaulted).
    let mut conn = pool.begin().await.unwrap();
    let inputs = unified_schedule::inputs::load(&mut conn, ws, Some(user), 14, now)
        .await
        .unwrap();
    conn.commit().await.unwrap();
    assert_eq!(inputs.habits.len(), habits, "every habit was read");
    assert!(inputs.habits.iter().all(|h| h.time_preference.is_some()));
    let monthly: Vec<_> = inputs
        .habits
        .iter()
        .filter_map(|h| h.recurrence.monthly_type)
        .collect();
    assert_eq!(monthly.len(), habits, "monthly_type decoded on every habit");
    assert_eq!(inputs.tasks.len(), open_tasks, "every task was read");
    let applied = unified_schedule::schedule_workspace(&pool, None, ws, Some(user), 14, now)
        .await
        .unwrap();
    assert_eq!(applied.tasks, open_tasks, "every task was scheduled");
    let placed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM public.habit_calendar_events h
         JOIN public.workspace_habits w ON w.id = h.habit_id WHERE w.ws_id = $1",
    )
    .bind(ws)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(placed > 0, "habits were placed and linked");
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn schedule_task_and_the_syncs_read_events_of_every_provider_and_source(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let now = test_now();
    let ws = workspace(&pool, Some("UTC")).await;
    events_of_every_kind(&pool, ws, now).await;
    let summary = schedule_task::store::reschedule(&pool, ws, now)
        .await
        .unwrap();
    // Unlocked future events of every provider and source: 9 kinds, the odd-numbered unlocked.
    assert!(summary.events_considered > 0, "{summary:?}");

    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("enums");
    fake.put_event("enums", "primary", timed_event("g1", "Synced", now, 30));
    connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let syncer = offline_syncer(&pool, &fake, None).await;
    for kind in [SyncKind::Incremental, SyncKind::Full] {
        let report = syncer
            .sync_workspace(kind, ws, None, None, now)
            .await
            .unwrap();
        assert!(report.failures.is_empty(), "{:?}", report.failures);
    }
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM public.workspace_calendar_events WHERE ws_id = $1 AND external_event_id = 'g1'",
    )
    .bind(ws)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(stored, 1);
}

/// An event whose title, description and location are `n` characters past their limits, and
/// whose id is `id`.
fn long_event(id: &str, past: usize, start: DateTime<Utc>) -> serde_json::Value {
    let mut event = timed_event(id, &"t".repeat(255 + past), start, 30);
    event["description"] = "d".repeat(10_000 + past).into();
    event["location"] = "l".repeat(1_000 + past).into();
    event
}

type Texts = (String, String, String, String);

async fn texts(pool: &Db, ws: Uuid) -> Vec<Texts> {
    sqlx::query_as(
        "SELECT external_event_id, title, description, coalesce(location, '')
         FROM public.workspace_calendar_events WHERE ws_id = $1 ORDER BY external_event_id",
    )
    .bind(ws)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn synced_text_and_ids_stay_within_the_real_limits_on_every_write_path(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let now = test_now();
    let ws = workspace(&pool, Some("UTC")).await;
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("limits");
    let longest_id = "a".repeat(1_000);
    let id_past = "b".repeat(1_001);
    fake.put_event("limits", "primary", long_event(&longest_id, 0, now));
    fake.put_event("limits", "primary", long_event("c-past", 1, now));
    fake.put_event("limits", "primary", long_event(&id_past, 0, now));
    connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let syncer = offline_syncer(&pool, &fake, None).await;

    // The first sync copies straight into the table; the second merges changed rows; the full
    // sync re-lists everything.
    for (round, kind) in [SyncKind::Incremental, SyncKind::Incremental, SyncKind::Full]
        .into_iter()
        .enumerate()
    {
        if round == 1 {
            // Changed in Google: listed again by the incremental sync, and merged.
            let later = now + Span::hours(1);
            fake.put_event("limits", "primary", long_event(&longest_id, 1, later));
            fake.put_event("limits", "primary", long_event(&id_past, 1, later));
        }
        let report = syncer
            .sync_workspace(kind, ws, None, None, now)
            .await
            .unwrap();
        assert!(
            report.failures.is_empty(),
            "round {round}: {:?}",
            report.failures
        );
        assert_eq!(
            report.unreadable_reasons.get("id too long"),
            Some(&1),
            "round {round}"
        );
        assert!(
            report.unreadable_ids.contains(&id_past),
            "named in the run's result"
        );
        let rows = texts(&pool, ws).await;
        assert_eq!(
            rows.len(),
            2,
            "round {round}: the long id is skipped, the others stored"
        );
        for (id, title, description, location) in rows {
            assert_eq!(title.chars().count(), 255, "{round} {id}");
            assert_eq!(description.chars().count(), 10_000);
            assert_eq!(location.chars().count(), 1_000);
        }
    }
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn encrypted_text_is_cut_so_its_ciphertext_fits(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let now = test_now();
    let ws = workspace(&pool, Some("UTC")).await;
    let master = MasterKey::derive(&Secret::new("master")).unwrap();
    let key = encrypt_workspace(&pool, ws, &master).await;
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("sealed");
    fake.put_event("sealed", "primary", long_event("e1", 500, now));
    connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let report = offline_syncer(&pool, &fake, Some("master"))
        .await
        .sync_workspace(SyncKind::Incremental, ws, None, None, now)
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let (_, title, description, location) = texts(&pool, ws).await.remove(0);
    assert!(limits::EVENT_TITLE.fits(&title));
    assert!(limits::EVENT_DESCRIPTION.fits(&description));
    assert!(limits::EVENT_LOCATION.fits(&location));
    assert_eq!(key.decrypt(&title).unwrap(), "t".repeat(161));

    // The scheduler's titles too: a habit named with the 128 characters habits allow.
    sqlx::query(
        "INSERT INTO public.workspace_habits (ws_id, name, start_date) VALUES ($1, $2, '2026-01-01')",
    )
    .bind(ws)
    .bind("h".repeat(128))
    .execute(&pool)
    .await
    .unwrap();
    unified_schedule::schedule_workspace(&pool, Some(&master), ws, None, 7, now)
        .await
        .unwrap();
    let titles: Vec<String> = sqlx::query_scalar(
        "SELECT e.title FROM public.workspace_calendar_events e
         JOIN public.habit_calendar_events h ON h.event_id = e.id WHERE e.ws_id = $1",
    )
    .bind(ws)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(!titles.is_empty());
    for title in titles {
        assert!(limits::EVENT_TITLE.fits(&title));
        assert_eq!(key.decrypt(&title).unwrap(), "h".repeat(128));
    }
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_task_named_with_the_longest_legal_name_is_scheduled_under_a_cut_title(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let now = test_now();
    let ws = workspace(&pool, Some("UTC")).await;
    let user = creator(&pool, ws).await;
    let insert_task = |name: String| {
        sqlx::query_scalar::<_, Uuid>(
            "WITH b AS (INSERT INTO public.workspace_boards (ws_id, name) VALUES ($1, gen_random_uuid()::text) RETURNING id),
                  l AS (INSERT INTO public.task_lists (board_id, name) SELECT id, 'L' FROM b RETURNING id)
             INSERT INTO public.tasks (name, list_id) SELECT $2, id FROM l RETURNING id",
        )
        .bind(ws)
        .bind(name)
    };
    let task = insert_task("n".repeat(1_024))
        .fetch_one(&pool)
        .await
        .unwrap();
    let past = insert_task("n".repeat(1_025))
        .fetch_one(&pool)
        .await
        .unwrap_err();
    assert!(
        past.to_string()
            .contains("TEXT_FIELD_LENGTH_EXCEEDED: tasks.name"),
        "{past}"
    );
    sqlx::query(
        "INSERT INTO public.task_user_scheduling_settings (task_id, user_id, total_duration, auto_schedule)
         VALUES ($1, $2, 1, true)",
    )
    .bind(task)
    .bind(user)
    .execute(&pool)
    .await
    .unwrap();
    for _ in 0..2 {
        let applied = unified_schedule::schedule_workspace(&pool, None, ws, Some(user), 7, now)
            .await
            .unwrap();
        assert_eq!(applied.tasks, 1);
    }
    let titles: Vec<String> = sqlx::query_scalar(
        "SELECT e.title FROM public.workspace_calendar_events e
         JOIN public.task_calendar_events t ON t.event_id = e.id WHERE t.task_id = $1",
    )
    .bind(task)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        titles,
        ["n".repeat(255)],
        "one event, kept (not rewritten) by the second run"
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn the_dashboard_row_closes_with_text_cut_and_ids_capped(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ws = workspace(&pool, Some("UTC")).await;
    let user = creator(&pool, ws).await;
    let now = test_now();
    let id = dashboard::open(&pool, ws, user, JobKind::CalendarSync, (now, now))
        .await
        .unwrap();
    let report = WorkspaceReport {
        connections: 1,
        failures: vec![Failure {
            calendar_id: "primary".to_owned(),
            error: "e".repeat(513),
            kind: ErrorKind::Retryable,
            code: Some("c".repeat(81)),
        }],
        unreadable_ids: (0..50)
            .map(|i| format!("{i}-{}", "x".repeat(995)))
            .collect(),
        ..WorkspaceReport::default()
    };
    dashboard::close(&pool, id, &report, Duration::from_secs(1))
        .await
        .unwrap();
    let (status, message, code, ids): (String, String, String, serde_json::Value) = sqlx::query_as(
        "SELECT status, error_message, google_api_error_code, failed_event_ids
         FROM public.calendar_sync_dashboard WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(status, "failed", "closed, not left running");
    assert!(message.ends_with(TRUNCATED) && message.chars().count() == 512);
    assert!(code.ends_with(TRUNCATED) && code.chars().count() == 80);
    let ids = ids.as_array().unwrap();
    assert!(ids.len() < 50 && ids.last().unwrap().as_str().unwrap().ends_with(" more"));

    // At the limits, nothing is cut.
    let id = dashboard::open(&pool, ws, user, JobKind::CalendarSync, (now, now))
        .await
        .unwrap();
    let mut report = report.clone();
    report.failures[0].error = "e".repeat(512);
    report.failures[0].code = Some("c".repeat(80));
    report.unreadable_ids.truncate(1);
    dashboard::close(&pool, id, &report, Duration::from_secs(1))
        .await
        .unwrap();
    let (message, code): (String, String) = sqlx::query_as(
        "SELECT error_message, google_api_error_code FROM public.calendar_sync_dashboard WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((message, code), ("e".repeat(512), "c".repeat(80)));
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn sync_tokens_and_keys_past_the_limits_are_not_stored(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ws = workspace(&pool, Some("UTC")).await;
    let mut tx = pool.begin().await.unwrap();
    let longest_key = "k".repeat(1_000);
    state::store_sync_token(&mut tx, ws, &longest_key, &"t".repeat(2_048))
        .await
        .unwrap();
    state::store_sync_token(&mut tx, ws, &"k".repeat(1_001), "token")
        .await
        .unwrap();
    state::store_sync_token(&mut tx, ws, "short", "first")
        .await
        .unwrap();
    // A token one past the limit replaces nothing: the old one is forgotten instead.
    state::store_sync_token(&mut tx, ws, "short", &"t".repeat(2_049))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let stored: Vec<(String, usize)> = sqlx::query_as::<_, (String, String)>(
        "SELECT calendar_id, sync_token FROM public.calendar_sync_states WHERE ws_id = $1",
    )
    .bind(ws)
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(key, token)| (key, token.chars().count()))
    .collect();
    assert_eq!(stored, [(longest_key, 2_048)]);
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_calendar_with_the_longest_legal_id_syncs_without_storing_a_token(pool: PgPool) {
    let pool = integration_tests::db(pool);
    // calendar_connections.calendar_id allows 1,000 characters; the web app's token key
    // `google:<token id>:<calendar id>` is then longer than calendar_sync_states allows.
    let now = test_now();
    let ws = workspace(&pool, Some("UTC")).await;
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("wide");
    let calendar = "c".repeat(1_000);
    fake.put_event("wide", &calendar, timed_event("e1", "Listed", now, 30));
    let token = connect_google(&pool, ws, &grant, None, &[]).await;
    sqlx::query(
        "INSERT INTO public.calendar_connections (ws_id, calendar_id, calendar_name, auth_token_id)
         VALUES ($1, $2, 'Wide', $3)",
    )
    .bind(ws)
    .bind(&calendar)
    .bind(token)
    .execute(&pool)
    .await
    .unwrap();
    let syncer = offline_syncer(&pool, &fake, None).await;
    for _ in 0..2 {
        let report = syncer
            .sync_workspace(SyncKind::Incremental, ws, None, None, now)
            .await
            .unwrap();
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert_eq!(report.calendars_synced, std::slice::from_ref(&calendar));
    }
    let (rows, states): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM public.workspace_calendar_events
                 WHERE ws_id = $1 AND external_calendar_id = $2),
                (SELECT count(*) FROM public.calendar_sync_states WHERE ws_id = $1)",
    )
    .bind(ws)
    .bind(&calendar)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (rows, states),
        (1, 0),
        "the row stored, no token: each sync lists the window"
    );
}
