//! Calendar-sync test support: workers pointed at the fake Google server, Google connections
//! seeded in Postgres, and the comparison of synced rows with the fake calendar's truth.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, NaiveDate, Utc};
use google_sync::google::GoogleConfig;
use google_sync::sync::{SyncConfig, SyncJob, Syncer};
use serde_json::Value;
use shared::config::Secret;
use shared::db::Db;
use shared::jobs::runner::{Clock, Runner};
use uuid::Uuid;

use crate::fake_google::{CLIENT_ID, CLIENT_SECRET, FakeGoogle, Grant};
use crate::{Queues, test_now, worker_config};

/// Google settings pointing at `fake`.
pub fn google_config(fake: &FakeGoogle) -> GoogleConfig {
    GoogleConfig {
        client_id: CLIENT_ID.to_owned(),
        client_secret: Secret::new(CLIENT_SECRET),
        api_url: fake.api_url.clone(),
        token_url: fake.token_url.clone(),
        request_timeout: Duration::from_secs(5),
        max_attempts: 4,
        page_size: 2500,
    }
}

/// The settings of a sync worker on `queues`, with Google at `fake`.
pub fn sync_config(queues: &Queues, fake: &FakeGoogle) -> SyncConfig {
    SyncConfig {
        worker: worker_config(queues),
        google: google_config(fake),
        master_key: None,
        checkpoint_margin: Duration::from_secs(30),
        watch: None,
    }
}

/// A syncer on `pool` with Google at `fake` (and the master key `master`, if any) that is never
/// to send to SQS: for suites and benchmarks that call `sync_workspace` directly.
pub async fn offline_syncer(pool: &Db, fake: &FakeGoogle, master: Option<&str>) -> Syncer {
    let queues = Queues {
        queue_url: "http://127.0.0.1:1/unused".to_owned(),
        dlq_url: "http://127.0.0.1:1/unused".to_owned(),
    };
    let config = SyncConfig {
        master_key: master.map(Secret::new),
        ..sync_config(&queues, fake)
    };
    Syncer::new(pool.clone(), shared::aws::sqs_client().await, &config)
        .expect("building the syncer")
}

/// The environment of a `calendar-sync` binary on the local stack, working `queues` with Google
/// at `fake` (logging at `info`); later entries a caller appends override these.
pub fn sync_binary_env(queues: &Queues, fake: &FakeGoogle) -> Vec<(String, String)> {
    let mut env = local_stack::local::stack_env();
    env.extend(
        [
            ("CALENDAR_SYNC_QUEUE_URL", queues.queue_url.as_str()),
            ("DEAD_LETTER_QUEUE_URL", queues.dlq_url.as_str()),
            ("GOOGLE_CLIENT_ID", CLIENT_ID),
            ("GOOGLE_CLIENT_SECRET", CLIENT_SECRET),
            ("GOOGLE_CALENDAR_API_URL", fake.api_url.as_str()),
            ("GOOGLE_OAUTH_TOKEN_URL", fake.token_url.as_str()),
            ("DATABASE_CONNECTION_MODE", crate::connection_mode().name()),
            ("RUST_LOG", "info"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    env
}

/// A worker's runner and job on the test database, its clock stopped at [`test_now`].
pub fn sync_worker<P>(
    pool: &Db,
    sqs: &aws_sdk_sqs::Client,
    config: &SyncConfig,
) -> (Runner, SyncJob<P>) {
    let runner =
        Runner::new(pool.clone(), sqs.clone(), &config.worker).with_clock(Clock::Fixed(test_now()));
    let syncer = Syncer::new(pool.clone(), sqs.clone(), config).expect("building the syncer");
    (runner, SyncJob::new(syncer))
}

/// Receives the next batch of `queues` and runs it through `runner` and `job` with `timeout`
/// left, then settles it as Lambda does (deletes what succeeded, retries the rest).
pub async fn run_next_batch<P: google_sync::sync::SyncPayload>(
    sqs: &aws_sdk_sqs::Client,
    queues: &Queues,
    runner: &Runner,
    job: &SyncJob<P>,
    timeout: Duration,
) -> (SqsEvent, SqsBatchResponse) {
    let event = crate::next_batch(sqs, &queues.queue_url).await;
    let context = local_stack::event_source::lambda_context(timeout);
    let response = runner
        .run_batch(
            job,
            event.clone(),
            shared::jobs::runner::deadline_from_epoch_millis(context.deadline),
        )
        .await
        .expect("running the batch");
    local_stack::event_source::EventSource::new(sqs.clone(), &queues.queue_url)
        .await
        .expect("an event source")
        .settle(&event, &response)
        .await
        .expect("settling the batch");
    (event, response)
}

/// A Berlin workspace connected to a new fake Google account (`<prefix>-<ws>`) whose primary
/// calendar holds `events` 15-minute events, an hour apart from `start`; returns the workspace
/// and the account.
pub async fn google_workspace(
    pool: &Db,
    fake: &FakeGoogle,
    prefix: &str,
    events: i64,
    start: DateTime<Utc>,
) -> (Uuid, String) {
    let ws = crate::workspace(pool, Some("Europe/Berlin")).await;
    let account = format!("{prefix}-{}", ws.simple());
    let grant = fake.add_account(&account);
    for i in 0..events {
        fake.put_event(
            &account,
            "primary",
            crate::fake_google::timed_event(
                &format!("e{i}"),
                "Standup",
                start + chrono::Duration::hours(i),
                15,
            ),
        );
    }
    connect_google(pool, ws, &grant, None, &["primary"]).await;
    (ws, account)
}

/// Stores `grant` as an active Google token of `ws_id` (for its creator) with one enabled
/// connection per calendar; returns the token id.
pub async fn connect_google(
    pool: &Db,
    ws_id: Uuid,
    grant: &Grant,
    expires_at: Option<DateTime<Utc>>,
    calendars: &[&str],
) -> Uuid {
    let token: Uuid = sqlx::query_scalar(
        "INSERT INTO public.calendar_auth_tokens
             (user_id, ws_id, access_token, refresh_token, provider, expires_at, account_email)
         SELECT creator_id, id, $2, $3, 'google', $4, gen_random_uuid()::text || '@example.com'
         FROM public.workspaces WHERE id = $1
         RETURNING id",
    )
    .bind(ws_id)
    .bind(&grant.access_token)
    .bind(&grant.refresh_token)
    .bind(expires_at)
    .fetch_one(pool)
    .await
    .expect("inserting a Google token");
    for calendar in calendars {
        sqlx::query(
            "INSERT INTO public.calendar_connections (ws_id, calendar_id, calendar_name, auth_token_id)
             VALUES ($1, $2, $2, $3)",
        )
        .bind(ws_id)
        .bind(calendar)
        .bind(token)
        .execute(pool)
        .await
        .expect("inserting a connection");
    }
    token
}

/// One synced row, as compared with the fake calendar.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SyncedRow {
    pub external_event_id: String,
    pub title: String,
    pub description: String,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub color: String,
}

/// The rows of `calendar` in `ws_id`, by event id.
pub async fn synced_rows(pool: &Db, ws_id: Uuid, calendar: &str) -> Vec<SyncedRow> {
    sqlx::query_as(
        "SELECT external_event_id, title, coalesce(description, '') AS description,
                start_at, end_at, coalesce(color, '') AS color
         FROM public.workspace_calendar_events
         WHERE ws_id = $1 AND provider = 'google' AND external_calendar_id = $2
         ORDER BY external_event_id",
    )
    .bind(ws_id)
    .bind(calendar)
    .fetch_all(pool)
    .await
    .expect("reading synced rows")
}

/// What the sync should have stored for the live events of a fake calendar: titles as given
/// (or "Untitled Event"), all-day dates at UTC midnight, Tuturuuu's colour names, and events
/// that end at or before their start kept as one day (all-day) or one minute (timed).
pub fn expected_rows(events: &[Value]) -> Vec<SyncedRow> {
    let mut rows: Vec<SyncedRow> = events
        .iter()
        .map(|event| SyncedRow {
            external_event_id: event["id"].as_str().unwrap_or_default().to_owned(),
            title: event["summary"]
                .as_str()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or("Untitled Event")
                .to_owned(),
            description: event["description"].as_str().unwrap_or_default().to_owned(),
            start_at: when(&event["start"]),
            end_at: stored_end(event),
            color: match event["colorId"].as_str() {
                Some("1") => "RED",
                Some("5") => "YELLOW",
                Some("11") | None => "BLUE",
                Some(other) => panic!("add colour {other} to the test mapping"),
            }
            .to_owned(),
        })
        .collect();
    rows.sort_by(|a, b| a.external_event_id.cmp(&b.external_event_id));
    rows
}

/// The stored end: Google's, unless it is not after the start; then one day after an all-day
/// start, one minute after a timed one.
fn stored_end(event: &Value) -> DateTime<Utc> {
    let (start, end) = (when(&event["start"]), when(&event["end"]));
    if end > start {
        end
    } else if event["start"]["date"].is_string() {
        start + chrono::Duration::days(1)
    } else {
        start + chrono::Duration::minutes(1)
    }
}

fn when(time: &Value) -> DateTime<Utc> {
    match time["dateTime"].as_str() {
        Some(t) => DateTime::parse_from_rfc3339(t)
            .expect("a test event time")
            .with_timezone(&Utc),
        None => NaiveDate::parse_from_str(time["date"].as_str().expect("a date"), "%Y-%m-%d")
            .expect("a test date")
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc(),
    }
}

/// Asserts that Postgres holds exactly the live events of the fake calendar.
pub async fn assert_mirrors(
    pool: &Db,
    ws_id: Uuid,
    fake: &FakeGoogle,
    account: &str,
    calendar: &str,
) {
    let stored = synced_rows(pool, ws_id, calendar).await;
    let expected = expected_rows(&fake.events(account, calendar));
    assert_eq!(
        stored.len(),
        expected.len(),
        "row count of {calendar} differs from the fake calendar"
    );
    assert_eq!(
        stored, expected,
        "rows of {calendar} differ from the fake calendar"
    );
}

/// The stored sync token of a connection.
pub async fn stored_sync_token(
    pool: &Db,
    ws_id: Uuid,
    token_id: Uuid,
    calendar: &str,
) -> Option<String> {
    sqlx::query_scalar(
        "SELECT sync_token FROM public.calendar_sync_states WHERE ws_id = $1 AND calendar_id = $2",
    )
    .bind(ws_id)
    .bind(format!("google:{token_id}:{calendar}"))
    .fetch_optional(pool)
    .await
    .expect("reading the sync token")
    .flatten()
}
