//! `schedule-task` against a real Postgres, and end to end through the local SQS server.

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shared::db::Db;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use integration_tests::{
    Queues, attribute, dead_letters, event, fifo_queues, receive, runs_of, send, sqs, test_now,
    worker_config, workspace,
};
use lambda_runtime::LambdaEvent;
use local_stack::event_source::{EventSource, lambda_context};
use schedule_task::{Function, ScheduleTask, store};
use serde_json::json;
use shared::error::ErrorKind;
use shared::jobs::runner::{Clock, Runner};
use shared::jobs::worker::Function as _;
use sqlx::PgPool;
use uuid::Uuid;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
struct Row {
    id: Uuid,
    start_at: DateTime<Utc>,
    end_at: DateTime<Utc>,
    locked: bool,
}

async fn rows(pool: &Db, ws: Uuid) -> Vec<Row> {
    sqlx::query_as(
        "SELECT id, start_at, end_at, locked FROM public.workspace_calendar_events WHERE ws_id = $1 ORDER BY id",
    )
    .bind(ws)
    .fetch_all(pool)
    .await
    .unwrap()
}

fn row(rows: &[Row], id: Uuid) -> &Row {
    rows.iter().find(|r| r.id == id).unwrap()
}

async fn work_hours(pool: &Db, ws: Uuid, data: serde_json::Value) {
    sqlx::query("INSERT INTO public.workspace_calendar_hour_settings (ws_id, type, data) VALUES ($1, 'WORK', $2)")
        .bind(ws)
        .bind(data)
        .execute(pool)
        .await
        .unwrap();
}

fn weekdays_split() -> serde_json::Value {
    let on = json!({ "enabled": true, "timeBlocks": [
        { "startTime": "09:00", "endTime": "12:00" }, { "startTime": "13:00", "endTime": "17:00" } ] });
    let off = json!({ "enabled": false, "timeBlocks": [] });
    json!({ "monday": on, "tuesday": on, "wednesday": on, "thursday": on, "friday": on,
            "saturday": off, "sunday": off })
}

/// Whether `[start, end)` lies inside one of the weekday blocks above, in `tz`.
fn inside_weekday_hours(start: DateTime<Utc>, end: DateTime<Utc>, tz: Tz) -> bool {
    let (s, e) = (start.with_timezone(&tz), end.with_timezone(&tz));
    let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
    let blocks = [(hm(9, 0), hm(12, 0)), (hm(13, 0), hm(17, 0))];
    s.date_naive() == e.date_naive()
        && !matches!(s.weekday(), Weekday::Sat | Weekday::Sun)
        && blocks
            .iter()
            .any(|(b0, b1)| s.time() >= *b0 && e.time() <= *b1)
}

/// The function's state as `main` builds it, but on the test's database and queues, with its
/// clock stopped at `now`.
fn state(pool: &Db, sqs: &aws_sdk_sqs::Client, queues: &Queues, now: DateTime<Utc>) -> Function {
    Function {
        runner: Runner::new(pool.clone(), sqs.clone(), &worker_config(queues))
            .with_clock(Clock::Fixed(now)),
        job: ScheduleTask::new(pool.clone()),
    }
}

fn overlaps(a: &Row, b: &Row) -> bool {
    a.start_at < b.end_at && b.start_at < a.end_at
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn events_go_inside_working_hours_in_the_workspace_zone_around_locked_events(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ny: Tz = chrono_tz::America::New_York;
    let ws = workspace(&pool, Some("America/New_York")).await;
    work_hours(&pool, ws, weekdays_split()).await;
    let now = t("2026-12-01T14:07:00Z"); // Tuesday 09:07 in New York

    let locked_1 = event(
        &pool,
        ws,
        t("2026-12-01T15:00:00Z"),
        t("2026-12-01T16:00:00Z"),
        true,
    )
    .await;
    let locked_2 = event(
        &pool,
        ws,
        t("2026-12-02T14:00:00Z"),
        t("2026-12-02T18:00:00Z"),
        true,
    )
    .await;
    let past = event(
        &pool,
        ws,
        t("2026-11-30T15:00:00Z"),
        t("2026-11-30T16:00:00Z"),
        false,
    )
    .await;
    let running = event(
        &pool,
        ws,
        t("2026-12-01T14:00:00Z"),
        t("2026-12-01T14:30:00Z"),
        false,
    )
    .await;
    let mut movable = Vec::new();
    for (start, minutes) in [
        ("2026-12-03T08:00:00Z", 60),
        ("2026-12-04T02:00:00Z", 90),
        ("2026-12-05T23:00:00Z", 30),
        ("2026-12-06T12:00:00Z", 120),
        ("2026-12-08T01:15:00Z", 45),
        ("2026-12-09T20:00:00Z", 60),
        ("2026-12-10T05:00:00Z", 180),
        ("2026-12-11T07:30:00Z", 15),
    ] {
        let start = t(start);
        movable.push(
            event(
                &pool,
                ws,
                start,
                start + chrono::Duration::minutes(minutes),
                false,
            )
            .await,
        );
    }
    let before = rows(&pool, ws).await;

    let summary = store::reschedule(&pool, ws, now).await.unwrap();

    let after = rows(&pool, ws).await;
    assert_eq!(summary.events_considered, 8);
    assert_eq!(
        summary.obstacles, 3,
        "two locked events and the one in progress"
    );
    assert_eq!(summary.timezone, "America/New_York");
    for id in [locked_1, locked_2, past, running] {
        assert_eq!(
            row(&after, id),
            row(&before, id),
            "locked, past and running events never move"
        );
    }
    for id in &movable {
        let (old, new) = (row(&before, *id), row(&after, *id));
        assert_eq!(
            new.end_at - new.start_at,
            old.end_at - old.start_at,
            "length kept"
        );
        assert!(
            new.start_at >= t("2026-12-01T14:15:00Z"),
            "nothing before the next quarter hour"
        );
        assert!(
            inside_weekday_hours(new.start_at, new.end_at, ny),
            "{new:?} outside working hours"
        );
        assert_eq!(new.start_at.timestamp() % 900, 0, "quarter-hour aligned");
    }
    let future: Vec<&Row> = after.iter().filter(|r| r.end_at > now).collect();
    for (i, a) in future.iter().enumerate() {
        for b in &future[i + 1..] {
            assert!(!overlaps(a, b), "{a:?} overlaps {b:?}");
        }
    }
    assert_eq!(summary.events_moved, 8);
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn events_are_packed_in_order_of_urgency_then_deadline(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ws = workspace(&pool, Some("Europe/Berlin")).await;
    let now = t("2026-12-01T06:00:00Z"); // 07:00 in Berlin; default hours 09:00-17:00
    // Equal lengths: the order of the new starts is the order of the deadlines (old ends).
    let mut by_deadline = Vec::new();
    for start in [
        "2026-12-20T10:00:00Z",
        "2026-12-01T20:00:00Z",
        "2026-12-09T10:00:00Z",
        "2026-12-03T21:00:00Z",
        "2026-12-02T03:00:00Z",
    ] {
        let start = t(start);
        let id = event(
            &pool,
            ws,
            start,
            start + chrono::Duration::minutes(60),
            false,
        )
        .await;
        by_deadline.push((start, id));
    }
    by_deadline.sort();

    store::reschedule(&pool, ws, now).await.unwrap();

    let after = rows(&pool, ws).await;
    let starts: Vec<DateTime<Utc>> = by_deadline
        .iter()
        .map(|(_, id)| row(&after, *id).start_at)
        .collect();
    assert_eq!(
        starts,
        vec![
            t("2026-12-01T08:00:00Z"),
            t("2026-12-01T09:00:00Z"),
            t("2026-12-01T10:00:00Z"),
            t("2026-12-01T11:00:00Z"),
            t("2026-12-01T12:00:00Z"),
        ]
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_second_run_with_the_same_inputs_moves_nothing(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ws = workspace(&pool, None).await; // unset: UTC
    let now = t("2026-12-05T10:02:00Z"); // a Saturday: the default hours include weekends
    event(
        &pool,
        ws,
        t("2026-12-05T10:15:00Z"),
        t("2026-12-05T11:00:00Z"),
        true,
    )
    .await;
    for start in [
        "2026-12-07T20:00:00Z",
        "2026-12-06T03:00:00Z",
        "2026-12-05T18:00:00Z",
    ] {
        let start = t(start);
        event(
            &pool,
            ws,
            start,
            start + chrono::Duration::minutes(50),
            false,
        )
        .await;
    }
    let first = store::reschedule(&pool, ws, now).await.unwrap();
    let placed = rows(&pool, ws).await;
    let second = store::reschedule(&pool, ws, now).await.unwrap();

    assert_eq!(first.timezone, "UTC");
    assert_eq!(first.events_moved, 3);
    assert_eq!(second.events_moved, 0);
    assert_eq!(rows(&pool, ws).await, placed);
    let mut unlocked: Vec<DateTime<Utc>> = placed
        .iter()
        .filter(|r| !r.locked)
        .map(|r| r.start_at)
        .collect();
    unlocked.sort();
    assert_eq!(
        unlocked,
        vec![
            t("2026-12-05T11:00:00Z"),
            t("2026-12-05T12:00:00Z"),
            t("2026-12-05T13:00:00Z")
        ]
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn unknown_workspaces_and_bad_settings_are_permanent_failures(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let now = t("2026-12-01T08:00:00Z");
    let missing = Uuid::new_v4();
    let err = store::reschedule(&pool, missing, now).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert_eq!(
        err.to_string(),
        format!("workspace {missing} does not exist")
    );

    let ws = workspace(&pool, Some("Mars/Olympus")).await;
    let err = store::reschedule(&pool, ws, now).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert!(
        err.to_string()
            .contains("\"Mars/Olympus\" is not a valid IANA zone"),
        "{err}"
    );

    let ws = workspace(&pool, Some("UTC")).await;
    work_hours(&pool, ws, json!({ "monday": { "enabled": true, "timeBlocks": [{ "startTime": "nine", "endTime": "17:00" }] } })).await;
    let err = store::reschedule(&pool, ws, now).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert!(err.to_string().contains("monday"), "{err}");
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn schedule_task_runs_end_to_end_through_the_local_sqs_server(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 300).await;
    let now = test_now();
    let state = state(&pool, &sqs, &queues, now);
    let ws = workspace(&pool, Some("Asia/Ho_Chi_Minh")).await;
    let far = event(
        &pool,
        ws,
        now + chrono::Duration::days(20),
        now + chrono::Duration::days(20) + chrono::Duration::hours(1),
        false,
    )
    .await;
    let locked_start = now + chrono::Duration::days(3);
    let locked = event(
        &pool,
        ws,
        locked_start,
        locked_start + chrono::Duration::hours(2),
        true,
    )
    .await;
    // A workspace whose lease another run holds: its message must wait and come back.
    let busy = workspace(&pool, None).await;
    let busy_event = event(
        &pool,
        busy,
        now + chrono::Duration::days(9),
        now + chrono::Duration::days(9) + chrono::Duration::minutes(30),
        false,
    )
    .await;
    sqlx::query("INSERT INTO jobs.leases (scope, ws_id, holder, expires_at) VALUES ('schedule', $1, gen_random_uuid(), now() + interval '1 hour')")
        .bind(busy)
        .execute(&pool)
        .await
        .unwrap();

    let url = &queues.queue_url;
    let good_id = send(
        &sqs,
        url,
        &ws.to_string(),
        "e2e-good",
        &json!({ "ws_id": ws }).to_string(),
    )
    .await;
    let poison_id = send(&sqs, url, "poison", "e2e-poison", r#"{"ws_id": 42}"#).await;
    let busy_id = send(
        &sqs,
        url,
        &busy.to_string(),
        "e2e-busy",
        &json!({ "ws_id": busy }).to_string(),
    )
    .await;

    let source = EventSource::new(sqs.clone(), url).await.unwrap();
    let invoke = |event| {
        let state = &state;
        async move {
            state
                .handle(LambdaEvent::new(
                    event,
                    lambda_context(Duration::from_secs(120)),
                ))
                .await
        }
    };
    let stats = source.drain(Duration::from_secs(20), invoke).await.unwrap();
    assert_eq!(
        (stats.received, stats.deleted, stats.reported_failed),
        (3, 2, 1)
    );

    // The good message did its work: the far event moved closer, the locked one did not.
    let after = rows(&pool, ws).await;
    assert!(row(&after, far).start_at < now + chrono::Duration::days(2));
    assert_eq!(
        row(&after, locked).start_at,
        locked_start.trunc_subsecs_micros()
    );
    assert_eq!(runs_of(&pool, &good_id).await[0].status, "succeeded");
    assert_eq!(
        runs_of(&pool, &good_id).await[0].result.as_ref().unwrap()["events_moved"],
        1
    );

    // The poison message is in the DLQ with its error, and acknowledged.
    let dead = dead_letters(&sqs, &queues.dlq_url).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        attribute(&dead[0], "original_message_id").as_deref(),
        Some(poison_id.as_str())
    );
    assert!(
        attribute(&dead[0], "error")
            .unwrap()
            .contains("field `ws_id` is invalid")
    );
    assert_eq!(runs_of(&pool, &poison_id).await[0].status, "dead");

    // The busy workspace was left for retry; once the lease is gone it succeeds.
    let busy_runs = runs_of(&pool, &busy_id).await;
    assert_eq!(
        (
            busy_runs[0].status.as_str(),
            busy_runs[0].error_kind.as_deref()
        ),
        ("failed", Some("retryable"))
    );
    sqlx::query("DELETE FROM jobs.leases")
        .execute(&pool)
        .await
        .unwrap();
    let mut stats = Default::default();
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        stats = source.drain(Duration::from_secs(20), invoke).await.unwrap();
        if stats.received > 0 {
            break;
        }
    }
    assert_eq!((stats.received, stats.deleted), (1, 1));
    let busy_runs = runs_of(&pool, &busy_id).await;
    assert_eq!(busy_runs.len(), 2);
    assert_eq!(
        (busy_runs[1].status.as_str(), busy_runs[1].attempt),
        ("succeeded", 2)
    );
    assert_ne!(
        row(&rows(&pool, busy).await, busy_event).start_at,
        (now + chrono::Duration::days(9)).trunc_subsecs_micros()
    );
    assert!(receive(&sqs, url, 0).await.is_empty(), "the queue is empty");
    assert_eq!(
        dead_letters(&sqs, &queues.dlq_url).await.len(),
        1,
        "only the poison message is dead"
    );
}

trait TruncMicros {
    fn trunc_subsecs_micros(self) -> Self;
}

impl TruncMicros for DateTime<Utc> {
    /// Postgres keeps microseconds.
    fn trunc_subsecs_micros(self) -> Self {
        chrono::SubsecRound::trunc_subsecs(self, 6)
    }
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn the_sample_event_runs_through_the_handler_against_the_demo_workspace(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 300).await;
    let state = state(&pool, &sqs, &queues, test_now());
    local_stack::demo::seed(&pool, test_now()).await.unwrap();
    let before = rows(&pool, local_stack::demo::DEMO_WS).await;
    let event: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(include_str!("../../events/schedule-task.json")).unwrap();
    let message_id = event.records[0].message_id.clone().unwrap();

    let response = state
        .handle(LambdaEvent::new(
            event.clone(),
            lambda_context(Duration::from_secs(120)),
        ))
        .await
        .unwrap();

    assert!(response.batch_item_failures.is_empty());
    let runs = runs_of(&pool, &message_id).await;
    assert_eq!(runs[0].status, "succeeded");
    let moved = runs[0].result.as_ref().unwrap()["events_moved"]
        .as_u64()
        .unwrap();
    let after = rows(&pool, local_stack::demo::DEMO_WS).await;
    let changed = after.iter().filter(|r| !before.contains(r)).count() as u64;
    assert_eq!(moved, changed);
    assert_eq!(
        moved, 6,
        "every unlocked future demo event moves into working hours"
    );

    // The same event again is a redelivery of a succeeded message.
    state
        .handle(LambdaEvent::new(
            event,
            lambda_context(Duration::from_secs(120)),
        ))
        .await
        .unwrap();
    assert_eq!(runs_of(&pool, &message_id).await[1].status, "skipped");
    assert_eq!(rows(&pool, local_stack::demo::DEMO_WS).await, after);
}
