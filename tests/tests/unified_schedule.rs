//! `unified-schedule` against a real Postgres: loading inputs, applying the engine's result in
//! one transaction, and the worker through the local SQS server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use shared::db::Db;
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use integration_tests::{
    attribute, dead_letters, encrypt_workspace, fifo_queues, next_batch, send, sqs, test_now,
    worker_config, workspace,
};
use local_stack::event_source::{EventSource, lambda_context};
use serde_json::json;
use shared::encryption::MasterKey;
use shared::jobs::runner::{Clock, Runner, deadline_from_epoch_millis};
use shared::jobs::worker::Function as _;
use sqlx::PgPool;
use unified_schedule::UnifiedSchedule;
use unified_schedule::apply::Applied;
use unified_schedule::schedule_workspace;
use uuid::Uuid;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A Monday morning, fixed so two runs see the same inputs.
fn now() -> DateTime<Utc> {
    test_now()
}

async fn habit(pool: &Db, ws: Uuid, name: &str, minutes: i32, ideal: Option<&str>) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO public.workspace_habits (ws_id, name, duration_minutes, ideal_time, start_date)
         VALUES ($1, $2, $3, $4::time, '2026-01-01') RETURNING id",
    )
    .bind(ws)
    .bind(name)
    .bind(minutes)
    .bind(ideal)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn run(pool: &Db, ws: Uuid, days: u32) -> Result<Applied, shared::error::JobError> {
    schedule_workspace(pool, None, ws, None, days, now()).await
}

/// An event as compared: title, start, end, locked.
type Shape = (String, DateTime<Utc>, DateTime<Utc>, bool);

/// Every event of the workspace by id.
async fn calendar(pool: &Db, ws: Uuid) -> BTreeMap<Uuid, Shape> {
    type Row = (Uuid, String, DateTime<Utc>, DateTime<Utc>, bool);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, title, start_at, end_at, locked FROM public.workspace_calendar_events WHERE ws_id = $1",
    )
    .bind(ws)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(id, title, s, e, l)| (id, (title, s, e, l)))
        .collect()
}

async fn links(pool: &Db, habit: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM public.habit_calendar_events WHERE habit_id = $1")
        .bind(habit)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn linked_event(
    pool: &Db,
    ws: Uuid,
    habit: Uuid,
    start: &str,
    minutes: i64,
    locked: bool,
) -> Uuid {
    let start = t(start);
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO public.workspace_calendar_events (ws_id, title, start_at, end_at, locked)
         VALUES ($1, 'Pinned', $2, $3, $4) RETURNING id",
    )
    .bind(ws)
    .bind(start)
    .bind(start + chrono::Duration::minutes(minutes))
    .bind(locked)
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO public.habit_calendar_events (habit_id, event_id, occurrence_date) VALUES ($1, $2, $3)")
        .bind(habit)
        .bind(id)
        .bind(start.date_naive())
        .execute(pool)
        .await
        .unwrap();
    id
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_second_run_with_unchanged_inputs_keeps_the_same_events(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ws = workspace(&pool, Some("Europe/Berlin")).await;
    habit(&pool, ws, "Run", 30, Some("07:30")).await;
    habit(&pool, ws, "Read", 45, None).await;
    let first = run(&pool, ws, 7).await.unwrap();
    assert_eq!(first.events_created, 14, "two habits, seven days");
    assert_eq!(first.status, "success");
    let before = calendar(&pool, ws).await;
    assert_eq!(before.len(), 14);
    for (title, start, _, locked) in before.values() {
        assert!(!locked);
        if title == "Run" {
            let local = start.with_timezone(&chrono_tz::Europe::Berlin);
            assert_eq!(local.format("%H:%M").to_string(), "07:30");
        }
    }

    let second = run(&pool, ws, 7).await.unwrap();
    assert_eq!(
        (
            second.events_created,
            second.events_updated,
            second.events_deleted
        ),
        (0, 0, 0)
    );
    assert_eq!(second.events_unchanged, 14);
    assert_eq!(calendar(&pool, ws).await, before, "same ids, same times");
    let (status, created): (String, i32) = sqlx::query_as(
        "SELECT last_status, events_created FROM private.workspace_scheduling_metadata WHERE ws_id = $1",
    )
    .bind(ws)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), created), ("success", 14));
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn locked_and_past_events_are_never_touched(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ws = workspace(&pool, Some("UTC")).await;
    let gym = habit(&pool, ws, "Gym", 60, Some("09:00")).await;
    // Pinned by the user today at 09:00: it counts as today's instance.
    let pinned = linked_event(&pool, ws, gym, "2031-03-03T09:00:00Z", 60, true).await;
    // Yesterday's instance, unlocked but past: never moved or deleted.
    let past = linked_event(&pool, ws, gym, "2031-03-02T09:00:00Z", 60, false).await;
    // A synced Google meeting tomorrow at the ideal time: an obstacle.
    let google = integration_tests::event(
        &pool,
        ws,
        t("2031-03-04T08:30:00Z"),
        t("2031-03-04T10:00:00Z"),
        true,
    )
    .await;
    let before = calendar(&pool, ws).await;

    let applied = run(&pool, ws, 3).await.unwrap();
    let after = calendar(&pool, ws).await;
    for id in [pinned, past, google] {
        assert_eq!(after[&id], before[&id], "{id} untouched");
    }
    let today = after
        .values()
        .filter(|(title, s, _, _)| title == "Gym" && s.date_naive() == now().date_naive())
        .count();
    assert_eq!(today, 0, "the pinned instance fills today's quota");
    let tomorrow: Vec<_> = after
        .values()
        .filter(|(title, s, _, _)| {
            title == "Gym" && s.date_naive() == t("2031-03-04T00:00:00Z").date_naive()
        })
        .collect();
    assert_eq!(tomorrow.len(), 1);
    assert!(
        tomorrow[0].1 >= t("2031-03-04T10:00:00Z") || tomorrow[0].2 <= t("2031-03-04T08:30:00Z")
    );
    assert_eq!(applied.events_created, 2, "tomorrow and the day after");
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn orphans_are_removed_with_their_link_rows(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ws = workspace(&pool, Some("UTC")).await;
    let keep = habit(&pool, ws, "Keep", 30, Some("08:00")).await;
    let drop = habit(&pool, ws, "Drop", 30, Some("10:00")).await;
    run(&pool, ws, 5).await.unwrap();
    assert_eq!(links(&pool, drop).await, 5);
    let past = linked_event(&pool, ws, drop, "2031-03-01T10:00:00Z", 30, false).await;

    sqlx::query("UPDATE public.workspace_habits SET is_active = false WHERE id = $1")
        .bind(drop)
        .execute(&pool)
        .await
        .unwrap();
    let applied = run(&pool, ws, 5).await.unwrap();
    assert_eq!(applied.events_deleted, 5);
    assert_eq!(
        links(&pool, drop).await,
        1,
        "only the past instance's link is left"
    );
    assert!(calendar(&pool, ws).await.contains_key(&past));
    assert_eq!(links(&pool, keep).await, 5);
    let titles: Vec<String> = calendar(&pool, ws)
        .await
        .values()
        .map(|v| v.0.clone())
        .collect();
    assert_eq!(titles.iter().filter(|t| *t == "Drop").count(), 0);
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_failure_in_the_middle_leaves_the_previous_schedule(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ws = workspace(&pool, Some("UTC")).await;
    let walk = habit(&pool, ws, "Walk", 30, Some("08:00")).await;
    run(&pool, ws, 5).await.unwrap();
    let before = calendar(&pool, ws).await;

    // The habit moves, and a new one appears; writing its link rows fails after the events
    // were already moved and inserted in the transaction.
    sqlx::query("UPDATE public.workspace_habits SET ideal_time = '15:00' WHERE id = $1")
        .bind(walk)
        .execute(&pool)
        .await
        .unwrap();
    habit(&pool, ws, "Stretch", 15, Some("18:00")).await;
    sqlx::query(
        "CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'injected failure'; END $$",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "CREATE TRIGGER test_fail BEFORE INSERT ON public.habit_calendar_events
         FOR EACH ROW EXECUTE FUNCTION test_fail()",
    )
    .execute(&pool)
    .await
    .unwrap();
    let err = run(&pool, ws, 5).await.unwrap_err();
    assert_eq!(err.kind(), shared::error::ErrorKind::Retryable);
    assert!(
        err.to_string().contains("linking the new habit events"),
        "{err}"
    );
    assert_eq!(calendar(&pool, ws).await, before, "rolled back");

    sqlx::query("DROP TRIGGER test_fail ON public.habit_calendar_events")
        .execute(&pool)
        .await
        .unwrap();
    let applied = run(&pool, ws, 5).await.unwrap();
    assert_eq!((applied.events_updated, applied.events_created), (5, 5));
    let after = calendar(&pool, ws).await;
    assert!(
        before.keys().all(|id| after.contains_key(id)),
        "the walks were moved, not replaced"
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_users_tasks_are_scheduled_and_linked(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ws = workspace(&pool, Some("UTC")).await;
    let user: Uuid = sqlx::query_scalar("SELECT creator_id FROM public.workspaces WHERE id = $1")
        .bind(ws)
        .fetch_one(&pool)
        .await
        .unwrap();
    let task: Uuid = sqlx::query_scalar(
        "WITH b AS (INSERT INTO public.workspace_boards (ws_id, name) VALUES ($1, 'B') RETURNING id),
              l AS (INSERT INTO public.task_lists (board_id, name) SELECT id, 'L' FROM b RETURNING id)
         INSERT INTO public.tasks (name, list_id, priority, end_date)
         SELECT 'Write report', id, 'high', '2031-03-06T17:00:00Z' FROM l RETURNING id",
    )
    .bind(ws)
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO public.task_user_scheduling_settings
             (task_id, user_id, total_duration, is_splittable, min_split_duration_minutes,
              max_split_duration_minutes, calendar_hours, auto_schedule)
         VALUES ($1, $2, 3, true, 60, 120, 'work_hours', true)",
    )
    .bind(task)
    .bind(user)
    .execute(&pool)
    .await
    .unwrap();
    let applied = schedule_workspace(&pool, None, ws, Some(user), 7, now())
        .await
        .unwrap();
    assert_eq!(applied.tasks, 1);
    let chunks: Vec<(i32, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT tc.scheduled_minutes, e.start_at, e.end_at FROM public.task_calendar_events tc
         JOIN public.workspace_calendar_events e ON e.id = tc.event_id WHERE tc.task_id = $1",
    )
    .bind(task)
    .fetch_all(&pool)
    .await
    .unwrap();
    let minutes: i32 = chunks.iter().map(|c| c.0).sum();
    assert_eq!(minutes, 180);
    assert!(chunks.iter().all(|c| c.2 <= t("2031-03-06T17:00:00Z")));
    assert!(
        chunks
            .iter()
            .all(|c| (c.2 - c.1).num_minutes() == i64::from(c.0))
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn titles_are_encrypted_for_workspaces_with_a_key(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ws = workspace(&pool, Some("UTC")).await;
    habit(&pool, ws, "Meditate", 15, Some("07:00")).await;
    let master = MasterKey::derive(&shared::config::Secret::new("master")).unwrap();
    let key = encrypt_workspace(&pool, ws, &master).await;
    schedule_workspace(&pool, Some(&master), ws, None, 7, now())
        .await
        .unwrap();
    let rows: Vec<(String, bool)> = sqlx::query_as(
        "SELECT title, is_encrypted FROM public.workspace_calendar_events WHERE ws_id = $1",
    )
    .bind(ws)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 7);
    for (title, encrypted) in &rows {
        assert!(encrypted);
        assert_eq!(key.decrypt(title).unwrap(), "Meditate");
    }
    // Unchanged on a second run even though every ciphertext differs.
    let again = schedule_workspace(&pool, Some(&master), ws, None, 7, now())
        .await
        .unwrap();
    assert_eq!(again.events_unchanged, 7);
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn the_worker_runs_messages_and_dead_letters_an_auto_timezone(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 60).await;
    let runner = Runner::new(pool.clone(), sqs.clone(), &worker_config(&queues))
        .with_clock(Clock::Fixed(now()));
    let job = UnifiedSchedule::new(pool.clone(), None).unwrap();
    let good = workspace(&pool, Some("Asia/Tokyo")).await;
    habit(&pool, good, "Tea", 15, Some("15:00")).await;
    let auto = workspace(&pool, Some("auto")).await;
    habit(&pool, auto, "Tea", 15, Some("15:00")).await;
    for ws in [good, auto] {
        let body = json!({ "ws_id": ws, "windowDays": 7 }).to_string();
        send(
            &sqs,
            &queues.queue_url,
            &ws.to_string(),
            &Uuid::new_v4().to_string(),
            &body,
        )
        .await;
    }
    let event = next_batch(&sqs, &queues.queue_url).await;
    let context = lambda_context(Duration::from_secs(120));
    let response = runner
        .run_batch(
            &job,
            event.clone(),
            deadline_from_epoch_millis(context.deadline),
        )
        .await
        .unwrap();
    EventSource::new(sqs.clone(), &queues.queue_url)
        .await
        .unwrap()
        .settle(&event, &response)
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());

    let statuses: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT ws_id, status FROM jobs.runs ORDER BY status")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        statuses,
        vec![(auto, "dead".to_owned()), (good, "succeeded".to_owned())]
    );
    assert_eq!(calendar(&pool, good).await.len(), 7);
    assert!(calendar(&pool, auto).await.is_empty());
    let letters = dead_letters(&sqs, &queues.dlq_url).await;
    assert_eq!(letters.len(), 1);
    let error = attribute(&letters[0], "error").unwrap();
    assert!(error.contains("timezone `auto`"), "{error}");
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn the_sample_event_runs_through_the_handler(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 60).await;
    local_stack::demo::seed(&pool, now()).await.unwrap();
    let ws = local_stack::demo::DEMO_WS;
    habit(&pool, ws, "Plan the day", 15, Some("08:45")).await;
    let state = unified_schedule::Function {
        runner: Runner::new(pool.clone(), sqs.clone(), &worker_config(&queues))
            .with_clock(Clock::Fixed(now())),
        job: UnifiedSchedule::new(pool.clone(), None).unwrap(),
    };
    let event: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(include_str!("../../events/unified-schedule.json")).unwrap();
    let response = state
        .handle(lambda_runtime::LambdaEvent::new(
            event,
            lambda_context(Duration::from_secs(120)),
        ))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let scheduled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM public.habit_calendar_events h JOIN public.workspace_habits w ON w.id = h.habit_id
         WHERE w.ws_id = $1",
    )
    .bind(ws)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        scheduled >= 29,
        "a 30-day window of a daily habit: {scheduled}"
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn the_schedule_lease_keeps_it_away_from_a_running_schedule_task(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 60).await;
    let runner = Runner::new(pool.clone(), sqs.clone(), &worker_config(&queues))
        .with_clock(Clock::Fixed(now()));
    let job = UnifiedSchedule::new(pool.clone(), None).unwrap();
    let ws = workspace(&pool, Some("UTC")).await;
    habit(&pool, ws, "Tea", 15, Some("15:00")).await;
    // schedule-task holds the workspace's `schedule` lease.
    let holder = Uuid::new_v4();
    let scope = shared::job_kind::LeaseScope::Schedule;
    assert!(
        shared::jobs::lease::try_acquire(&pool, scope, ws, holder, Duration::from_secs(60))
            .await
            .unwrap()
    );
    let body = json!({ "ws_id": ws }).to_string();
    send(
        &sqs,
        &queues.queue_url,
        &ws.to_string(),
        "lease-test",
        &body,
    )
    .await;
    let event = next_batch(&sqs, &queues.queue_url).await;
    let response = runner.run_batch(&job, event, None).await.unwrap();
    assert_eq!(response.batch_item_failures.len(), 1, "retried later");
    assert!(calendar(&pool, ws).await.is_empty());
    let error: String = sqlx::query_scalar("SELECT error FROM jobs.runs WHERE ws_id = $1")
        .bind(ws)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(error.contains("`schedule` lease"), "{error}");
}
