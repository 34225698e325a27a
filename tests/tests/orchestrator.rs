//! The orchestrator against a real Postgres and the local SQS server: who gets a message,
//! exactly once, with the right group, deduplication id and body.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use shared::db::Db;
use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_sqs::types::MessageSystemAttributeName as Attr;
use chrono::{DateTime, Utc};
use integration_tests::sqs_faults::FaultyProxy;
use integration_tests::{
    calendar_token, drain_queue, fifo_queues, habit, make_personal, sqs, system_attribute,
    test_now, workspace,
};
use orchestrator::{FanOutOptions, Orchestrator, Tick, fan_out, run_tick};
use serde_json::json;
use shared::job_kind::JobKind;
use shared::jobs::worker::Function as _;
use shared::producer::QueueUrls;
use sqlx::PgPool;
use uuid::Uuid;

const TICK: &str = "2026-11-26T18:45:00Z";

async fn state(pool: &Db, sqs: aws_sdk_sqs::Client, page_size: i64) -> Orchestrator {
    let mut queues = QueueUrls::default();
    for task in JobKind::ALL {
        queues.insert(task, fifo_queues(&sqs, 30).await.queue_url);
    }
    Orchestrator {
        pool: pool.clone(),
        sqs,
        queues,
        options: FanOutOptions {
            page_size,
            sends_in_flight: 4,
            ..FanOutOptions::default()
        },
    }
}

/// Every message of `task`'s queue, deleted, as (group, deduplication id, body).
async fn delivered(
    state: &Orchestrator,
    task: JobKind,
) -> Vec<(String, String, serde_json::Value)> {
    let url = state.queues.get(task).unwrap();
    drain_queue(&state.sqs, url)
        .await
        .iter()
        .map(|m| {
            (
                system_attribute(m, Attr::MessageGroupId).unwrap(),
                system_attribute(m, Attr::MessageDeduplicationId).unwrap(),
                serde_json::from_str(m.body().unwrap()).unwrap(),
            )
        })
        .collect()
}

/// The message groups (workspaces) of `task`'s queue, deleted.
async fn delivered_groups(state: &Orchestrator, task: JobKind) -> BTreeSet<String> {
    delivered(state, task)
        .await
        .into_iter()
        .map(|(g, _, _)| g)
        .collect()
}

fn tick(task: &str) -> serde_json::Value {
    json!({ "fan_out": task, "scheduled_at": TICK })
}

async fn orchestrator_runs(pool: &Db) -> Vec<(String, Option<String>, serde_json::Value)> {
    sqlx::query_as(
        "SELECT status, error, result FROM jobs.runs WHERE task = 'orchestrator' ORDER BY started_at, id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn google_workspaces_get_exactly_one_message_each(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let state = state(&pool, sqs().await, 40).await;
    let mut expected = BTreeSet::new();
    for i in 0..260 {
        let ws = workspace(&pool, Some("Europe/Berlin")).await;
        calendar_token(&pool, ws, "google", true).await;
        if i % 7 == 0 {
            // A second account on the same workspace must not mean a second sync.
            calendar_token(&pool, ws, "google", true).await;
        }
        expected.insert(ws.to_string());
    }
    let inactive = workspace(&pool, None).await;
    calendar_token(&pool, inactive, "google", false).await;
    let microsoft = workspace(&pool, None).await;
    calendar_token(&pool, microsoft, "microsoft", true).await;
    workspace(&pool, None).await; // no token at all

    let result = run_tick(&state, tick("calendar-sync"), "req-1")
        .await
        .unwrap();

    let messages = delivered(&state, JobKind::CalendarSync).await;
    assert_eq!(messages.len(), 260, "one message per workspace, no more");
    let groups: BTreeSet<String> = messages.iter().map(|(g, _, _)| g.clone()).collect();
    assert_eq!(groups, expected);
    for (group, dedup, body) in &messages {
        assert_eq!(dedup, &format!("calendar-sync:{group}:{TICK}"));
        assert_eq!(body, &json!({ "ws_id": group }));
    }
    for other in [
        JobKind::CalendarFullSync,
        JobKind::ScheduleTask,
        JobKind::UnifiedSchedule,
    ] {
        assert!(
            delivered(&state, other).await.is_empty(),
            "{other} got messages"
        );
    }

    assert_eq!(result["total_workspaces"], 260);
    assert_eq!(result["enqueued"], 260);
    assert_eq!(result["failed"], 0);
    assert_eq!(result["calls"], 26, "⌈260/10⌉ batches");
    let runs = orchestrator_runs(&pool).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].0, "succeeded");
    assert_eq!(runs[0].2["enqueued"], 260);
    assert_eq!(runs[0].2["fan_out"], "calendar-sync");
}

/// A live push channel of `calendar` expiring `hours` after the tick; returns its id.
async fn channel(pool: &Db, ws: Uuid, token: Uuid, calendar: &str, hours: i64) -> String {
    let id = Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO jobs.watch_channels
             (ws_id, auth_token_id, calendar_id, channel_id, resource_id, token_hash, expires_at)
         VALUES ($1, $2, $3, $4, 'resource', sha256('token'), $5)",
    )
    .bind(ws)
    .bind(token)
    .bind(calendar)
    .bind(&id)
    .bind(TICK.parse::<DateTime<Utc>>().unwrap() + chrono::Duration::hours(hours))
    .execute(pool)
    .await
    .unwrap();
    id
}

async fn connection(pool: &Db, ws: Uuid, token: Uuid, calendar: &str, enabled: bool) {
    sqlx::query(
        "INSERT INTO public.calendar_connections
             (ws_id, calendar_id, calendar_name, auth_token_id, is_enabled)
         VALUES ($1, $2, $2, $3, $4)",
    )
    .bind(ws)
    .bind(calendar)
    .bind(token)
    .bind(enabled)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn renewal_reaches_calendars_whose_channel_expires_soon_or_is_unwanted(pool: PgPool) {
    let pool = integration_tests::db(pool);
    // Page size 1: the cursor must step through calendars of one workspace too.
    let state = state(&pool, sqs().await, 1).await;
    let ws = workspace(&pool, None).await;
    let token = calendar_token(&pool, ws, "google", true).await;
    for calendar in ["fresh", "soon", "later-soon"] {
        connection(&pool, ws, token, calendar, true).await;
    }
    channel(&pool, ws, token, "fresh", 48).await;
    let soon = channel(&pool, ws, token, "soon", 20).await;
    let later_soon = channel(&pool, ws, token, "later-soon", 2).await;
    // A renewal in progress: the newer channel does not change the message's key.
    channel(&pool, ws, token, "later-soon", 7 * 24).await;
    // A stopped channel is nobody's business.
    let stopped = channel(&pool, ws, token, "soon", 1).await;
    sqlx::query("UPDATE jobs.watch_channels SET stopped_at = now() WHERE channel_id = $1")
        .bind(&stopped)
        .execute(&pool)
        .await
        .unwrap();

    let disabled_ws = workspace(&pool, None).await;
    let disabled_token = calendar_token(&pool, disabled_ws, "google", true).await;
    connection(&pool, disabled_ws, disabled_token, "off", false).await;
    let disabled = channel(&pool, disabled_ws, disabled_token, "off", 6 * 24).await;

    let revoked_ws = workspace(&pool, None).await;
    let revoked_token = calendar_token(&pool, revoked_ws, "google", false).await;
    connection(&pool, revoked_ws, revoked_token, "primary", true).await;
    let revoked = channel(&pool, revoked_ws, revoked_token, "primary", 6 * 24).await;

    let result = run_tick(&state, tick("renew-watch-channels"), "req-1")
        .await
        .unwrap();

    let mut messages = delivered(&state, JobKind::CalendarSync).await;
    messages.sort_by(|a, b| a.1.cmp(&b.1));
    let mut expected = vec![
        (ws, "soon", soon),
        (ws, "later-soon", later_soon),
        (disabled_ws, "off", disabled),
        (revoked_ws, "primary", revoked),
    ]
    .into_iter()
    .map(|(ws, calendar, channel)| {
        (
            ws.to_string(),
            format!("renew-watch-channels:{channel}:{TICK}"),
            json!({ "ws_id": ws, "calendarId": calendar }),
        )
    })
    .collect::<Vec<_>>();
    expected.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(messages, expected);
    assert_eq!(result["enqueued"], 4);
    assert_eq!(result["fan_out"], "renew-watch-channels");
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn schedule_task_reaches_any_active_calendar_token(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let state = state(&pool, sqs().await, 1000).await;
    let google = workspace(&pool, None).await;
    calendar_token(&pool, google, "google", true).await;
    let microsoft = workspace(&pool, None).await;
    calendar_token(&pool, microsoft, "microsoft", true).await;
    let inactive = workspace(&pool, None).await;
    calendar_token(&pool, inactive, "google", false).await;

    run_tick(&state, tick("schedule-task"), "req-1")
        .await
        .unwrap();

    let groups = delivered_groups(&state, JobKind::ScheduleTask).await;
    assert_eq!(
        groups,
        BTreeSet::from([google.to_string(), microsoft.to_string()])
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn the_same_tick_twice_enqueues_once(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let state = state(&pool, sqs().await, 7).await;
    for _ in 0..30 {
        let ws = workspace(&pool, None).await;
        calendar_token(&pool, ws, "google", true).await;
    }

    // Through the handler: the ledger recognises the completed tick.
    run_tick(&state, tick("calendar-full-sync"), "req-1")
        .await
        .unwrap();
    let again = run_tick(&state, tick("calendar-full-sync"), "req-2")
        .await
        .unwrap();
    assert_eq!(again["duplicate_tick"], true);
    let statuses: Vec<String> = orchestrator_runs(&pool)
        .await
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(statuses, ["succeeded", "skipped"]);

    // Bypassing the ledger (a retry racing the first run): SQS drops the repeated ids.
    let parsed = Tick::parse(tick("calendar-full-sync"), test_now()).unwrap();
    let url = state.queues.get(JobKind::CalendarFullSync).unwrap();
    let repeat = fan_out::fan_out(&pool, &state.sqs, url, &parsed, state.options)
        .await
        .unwrap();
    assert_eq!(repeat.enqueued, 30, "SQS accepts the duplicates…");

    let messages = delivered(&state, JobKind::CalendarFullSync).await;
    assert_eq!(messages.len(), 30, "…and delivers each workspace once");

    // A later tick is new work.
    run_tick(
        &state,
        json!({ "fan_out": "calendar-full-sync", "scheduled_at": "2026-11-27T03:00:00Z" }),
        "req-3",
    )
    .await
    .unwrap();
    assert_eq!(delivered(&state, JobKind::CalendarFullSync).await.len(), 30);
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn unified_schedule_skips_personal_and_unset_timezones(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let state = state(&pool, sqs().await, 2).await;
    let berlin = workspace(&pool, Some("Europe/Berlin")).await;
    habit(&pool, berlin, true, true, false).await;
    let two_habits = workspace(&pool, Some("Asia/Ho_Chi_Minh")).await;
    habit(&pool, two_habits, true, true, false).await;
    habit(&pool, two_habits, true, true, false).await;
    let personal = workspace(&pool, Some("Europe/Berlin")).await;
    make_personal(&pool, personal).await;
    habit(&pool, personal, true, true, false).await;
    let auto = workspace(&pool, Some("auto")).await;
    habit(&pool, auto, true, true, false).await;
    let unset = workspace(&pool, None).await;
    habit(&pool, unset, true, true, false).await;
    // Not in the audience at all.
    for (active, auto_schedule, deleted) in [
        (false, true, false),
        (true, false, false),
        (true, true, true),
    ] {
        let ws = workspace(&pool, Some("Europe/Berlin")).await;
        habit(&pool, ws, active, auto_schedule, deleted).await;
    }

    let result = run_tick(&state, tick("unified-schedule"), "req-1")
        .await
        .unwrap();

    let groups = delivered_groups(&state, JobKind::UnifiedSchedule).await;
    assert_eq!(
        groups,
        BTreeSet::from([berlin.to_string(), two_habits.to_string()])
    );
    assert_eq!(result["total_workspaces"], 5);
    assert_eq!(result["enqueued"], 2);
    assert_eq!(result["skipped"], 3);
    let reasons: BTreeMap<String, u64> =
        serde_json::from_value(result["skipped_reasons"].clone()).unwrap();
    assert_eq!(
        reasons,
        BTreeMap::from([("personal".to_owned(), 1), ("timezone_unset".to_owned(), 2)])
    );
    let runs = orchestrator_runs(&pool).await;
    assert_eq!(runs[0].2["skipped_reasons"]["timezone_unset"], 2);
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn failed_batch_entries_are_sent_again(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let proxy = FaultyProxy::start(&endpoint, 3).await;
    let direct = sqs().await;
    let sdk = shared::aws::sdk_config().await;
    let through_proxy = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk)
            .endpoint_url(&proxy.url)
            .build(),
    );
    let mut state = state(&pool, direct.clone(), 1000).await;
    state.sqs = through_proxy;
    let mut expected = BTreeSet::new();
    for _ in 0..25 {
        let ws = workspace(&pool, None).await;
        calendar_token(&pool, ws, "google", true).await;
        expected.insert(ws.to_string());
    }

    let result = run_tick(&state, tick("calendar-sync"), "req-1")
        .await
        .unwrap();

    assert_eq!(proxy.injected(), 3);
    assert_eq!(proxy.remaining(), 0);
    state.sqs = direct;
    let groups = delivered_groups(&state, JobKind::CalendarSync).await;
    assert_eq!(groups, expected, "the dropped entries arrived on retry");
    assert_eq!(result["enqueued"], 25);
    assert_eq!(result["failed"], 0);
    assert_eq!(result["resent"], 3);
    assert_eq!(result["calls"], 3 + 3, "three batches, each retried once");
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn an_unknown_fan_out_is_refused_and_recorded(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let state = state(&pool, sqs().await, 1000).await;
    let ws = workspace(&pool, None).await;
    calendar_token(&pool, ws, "google", true).await;

    let err = run_tick(&state, json!({ "fan_out": "send-emails" }), "req-9")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("fan_out") && err.contains("send-emails"),
        "{err}"
    );

    let runs = orchestrator_runs(&pool).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].0, "dead");
    assert!(runs[0].1.as_deref().unwrap().contains("send-emails"));
    for task in JobKind::ALL {
        assert!(delivered(&state, task).await.is_empty());
    }
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn the_sample_event_fans_out_through_the_handler(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let state = state(&pool, sqs().await, 1000).await;
    let ws = workspace(&pool, Some("Europe/Berlin")).await;
    calendar_token(&pool, ws, "microsoft", true).await;
    let sample: serde_json::Value =
        serde_json::from_str(include_str!("../../events/orchestrator.json")).unwrap();
    let context = local_stack::event_source::lambda_context(std::time::Duration::from_secs(900));

    let result = state
        .handle(lambda_runtime::LambdaEvent::new(sample, context))
        .await
        .unwrap();

    assert_eq!(result["fan_out"], "schedule-task");
    let messages = delivered(&state, JobKind::ScheduleTask).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].1,
        format!("schedule-task:{ws}:2026-11-26T18:45:00Z")
    );
}
