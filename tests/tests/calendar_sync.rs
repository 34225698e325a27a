//! `calendar-sync` and `calendar-full-sync` end to end: messages through the local SQS server,
//! the fake Google Calendar, rows in a real Postgres. After each scenario the rows are
//! compared with the fake calendar's truth.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use shared::db::Db;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, NaiveDate, Utc};
use google_sync::sync::connection::SyncKind;
use google_sync::sync::{SyncConfig, SyncJob};
use integration_tests::fake_google::{
    FakeGoogle, Fault, all_day_event, events_ending_at_or_before_their_start, timed_event,
};
use integration_tests::sync_support::{
    assert_mirrors, connect_google, run_next_batch, stored_sync_token, sync_config, sync_worker,
    synced_rows,
};
use integration_tests::{
    Queues, attribute, dead_letters, encrypt_workspace, fifo_queues, next_batch, receive, send,
    sqs, test_now, workspace,
};
use local_stack::event_source::lambda_context;
use serde_json::{Value, json};
use shared::encryption::MasterKey;
use shared::job_kind::LeaseScope;
use shared::jobs::runner::Runner;
use shared::jobs::worker::Function as _;
use shared::payload::{CalendarFullSyncPayload, CalendarSyncPayload};
use sqlx::PgPool;
use uuid::Uuid;

/// A worker under test: its queues, runner and job.
struct Worker<P> {
    sqs: aws_sdk_sqs::Client,
    queues: Queues,
    runner: Runner,
    job: SyncJob<P>,
}

impl<P: google_sync::sync::SyncPayload> Worker<P> {
    async fn new(pool: &Db, fake: &FakeGoogle, tune: impl FnOnce(&mut SyncConfig)) -> Self {
        let sqs = sqs().await;
        let queues = fifo_queues(&sqs, 60).await;
        let mut config = sync_config(&queues, fake);
        tune(&mut config);
        let (runner, job) = sync_worker(pool, &sqs, &config);
        Worker {
            sqs,
            queues,
            runner,
            job,
        }
    }

    /// Sends a message for `ws_id` (optionally one calendar).
    async fn enqueue(&self, ws_id: Uuid, calendar: Option<&str>) -> String {
        let mut body = json!({ "ws_id": ws_id });
        if let Some(calendar) = calendar {
            body["calendarId"] = json!(calendar);
        }
        send(
            &self.sqs,
            &self.queues.queue_url,
            &ws_id.to_string(),
            &Uuid::new_v4().to_string(),
            &body.to_string(),
        )
        .await
    }

    /// Receives the next batch and runs it with `timeout` left, settling it as Lambda does.
    async fn invoke(&self, timeout: Duration) -> (SqsEvent, SqsBatchResponse) {
        run_next_batch(&self.sqs, &self.queues, &self.runner, &self.job, timeout).await
    }

    /// One message for `ws_id`, delivered and run.
    async fn sync(&self, ws_id: Uuid) -> SqsBatchResponse {
        self.enqueue(ws_id, None).await;
        self.invoke(Duration::from_secs(120)).await.1
    }

    /// Redelivers the records of `event` that were reported failed, now instead of after their
    /// backoff (their FIFO group is blocked until then), and runs them.
    async fn retry_now(&self, event: &SqsEvent, response: &SqsBatchResponse) -> SqsBatchResponse {
        for failure in &response.batch_item_failures {
            let record = event
                .records
                .iter()
                .find(|r| r.message_id.as_deref() == Some(failure.item_identifier.as_str()))
                .unwrap();
            self.sqs
                .change_message_visibility()
                .queue_url(&self.queues.queue_url)
                .receipt_handle(record.receipt_handle.clone().unwrap())
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        }
        self.invoke(Duration::from_secs(120)).await.1
    }
}

/// The latest run's status and result for `ws_id`.
async fn last_run(pool: &Db, ws_id: Uuid) -> (String, Value) {
    sqlx::query_as(
        "SELECT status, coalesce(result, '{}'::jsonb) FROM jobs.runs
         WHERE ws_id = $1 ORDER BY started_at DESC, finished_at DESC NULLS FIRST LIMIT 1",
    )
    .bind(ws_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The latest dashboard row: status, inserted, updated, deleted, pages.
async fn last_dashboard(pool: &Db, ws_id: Uuid) -> (String, i32, i32, i32, i32) {
    sqlx::query_as(
        "SELECT status, inserted_events, updated_events, deleted_events, google_api_pages_fetched
         FROM public.calendar_sync_dashboard WHERE ws_id = $1 ORDER BY start_time DESC LIMIT 1",
    )
    .bind(ws_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

fn at(days: i64, hour: u32) -> DateTime<Utc> {
    let day = test_now().date_naive();
    let day = if days >= 0 {
        day + chrono::Days::new(days.unsigned_abs())
    } else {
        day - chrono::Days::new(days.unsigned_abs())
    };
    day.and_hms_opt(hour, 0, 0).unwrap().and_utc()
}

/// `n` one-hour events `e000…` spread over the coming weeks.
fn seed(fake: &FakeGoogle, account: &str, calendar: &str, prefix: &str, n: usize) {
    for i in 0..n {
        let start = at((i % 40) as i64 - 10, 8 + (i % 9) as u32);
        fake.put_event(
            account,
            calendar,
            timed_event(
                &format!("{prefix}{i:03}"),
                &format!("Meeting {i}"),
                start,
                60,
            ),
        );
    }
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn first_sync_then_changes_reach_postgres_exactly(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("ana");
    seed(&fake, "ana", "primary", "e", 12);
    let mut coloured = timed_event("red", "Dentist", at(2, 9), 30);
    coloured["colorId"] = json!("1");
    coloured["description"] = json!("Bring the card");
    fake.put_event("ana", "primary", coloured);
    let ws = workspace(&pool, None).await;
    let token = connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let worker = Worker::<CalendarSyncPayload>::new(&pool, &fake, |_| {}).await;

    let response = worker.sync(ws).await;
    assert!(response.batch_item_failures.is_empty());
    assert_mirrors(&pool, ws, &fake, "ana", "primary").await;
    assert_eq!(
        last_dashboard(&pool, ws).await,
        ("completed".into(), 13, 0, 0, 1)
    );
    let (status, result) = last_run(&pool, ws).await;
    assert_eq!(status, "succeeded");
    assert_eq!(result["inserted"], 13);
    let first_token = stored_sync_token(&pool, ws, token, "primary").await;
    assert!(first_token.is_some(), "the sync token is stored");
    let locked: bool = sqlx::query_scalar(
        "SELECT bool_and(locked AND sync_status = 'synced' AND last_synced_at IS NOT NULL
                         AND external_updated_at IS NOT NULL)
         FROM public.workspace_calendar_events WHERE ws_id = $1",
    )
    .bind(ws)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        locked,
        "synced rows are locked, synced, and carry Google's updated time"
    );

    // Create one, update one, cancel one: the incremental listing carries exactly these.
    fake.put_event("ana", "primary", timed_event("new", "Lunch", at(3, 12), 60));
    fake.put_event(
        "ana",
        "primary",
        timed_event("e001", "Moved meeting", at(4, 15), 45),
    );
    fake.cancel_event("ana", "primary", "e002");
    let calls_before = fake.list_calls();
    worker.sync(ws).await;
    assert_mirrors(&pool, ws, &fake, "ana", "primary").await;
    assert_eq!(
        last_dashboard(&pool, ws).await,
        ("completed".into(), 1, 1, 1, 1)
    );
    assert_eq!(fake.list_calls() - calls_before, 1, "one sync-token page");
    let second_token = stored_sync_token(&pool, ws, token, "primary").await;
    assert_ne!(
        second_token, first_token,
        "the token advanced with the data"
    );
    let used: bool = sqlx::query_scalar(
        "SELECT sync_token_used FROM public.calendar_sync_dashboard
         WHERE ws_id = $1 ORDER BY start_time DESC LIMIT 1",
    )
    .bind(ws)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(used);
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn full_sync_follows_every_page_of_its_window(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    fake.set_page_limit(7);
    let grant = fake.add_account("bo");
    seed(&fake, "bo", "primary", "e", 40);
    // Outside now −90 d … now +180 d: never listed by a full sync.
    fake.put_event(
        "bo",
        "primary",
        timed_event("old", "Long ago", at(-200, 9), 60),
    );
    fake.put_event(
        "bo",
        "primary",
        timed_event("far", "Far ahead", at(400, 9), 60),
    );
    let ws = workspace(&pool, None).await;
    let token = connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let worker = Worker::<CalendarFullSyncPayload>::new(&pool, &fake, |_| {}).await;

    worker.sync(ws).await;
    let stored = synced_rows(&pool, ws, "primary").await;
    assert_eq!(stored.len(), 40);
    assert!(stored.iter().all(|r| r.external_event_id.starts_with('e')));
    assert_eq!(fake.list_calls(), 6, "⌈40 / 7⌉ pages");
    assert_eq!(
        last_dashboard(&pool, ws).await,
        ("completed".into(), 40, 0, 0, 6)
    );
    assert!(
        stored_sync_token(&pool, ws, token, "primary")
            .await
            .is_some()
    );

    // Truth within the window: drop the two outside events and compare.
    fake.cancel_event("bo", "primary", "old");
    fake.cancel_event("bo", "primary", "far");
    assert_mirrors(&pool, ws, &fake, "bo", "primary").await;
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn an_expired_sync_token_falls_back_to_the_date_range(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("cy");
    seed(&fake, "cy", "primary", "e", 10);
    let ws = workspace(&pool, None).await;
    let token = connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let worker = Worker::<CalendarSyncPayload>::new(&pool, &fake, |_| {}).await;
    worker.sync(ws).await;
    let old_token = stored_sync_token(&pool, ws, token, "primary").await;

    fake.expire_sync_tokens();
    fake.put_event(
        "cy",
        "primary",
        timed_event("e003", "Renamed", at(1, 10), 30),
    );
    fake.put_event(
        "cy",
        "primary",
        timed_event("added", "Added", at(5, 10), 30),
    );
    let response = worker.sync(ws).await;
    assert!(response.batch_item_failures.is_empty());
    assert_mirrors(&pool, ws, &fake, "cy", "primary").await;
    let (_, result) = last_run(&pool, ws).await;
    assert_eq!(result["sync_token_fallbacks"], 1);
    let new_token = stored_sync_token(&pool, ws, token, "primary").await;
    assert!(new_token.is_some() && new_token != old_token);

    // The new token works: the next sync is one incremental page again.
    let calls = fake.list_calls();
    fake.cancel_event("cy", "primary", "e004");
    worker.sync(ws).await;
    assert_eq!(fake.list_calls() - calls, 1);
    assert_mirrors(&pool, ws, &fake, "cy", "primary").await;
}

/// The ids of the stored Google rows of `calendar`.
async fn stored_ids(pool: &Db, ws: Uuid, calendar: &str) -> Vec<String> {
    synced_rows(pool, ws, calendar)
        .await
        .into_iter()
        .map(|row| row.external_event_id)
        .collect()
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn after_a_410_events_google_forgot_while_the_token_was_invalid_are_removed(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("wi");
    seed(&fake, "wi", "primary", "e", 10);
    fake.put_event(
        "wi",
        "other",
        timed_event("o1", "Other calendar", at(2, 9), 30),
    );
    let ws = workspace(&pool, None).await;
    connect_google(&pool, ws, &grant, None, &["primary", "other"]).await;
    let worker = Worker::<CalendarSyncPayload>::new(&pool, &fake, |_| {}).await;
    worker.sync(ws).await;
    assert_eq!(stored_ids(&pool, ws, "primary").await.len(), 10);
    // A user's own event in the same hours is never Google's to remove.
    let manual = integration_tests::event(&pool, ws, at(-8, 8), at(-8, 9), false).await;

    // While the token is invalid, one event is deleted and Google forgets its tombstone, and
    // one moves far outside the sync window: neither is ever reported as a change.
    fake.cancel_event("wi", "primary", "e002");
    fake.put_event(
        "wi",
        "primary",
        timed_event("e005", "Moved", at(200, 9), 60),
    );
    fake.purge_tombstones();
    fake.expire_sync_tokens();
    let response = worker.sync(ws).await;
    assert!(response.batch_item_failures.is_empty());

    // Postgres equals Google for the window.
    let window_end = at(90, 0);
    let mut expected: Vec<String> = fake
        .events("wi", "primary")
        .iter()
        .filter(|e| {
            e["start"]["dateTime"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap()
                < window_end
        })
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    assert_eq!(stored_ids(&pool, ws, "primary").await, expected);
    assert!(!expected.contains(&"e002".to_owned()) && !expected.contains(&"e005".to_owned()));
    let (_, result) = last_run(&pool, ws).await;
    assert_eq!(
        result["sync_token_fallbacks"], 2,
        "both calendars' tokens had expired"
    );
    assert_eq!(result["removed_unlisted"], 2);
    assert_eq!(
        stored_ids(&pool, ws, "other").await,
        ["o1"],
        "the other calendar is untouched"
    );
    let kept: i64 =
        sqlx::query_scalar("SELECT count(*) FROM public.workspace_calendar_events WHERE id = $1")
            .bind(manual)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(kept, 1, "the manual event stays");

    // A later incremental sync (a token again) removes nothing.
    worker.sync(ws).await;
    let (_, result) = last_run(&pool, ws).await;
    assert_eq!(result["removed_unlisted"], 0);
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn expired_access_tokens_are_refreshed_and_persisted(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("di");
    seed(&fake, "di", "primary", "e", 5);
    let ws = workspace(&pool, None).await;
    // Google no longer accepts the stored token, and nothing says it expired: the 401 path.
    let token = connect_google(&pool, ws, &grant, None, &["primary"]).await;
    fake.expire_access_tokens("di");
    let worker = Worker::<CalendarSyncPayload>::new(&pool, &fake, |_| {}).await;

    // Token lifetimes are real time (Google's clock and ours), not the run's `now`: the stored
    // expiry is bounded by the instants around the refresh.
    let before = Utc::now();
    worker.sync(ws).await;
    let after = Utc::now();
    assert_mirrors(&pool, ws, &fake, "di", "primary").await;
    assert_eq!(fake.refresh_calls(), 1);
    let (access, expires_at): (String, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT access_token, expires_at FROM public.calendar_auth_tokens WHERE id = $1",
    )
    .bind(token)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_ne!(access, grant.access_token, "the new access token is stored");
    let expires_at = expires_at.expect("expires_at is stored");
    let lifetime = chrono::Duration::seconds(3599);
    assert!(
        (before + lifetime - chrono::Duration::seconds(1)..=after + lifetime).contains(&expires_at),
        "expires_at {expires_at} is not {lifetime} after the refresh ({before} .. {after})"
    );

    // The stored token is used as is next time: no refresh.
    worker.sync(ws).await;
    assert_eq!(fake.refresh_calls(), 1);

    // Expiring within 5 minutes: refreshed before the call, without a 401.
    sqlx::query("UPDATE public.calendar_auth_tokens SET expires_at = now() + interval '2 minutes' WHERE id = $1")
        .bind(token)
        .execute(&pool)
        .await
        .unwrap();
    let calls = fake.list_calls();
    worker.sync(ws).await;
    assert_eq!(fake.refresh_calls(), 2);
    assert_eq!(
        fake.list_calls() - calls,
        1,
        "no rejected call before the refresh"
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_revoked_grant_deactivates_the_token_and_fails_only_its_workspace(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    let revoked = fake.add_account("ed");
    let fine = fake.add_account("fa");
    seed(&fake, "ed", "primary", "e", 3);
    seed(&fake, "fa", "primary", "f", 4);
    let ws_revoked = workspace(&pool, None).await;
    let ws_fine = workspace(&pool, None).await;
    let revoked_token = connect_google(&pool, ws_revoked, &revoked, None, &["primary"]).await;
    connect_google(&pool, ws_fine, &fine, None, &["primary"]).await;
    fake.revoke("ed");
    let worker = Worker::<CalendarSyncPayload>::new(&pool, &fake, |_| {}).await;

    let dead_id = worker.enqueue(ws_revoked, None).await;
    worker.enqueue(ws_fine, None).await;
    let (event, response) = worker.invoke(Duration::from_secs(120)).await;
    assert_eq!(event.records.len(), 2, "both workspaces in one batch");
    assert!(
        response.batch_item_failures.is_empty(),
        "the dead one is acknowledged"
    );

    assert_mirrors(&pool, ws_fine, &fake, "fa", "primary").await;
    assert_eq!(last_run(&pool, ws_fine).await.0, "succeeded");
    assert_eq!(last_run(&pool, ws_revoked).await.0, "dead");
    assert!(synced_rows(&pool, ws_revoked, "primary").await.is_empty());
    let active: bool =
        sqlx::query_scalar("SELECT is_active FROM public.calendar_auth_tokens WHERE id = $1")
            .bind(revoked_token)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!active, "the revoked token is deactivated");
    assert_eq!(last_dashboard(&pool, ws_revoked).await.0, "failed");

    let letters = dead_letters(&worker.sqs, &worker.queues.dlq_url).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(
        attribute(&letters[0], "original_message_id").as_deref(),
        Some(dead_id.as_str())
    );
    let error = attribute(&letters[0], "error").unwrap();
    assert!(error.contains("invalid_grant"), "{error}");
    assert!(!error.contains(&revoked.refresh_token) && !error.contains(&revoked.access_token));
    assert!(
        receive(&worker.sqs, &worker.queues.queue_url, 0)
            .await
            .is_empty()
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn transient_google_errors_are_retried_to_a_correct_state(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    fake.set_page_limit(4);
    let grant = fake.add_account("gu");
    seed(&fake, "gu", "primary", "e", 10);
    let ws = workspace(&pool, None).await;
    connect_google(&pool, ws, &grant, None, &["primary"]).await;
    fake.inject([
        Fault::Status(500),
        Fault::RateLimited { retry_after: 1 },
        Fault::Status(503),
    ]);
    let worker = Worker::<CalendarSyncPayload>::new(&pool, &fake, |_| {}).await;

    let response = worker.sync(ws).await;
    assert!(response.batch_item_failures.is_empty());
    assert_mirrors(&pool, ws, &fake, "gu", "primary").await;
    assert_eq!(fake.faults_served(), 3);
    assert_eq!(
        fake.list_calls(),
        3 + 3,
        "three pages, three retried answers"
    );
    let retries: i32 = sqlx::query_scalar(
        "SELECT google_api_retry_count FROM public.calendar_sync_dashboard WHERE ws_id = $1",
    )
    .bind(ws)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(retries, 3);

    // More failures than attempts: the message is retried later, nothing half-stored.
    fake.put_event("gu", "primary", timed_event("late", "Late", at(1, 9), 30));
    fake.inject([Fault::Status(503); 4]);
    worker.enqueue(ws, None).await;
    let (event, response) = worker.invoke(Duration::from_secs(120)).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(last_run(&pool, ws).await.0, "failed");
    let response = worker.retry_now(&event, &response).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(last_run(&pool, ws).await.0, "succeeded");
    assert_mirrors(&pool, ws, &fake, "gu", "primary").await;
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_database_failure_mid_sync_never_advances_the_token(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    fake.set_page_limit(5);
    let grant = fake.add_account("hu");
    seed(&fake, "hu", "primary", "e", 12);
    let ws = workspace(&pool, None).await;
    let token = connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let worker = Worker::<CalendarSyncPayload>::new(&pool, &fake, |_| {}).await;
    worker.sync(ws).await;
    let good_token = stored_sync_token(&pool, ws, token, "primary")
        .await
        .unwrap();

    // A page holding a "poison" title fails to write, the way a dropped connection would.
    sqlx::query(
        "CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.title = 'poison' THEN RAISE EXCEPTION 'injected write failure'; END IF;
         RETURN NEW; END $$",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "CREATE TRIGGER test_poison BEFORE INSERT OR UPDATE ON public.workspace_calendar_events
         FOR EACH ROW EXECUTE FUNCTION test_poison()",
    )
    .execute(&pool)
    .await
    .unwrap();
    // After a 410 the window is relisted in pages of 5; the new events sort last, so pages 1–3
    // commit and page 4, holding the poison, fails.
    fake.expire_sync_tokens();
    for i in 0..6 {
        let title = if i == 4 { "poison" } else { "New" };
        fake.put_event(
            "hu",
            "primary",
            timed_event(&format!("n{i}"), title, at(40, 9 + i), 30),
        );
    }
    worker.enqueue(ws, None).await;
    let (event, response) = worker.invoke(Duration::from_secs(120)).await;
    assert_eq!(response.batch_item_failures.len(), 1, "retried");
    let (status, _) = last_run(&pool, ws).await;
    assert_eq!(status, "failed");
    assert_eq!(
        stored_sync_token(&pool, ws, token, "primary").await,
        None,
        "the 410 cleared the token and no new one was stored past the failed page"
    );
    let titles: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM public.workspace_calendar_events WHERE ws_id = $1 AND title = 'poison'",
    )
    .bind(ws)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(titles, 0, "the failed page rolled back");
    assert_ne!(good_token, "");

    let checkpoint: i32 = sqlx::query_scalar("SELECT pages_done FROM jobs.sync_checkpoints")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(checkpoint, 3, "the committed pages are remembered");

    sqlx::query("DROP TRIGGER test_poison ON public.workspace_calendar_events")
        .execute(&pool)
        .await
        .unwrap();
    let calls = fake.list_calls();
    worker.retry_now(&event, &response).await;
    assert_eq!(
        fake.list_calls() - calls,
        1,
        "the retry resumes at the failed page"
    );
    assert_eq!(last_run(&pool, ws).await.0, "succeeded");
    assert_mirrors(&pool, ws, &fake, "hu", "primary").await;
    assert!(
        stored_sync_token(&pool, ws, token, "primary")
            .await
            .is_some()
    );
    let checkpoints: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs.sync_checkpoints")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(checkpoints, 0);
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn the_same_message_twice_writes_no_duplicates(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("io");
    seed(&fake, "io", "primary", "e", 8);
    let ws = workspace(&pool, None).await;
    connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let worker = Worker::<CalendarSyncPayload>::new(&pool, &fake, |_| {}).await;

    worker.enqueue(ws, None).await;
    let event = next_batch(&worker.sqs, &worker.queues.queue_url).await;
    let source =
        local_stack::event_source::EventSource::new(worker.sqs.clone(), &worker.queues.queue_url)
            .await
            .unwrap();
    for _ in 0..2 {
        let response = worker
            .runner
            .run_batch(&worker.job, event.clone(), None)
            .await
            .unwrap();
        assert!(response.batch_item_failures.is_empty());
        source.settle(&event, &response).await.unwrap();
    }
    let statuses: Vec<String> =
        sqlx::query_scalar("SELECT status FROM jobs.runs WHERE ws_id = $1 ORDER BY started_at")
            .bind(ws)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(statuses, ["succeeded", "skipped"]);

    // A replay with a new id (a second producer) does the work again, harmlessly: the rows
    // are listed again but equal to what is stored, so none is rewritten.
    sqlx::query("DELETE FROM public.calendar_sync_states")
        .execute(&pool)
        .await
        .unwrap();
    worker.sync(ws).await;
    assert_mirrors(&pool, ws, &fake, "io", "primary").await;
    assert_eq!(
        last_dashboard(&pool, ws).await,
        ("completed".into(), 0, 0, 0, 1)
    );
    assert_eq!(last_run(&pool, ws).await.1["unchanged"], 8);
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn multibyte_titles_are_cut_on_character_boundaries_and_all_day_events_kept(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("ju");
    let emoji = "😀".repeat(300); // 300 characters, 1200 bytes
    let accents = "é".repeat(600); // 600 characters, 1200 bytes
    let mut long = timed_event("long", &emoji, at(1, 9), 30);
    long["description"] = json!("日本".repeat(6000)); // 12 000 characters
    fake.put_event("ju", "primary", long);
    fake.put_event(
        "ju",
        "primary",
        timed_event("accents", &accents, at(1, 11), 30),
    );
    fake.put_event("ju", "primary", timed_event("blank", "   ", at(1, 13), 30));
    let day = test_now().date_naive() + chrono::Days::new(3);
    fake.put_event("ju", "primary", all_day_event("holiday", "Holiday", day, 2));
    let ws = workspace(&pool, None).await;
    connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let worker = Worker::<CalendarSyncPayload>::new(&pool, &fake, |_| {}).await;
    worker.sync(ws).await;

    let rows = synced_rows(&pool, ws, "primary").await;
    let row = |id: &str| rows.iter().find(|r| r.external_event_id == id).unwrap();
    assert_eq!(
        row("long").title,
        "😀".repeat(255),
        "255 characters, 1020 bytes"
    );
    assert_eq!(
        row("long").description,
        "日本".repeat(5000),
        "10 000 characters"
    );
    assert_eq!(row("accents").title, "é".repeat(255));
    assert_eq!(row("blank").title, "Untitled Event");
    let holiday = row("holiday");
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap().and_utc();
    assert_eq!(holiday.start_at, midnight(day));
    assert_eq!(
        holiday.end_at,
        midnight(day + chrono::Days::new(2)),
        "Google's exclusive end"
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn two_connections_of_one_workspace_sync_side_by_side(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    let first = fake.add_account("ka");
    let second = fake.add_account("lu");
    seed(&fake, "ka", "primary", "a", 6);
    seed(&fake, "ka", "team@example.com", "t", 3);
    seed(&fake, "lu", "lu@example.com", "b", 5);
    let ws = workspace(&pool, None).await;
    let first_token =
        connect_google(&pool, ws, &first, None, &["primary", "team@example.com"]).await;
    connect_google(&pool, ws, &second, None, &["lu@example.com"]).await;
    // Deletes are off for the team calendar: its cancelled events stay.
    sqlx::query("UPDATE public.calendar_connections SET sync_delete_enabled = false WHERE calendar_id = 'team@example.com'")
        .execute(&pool)
        .await
        .unwrap();
    let worker = Worker::<CalendarSyncPayload>::new(&pool, &fake, |_| {}).await;

    worker.sync(ws).await;
    assert_mirrors(&pool, ws, &fake, "ka", "primary").await;
    assert_mirrors(&pool, ws, &fake, "ka", "team@example.com").await;
    assert_mirrors(&pool, ws, &fake, "lu", "lu@example.com").await;
    let (_, result) = last_run(&pool, ws).await;
    assert_eq!(result["connections"], 3);

    fake.cancel_event("ka", "team@example.com", "t000");
    fake.cancel_event("ka", "primary", "a000");
    // Only the named calendar this time.
    worker.enqueue(ws, Some("team@example.com")).await;
    worker.invoke(Duration::from_secs(120)).await;
    assert_eq!(
        synced_rows(&pool, ws, "team@example.com").await.len(),
        3,
        "delete is off"
    );
    assert_eq!(
        synced_rows(&pool, ws, "primary").await.len(),
        6,
        "not synced this time"
    );
    worker.sync(ws).await;
    assert_mirrors(&pool, ws, &fake, "ka", "primary").await;
    assert!(
        stored_sync_token(&pool, ws, first_token, "team@example.com")
            .await
            .is_some()
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn the_calendar_lease_keeps_a_concurrent_full_sync_out(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("mo");
    seed(&fake, "mo", "primary", "e", 4);
    let ws = workspace(&pool, None).await;
    connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let full = Worker::<CalendarFullSyncPayload>::new(&pool, &fake, |_| {}).await;

    // An incremental sync holds the workspace's calendar lease.
    let holder = Uuid::new_v4();
    let lease = Duration::from_secs(60);
    assert!(
        shared::jobs::lease::try_acquire(&pool, LeaseScope::Calendar, ws, holder, lease)
            .await
            .unwrap()
    );
    full.enqueue(ws, None).await;
    let (event, response) = full.invoke(Duration::from_secs(120)).await;
    assert_eq!(response.batch_item_failures.len(), 1, "retried later");
    assert_eq!(fake.list_calls(), 0, "Google was not called");
    assert!(synced_rows(&pool, ws, "primary").await.is_empty());
    let (status, _) = last_run(&pool, ws).await;
    assert_eq!(status, "failed");

    assert!(
        shared::jobs::lease::release(&pool, LeaseScope::Calendar, ws, holder)
            .await
            .unwrap()
    );
    full.retry_now(&event, &response).await;
    assert_mirrors(&pool, ws, &fake, "mo", "primary").await;
    let leases: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs.leases")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(leases, 0, "released after the run");
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn an_encrypted_workspace_stores_ciphertext_that_decrypts_to_the_calendar(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("nu");
    seed(&fake, "nu", "primary", "e", 4);
    let mut detailed = timed_event("detailed", &"ü".repeat(300), at(2, 9), 30);
    detailed["description"] = json!("Agenda");
    detailed["location"] = json!("Room 4");
    fake.put_event("nu", "primary", detailed);
    let ws = workspace(&pool, None).await;
    connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let master_secret = shared::config::Secret::new("test-master-key");
    let master = MasterKey::derive(&master_secret).unwrap();
    let key = encrypt_workspace(&pool, ws, &master).await;
    let worker = Worker::<CalendarSyncPayload>::new(&pool, &fake, |config| {
        config.master_key = Some(master_secret.clone());
    })
    .await;
    worker.sync(ws).await;

    let stored: Vec<(String, String, String, String, bool)> = sqlx::query_as(
        "SELECT external_event_id, title, description, location, is_encrypted
         FROM public.workspace_calendar_events WHERE ws_id = $1 ORDER BY external_event_id",
    )
    .bind(ws)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(stored.len(), 5);
    for (id, title, description, location, encrypted) in &stored {
        assert!(encrypted, "{id} is marked encrypted");
        assert!(
            title.chars().count() <= 255,
            "the ciphertext fits the column"
        );
        let truth = fake
            .events("nu", "primary")
            .into_iter()
            .find(|e| e["id"] == json!(id))
            .unwrap();
        let plain_title = key.decrypt(title).unwrap();
        let summary = truth["summary"].as_str().unwrap();
        assert!(
            summary.starts_with(&plain_title),
            "{id}: decrypts to a prefix of the summary"
        );
        if id == "detailed" {
            assert!(
                plain_title.chars().count() < 300,
                "clamped for the ciphertext budget"
            );
            assert_eq!(key.decrypt(description).unwrap(), "Agenda");
            assert_eq!(key.decrypt(location).unwrap(), "Room 4");
        } else {
            assert_eq!(plain_title, summary);
            assert_eq!(description, "", "empty stays empty");
        }
    }
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_calendar_too_large_for_one_invocation_finishes_through_checkpoints(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    fake.set_page_limit(5);
    fake.set_delay(Duration::from_millis(250));
    let grant = fake.add_account("ol");
    seed(&fake, "ol", "primary", "e", 40);
    let ws = workspace(&pool, None).await;
    let token = connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let worker = Worker::<CalendarFullSyncPayload>::new(&pool, &fake, |config| {
        config.checkpoint_margin = Duration::from_secs(1);
    })
    .await;

    // 8 pages of 250 ms cannot fit in 3 s with a 1 s margin.
    worker.enqueue(ws, None).await;
    let (_, response) = worker.invoke(Duration::from_secs(3)).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "the first part succeeded"
    );
    let (status, result) = last_run(&pool, ws).await;
    assert_eq!(status, "succeeded");
    assert_eq!(result["continued"], json!(["primary"]));
    let partial = synced_rows(&pool, ws, "primary").await.len();
    assert!(
        partial > 0 && partial < 40,
        "{partial} rows after the first invocation"
    );
    assert_eq!(stored_sync_token(&pool, ws, token, "primary").await, None);
    // A row Google no longer has, in the middle of the window: removed only once the listing
    // that spans invocations has finished.
    sqlx::query(
        "INSERT INTO public.workspace_calendar_events
             (ws_id, title, start_at, end_at, provider, external_calendar_id, external_event_id, locked)
         VALUES ($1, 'Gone from Google', $2, $3, 'google', 'primary', 'stale', true)",
    )
    .bind(ws)
    .bind(at(3, 8))
    .bind(at(3, 9))
    .execute(&pool)
    .await
    .unwrap();

    let mut invocations = 1;
    loop {
        let visible = receive(&worker.sqs, &worker.queues.queue_url, 0).await;
        if visible.is_empty() {
            break;
        }
        // Give it back and run it as the next delivery.
        for message in &visible {
            worker
                .sqs
                .change_message_visibility()
                .queue_url(&worker.queues.queue_url)
                .receipt_handle(message.receipt_handle().unwrap())
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        }
        let before = stored_ids(&pool, ws, "primary").await;
        worker.invoke(Duration::from_secs(3)).await;
        invocations += 1;
        assert!(invocations < 20, "the sync makes progress");
        let (_, result) = last_run(&pool, ws).await;
        if result["continued"] == json!(["primary"]) {
            assert!(before.contains(&"stale".to_owned()) || invocations > 2);
            assert!(
                stored_ids(&pool, ws, "primary")
                    .await
                    .contains(&"stale".to_owned())
            );
        }
    }
    let (_, result) = last_run(&pool, ws).await;
    assert_eq!(
        result["removed_unlisted"], 1,
        "removed by the invocation that finished"
    );
    assert!(invocations >= 2);
    assert_mirrors(&pool, ws, &fake, "ol", "primary").await;
    assert!(
        stored_sync_token(&pool, ws, token, "primary")
            .await
            .is_some()
    );
    assert_eq!(fake.list_calls(), 8, "no page was fetched twice");
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn the_sample_events_run_through_both_handlers(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("demo");
    seed(&fake, "demo", "primary", "d", 6);
    local_stack::demo::seed(&pool, test_now()).await.unwrap();
    let ws = local_stack::demo::DEMO_WS;
    connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 60).await;
    let config = sync_config(&queues, &fake);

    let (runner, job) = sync_worker(&pool, &sqs, &config);
    let state = calendar_sync::Function { runner, job };
    let event: SqsEvent =
        serde_json::from_str(include_str!("../../events/calendar-sync.json")).unwrap();
    let context = lambda_context(Duration::from_secs(120));
    let response = state
        .handle(lambda_runtime::LambdaEvent::new(event, context))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_mirrors(&pool, ws, &fake, "demo", "primary").await;

    fake.put_event(
        "demo",
        "primary",
        timed_event("extra", "Extra", at(1, 9), 30),
    );
    let (runner, job) = sync_worker(&pool, &sqs, &config);
    let state = calendar_full_sync::Function { runner, job };
    let event: SqsEvent =
        serde_json::from_str(include_str!("../../events/calendar-full-sync.json")).unwrap();
    let context = lambda_context(Duration::from_secs(120));
    state
        .handle(lambda_runtime::LambdaEvent::new(event, context))
        .await
        .unwrap();
    assert_mirrors(&pool, ws, &fake, "demo", "primary").await;
    let tasks: Vec<(String, String)> =
        sqlx::query_as("SELECT task, status FROM jobs.runs WHERE ws_id = $1 ORDER BY started_at")
            .bind(ws)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        tasks,
        [
            ("calendar-sync".to_owned(), "succeeded".to_owned()),
            ("calendar-full-sync".to_owned(), "succeeded".to_owned())
        ]
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn one_failing_connection_does_not_stop_the_others(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    let revoked = fake.add_account("pa");
    let fine = fake.add_account("qu");
    seed(&fake, "pa", "pa@example.com", "p", 3);
    seed(&fake, "qu", "qu@example.com", "q", 4);
    let ws = workspace(&pool, None).await;
    let revoked_token = connect_google(&pool, ws, &revoked, None, &["pa@example.com"]).await;
    connect_google(&pool, ws, &fine, None, &["qu@example.com"]).await;
    fake.revoke("pa");
    // Slower than the client's timeout once: retried within the call.
    fake.inject([Fault::Slow(Duration::from_millis(1500))]);
    let worker = Worker::<CalendarSyncPayload>::new(&pool, &fake, |config| {
        config.google.request_timeout = Duration::from_secs(1);
    })
    .await;

    let response = worker.sync(ws).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "one connection succeeded"
    );
    assert_mirrors(&pool, ws, &fake, "qu", "qu@example.com").await;
    assert!(synced_rows(&pool, ws, "pa@example.com").await.is_empty());
    let (status, result) = last_run(&pool, ws).await;
    assert_eq!(status, "succeeded");
    assert_eq!(result["failed_connections"], 1);
    assert!(
        result["failures"][0]["error"]
            .as_str()
            .unwrap()
            .contains("invalid_grant")
    );
    assert_eq!(last_dashboard(&pool, ws).await.0, "completed");
    let active: bool =
        sqlx::query_scalar("SELECT is_active FROM public.calendar_auth_tokens WHERE id = $1")
            .bind(revoked_token)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!active);
    assert_eq!(
        fake.faults_served(),
        1,
        "the slow answer was served and retried"
    );
}

/// The rows of the four events [`events_ending_at_or_before_their_start`] made with `prefix`,
/// as (id, start, end), checked against times written out by hand.
async fn assert_kept_at_their_start(pool: &Db, ws: Uuid, prefix: &str, day: NaiveDate) {
    let rows = synced_rows(pool, ws, "primary").await;
    let stored = |suffix: &str| {
        let id = format!("{prefix}{suffix}");
        let row = rows
            .iter()
            .find(|r| r.external_event_id == id)
            .unwrap_or_else(|| panic!("{id} was not stored"));
        (row.start_at, row.end_at)
    };
    let midnight = day.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let one_day = (midnight, midnight + chrono::Duration::days(1));
    let at = at(3, 10);
    let one_minute = (at, at + chrono::Duration::minutes(1));
    assert_eq!(
        stored("-all-day-same"),
        one_day,
        "{prefix}: same-date all-day"
    );
    assert_eq!(
        stored("-all-day-before"),
        one_day,
        "{prefix}: backwards all-day"
    );
    assert_eq!(stored("-timed-same"), one_minute, "{prefix}: end == start");
    assert_eq!(
        stored("-timed-before"),
        one_minute,
        "{prefix}: end before start"
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn events_ending_at_or_before_their_start_are_kept_on_every_path(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    // Three events a page: the odd events also arrive on later pages of each listing.
    fake.set_page_limit(3);
    let grant = fake.add_account("zed");
    seed(&fake, "zed", "primary", "e", 4);
    let day = test_now().date_naive() + chrono::Days::new(2);
    let put = |prefix: &str| {
        for event in events_ending_at_or_before_their_start(prefix, day, at(3, 10)) {
            fake.put_event("zed", "primary", event);
        }
    };
    put("first");
    // Times nobody can read: skipped, and said so.
    let mut floating = timed_event("floating", "No zone", at(2, 9), 30);
    floating["start"] = json!({ "dateTime": "2031-03-05T09:00:00" });
    fake.put_event("zed", "primary", floating);
    let ws = workspace(&pool, None).await;
    let token = connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let incremental = Worker::<CalendarSyncPayload>::new(&pool, &fake, |_| {}).await;

    // First sync: the window listing, over several pages.
    incremental.sync(ws).await;
    assert_kept_at_their_start(&pool, ws, "first", day).await;
    let (status, result) = last_run(&pool, ws).await;
    assert_eq!(status, "succeeded");
    assert_eq!(result["unreadable_events"], 1);
    assert_eq!(
        result["unreadable_reasons"],
        json!({ "start missing or unreadable": 1 })
    );
    let (message, failed_ids, skipped): (Option<String>, Option<Value>, Option<i32>) =
        sqlx::query_as(
            "SELECT error_message, failed_event_ids, events_filtered_out
             FROM public.calendar_sync_dashboard WHERE ws_id = $1 AND status = 'completed'",
        )
        .bind(ws)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        message.as_deref(),
        Some("1 unreadable events skipped: 1 start missing or unreadable")
    );
    assert_eq!(failed_ids, Some(json!(["floating"])));
    assert_eq!(skipped, Some(1));
    fake.cancel_event("zed", "primary", "floating");

    // Incremental, from the stored sync token.
    assert!(
        stored_sync_token(&pool, ws, token, "primary")
            .await
            .is_some()
    );
    put("second");
    incremental.sync(ws).await;
    assert_eq!(last_run(&pool, ws).await.1["sync_token_fallbacks"], 0);
    assert_kept_at_their_start(&pool, ws, "second", day).await;

    // The token expired (410): the window listing again.
    put("third");
    fake.expire_sync_tokens();
    incremental.sync(ws).await;
    assert_eq!(last_run(&pool, ws).await.1["sync_token_fallbacks"], 1);
    assert_kept_at_their_start(&pool, ws, "third", day).await;

    // A full sync.
    put("fourth");
    let full = Worker::<CalendarFullSyncPayload>::new(&pool, &fake, |_| {}).await;
    full.sync(ws).await;
    for prefix in ["first", "second", "third", "fourth"] {
        assert_kept_at_their_start(&pool, ws, prefix, day).await;
    }
    assert_mirrors(&pool, ws, &fake, "zed", "primary").await;
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn events_that_take_no_time_are_stored_but_block_no_scheduler(pool: PgPool) {
    let pool = integration_tests::db(pool);
    use integration_tests::fake_google::typed;
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("fr");
    let day = at(2, 0).date_naive();
    let events = [
        typed(
            all_day_event("birthday", "Ana's birthday", day, 1),
            "birthday",
            "transparent",
        ),
        typed(
            timed_event("free", "Optional talk", at(2, 9), 60),
            "default",
            "transparent",
        ),
        typed(
            timed_event("office", "Office", at(2, 8), 600),
            "workingLocation",
            "transparent",
        ),
        typed(
            timed_event("ooo", "Away", at(2, 12), 60),
            "outOfOffice",
            "transparent",
        ),
        typed(
            timed_event("focus", "Focus", at(2, 14), 60),
            "focusTime",
            "opaque",
        ),
        timed_event("busy", "Meeting", at(2, 16), 60),
    ];
    for event in events {
        fake.put_event("fr", "primary", event);
    }
    let ws = workspace(&pool, Some("UTC")).await;
    connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let report = integration_tests::sync_support::offline_syncer(&pool, &fake, None)
        .await
        .sync_workspace(SyncKind::Incremental, ws, None, None, test_now())
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_mirrors(&pool, ws, &fake, "fr", "primary").await;

    // unified-schedule's calendar: only what blocks time.
    let mut conn = pool.begin().await.unwrap();
    let inputs = unified_schedule::inputs::load(&mut conn, ws, None, 7, test_now())
        .await
        .unwrap();
    let mut busy: Vec<(DateTime<Utc>, DateTime<Utc>)> =
        inputs.existing.iter().map(|e| (e.start, e.end)).collect();
    busy.sort();
    assert_eq!(
        busy,
        [
            (at(2, 12), at(2, 13)),
            (at(2, 14), at(2, 15)),
            (at(2, 16), at(2, 17))
        ],
        "out of office, focus time and the meeting block; the rest is free"
    );
    // schedule-task's: the same.
    let mut tx = conn;
    let rows: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>, bool)> =
        sqlx::query_as(schedule_task::store::EVENTS_SQL)
            .bind(ws)
            .bind(test_now())
            .fetch_all(&mut tx)
            .await
            .unwrap();
    assert_eq!(rows.len(), 3);
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_calendar_that_is_gone_is_marked_and_skipped_until_the_user_changes_it(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("go");
    seed(&fake, "go", "primary", "e", 3);
    seed(&fake, "go", "team", "t", 2);
    let ws = workspace(&pool, None).await;
    connect_google(&pool, ws, &grant, None, &["primary", "team"]).await;
    let worker = Worker::<CalendarSyncPayload>::new(&pool, &fake, |_| {}).await;
    worker.sync(ws).await;

    // The team calendar is deleted (or unshared): Google answers 404 for it.
    fake.remove_calendar("go", "team");
    let calls = fake.list_calls();
    let response = worker.sync(ws).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "the other calendar synced"
    );
    assert_eq!(fake.list_calls() - calls, 2);
    let (status, result) = last_run(&pool, ws).await;
    assert_eq!(status, "succeeded");
    assert_eq!(result["failures"][0]["calendar_id"], "team");
    let marked: Vec<(String, String)> = sqlx::query_as(
        "SELECT calendar_id, reason FROM jobs.connection_attention WHERE ws_id = $1",
    )
    .bind(ws)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(marked, [("team".to_owned(), "404 notFound".to_owned())]);
    let listed = jobs_cli::ops::attention(&pool, Some(ws)).await.unwrap();
    assert_eq!(listed.len(), 1, "`jobs connections` lists it");
    assert_eq!(listed[0].reason, "404 notFound");
    let (error_type, message): (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT error_type, error_message FROM public.calendar_sync_dashboard
         WHERE ws_id = $1 ORDER BY start_time DESC LIMIT 1",
    )
    .bind(ws)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(error_type.as_deref(), Some("permanent"));
    assert!(message.unwrap().contains("gone or no longer shared"));

    // Later polls leave it alone: one listing, of the primary calendar.
    let calls = fake.list_calls();
    worker.sync(ws).await;
    assert_eq!(fake.list_calls() - calls, 1);
    let (status, _) = last_run(&pool, ws).await;
    assert_eq!(status, "succeeded");

    // The user shares it again and touches the connection in the web app: synced, unmarked.
    fake.add_calendar("go", "team");
    tokio::time::sleep(Duration::from_millis(5)).await;
    sqlx::query(
        "UPDATE public.calendar_connections SET calendar_name = 'Team' WHERE calendar_id = 'team'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let calls = fake.list_calls();
    worker.sync(ws).await;
    assert_eq!(fake.list_calls() - calls, 2);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs.connection_attention")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn rate_limit_403s_are_retried_like_429_and_quota_is_retried_later(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("rl");
    seed(&fake, "rl", "primary", "e", 3);
    let ws = workspace(&pool, None).await;
    connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let worker = Worker::<CalendarSyncPayload>::new(&pool, &fake, |_| {}).await;

    fake.inject([
        Fault::Forbidden("rateLimitExceeded"),
        Fault::Forbidden("userRateLimitExceeded"),
    ]);
    let response = worker.sync(ws).await;
    assert!(response.batch_item_failures.is_empty());
    let (status, result) = last_run(&pool, ws).await;
    assert_eq!(status, "succeeded");
    assert_eq!(result["api_retries"], 2, "both retried in the call");
    assert_mirrors(&pool, ws, &fake, "rl", "primary").await;

    // A used-up quota is retried later through the queue, never dead-lettered on first sight.
    fake.inject([Fault::Forbidden("quotaExceeded")]);
    let response = worker.sync(ws).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    let (status, _) = last_run(&pool, ws).await;
    assert_eq!(status, "failed");
    assert!(
        dead_letters(&worker.sqs, &worker.queues.dlq_url)
            .await
            .is_empty()
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn an_organisation_blocking_the_client_deactivates_the_token_like_a_revoked_grant(
    pool: PgPool,
) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    let worker = Worker::<CalendarSyncPayload>::new(&pool, &fake, |_| {}).await;
    for error in [
        "admin_policy_enforced",
        "unauthorized_client",
        "invalid_grant",
    ] {
        let grant = fake.add_account(error);
        seed(&fake, error, "primary", "e", 2);
        let ws = workspace(&pool, None).await;
        let token = connect_google(&pool, ws, &grant, None, &["primary"]).await;
        fake.expire_access_tokens(error);
        fake.refuse_refresh(error, error);
        worker.sync(ws).await;
        assert_eq!(last_run(&pool, ws).await.0, "dead", "{error}");
        let active: bool =
            sqlx::query_scalar("SELECT is_active FROM public.calendar_auth_tokens WHERE id = $1")
                .bind(token)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert!(!active, "{error} deactivates the token");
    }
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_rotated_refresh_token_is_stored_and_used_next_time(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("ro");
    seed(&fake, "ro", "primary", "e", 2);
    let ws = workspace(&pool, None).await;
    let token = connect_google(&pool, ws, &grant, None, &["primary"]).await;
    fake.rotate_refresh_tokens("ro");
    let worker = Worker::<CalendarSyncPayload>::new(&pool, &fake, |_| {}).await;
    for _ in 0..2 {
        fake.expire_access_tokens("ro");
        worker.sync(ws).await;
        assert_eq!(last_run(&pool, ws).await.0, "succeeded");
        let stored: String = sqlx::query_scalar(
            "SELECT refresh_token FROM public.calendar_auth_tokens WHERE id = $1",
        )
        .bind(token)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_ne!(
            stored, grant.refresh_token,
            "the rotated refresh token is stored"
        );
    }
    assert_eq!(
        fake.refresh_calls(),
        2,
        "the second refresh used the rotated token"
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_checkpointed_listing_whose_page_token_expired_starts_over(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let fake = FakeGoogle::start().await.unwrap();
    fake.set_page_limit(5);
    fake.set_delay(Duration::from_millis(250));
    let grant = fake.add_account("pt");
    seed(&fake, "pt", "primary", "e", 40);
    let ws = workspace(&pool, None).await;
    connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let worker = Worker::<CalendarFullSyncPayload>::new(&pool, &fake, |config| {
        config.checkpoint_margin = Duration::from_secs(1);
    })
    .await;
    worker.enqueue(ws, None).await;
    worker.invoke(Duration::from_secs(3)).await;
    let (_, result) = last_run(&pool, ws).await;
    assert_eq!(
        result["continued"],
        json!(["primary"]),
        "stopped at a checkpoint"
    );

    // The stored page token is no longer valid when the continuation runs.
    fake.expire_page_tokens();
    fake.set_delay(Duration::ZERO);
    for message in receive(&worker.sqs, &worker.queues.queue_url, 0).await {
        worker
            .sqs
            .change_message_visibility()
            .queue_url(&worker.queues.queue_url)
            .receipt_handle(message.receipt_handle().unwrap())
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }
    let (_, response) = worker.invoke(Duration::from_secs(120)).await;
    assert!(response.batch_item_failures.is_empty());
    let (status, result) = last_run(&pool, ws).await;
    assert_eq!(status, "succeeded");
    assert!(
        result["sync_token_fallbacks"].as_u64().unwrap() >= 1,
        "{result}"
    );
    assert_mirrors(&pool, ws, &fake, "pt", "primary").await;
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn the_instances_of_a_recurring_event_are_rows_and_a_cancelled_one_goes(pool: PgPool) {
    let pool = integration_tests::db(pool);
    use integration_tests::fake_google::weekly_instances;
    let fake = FakeGoogle::start().await.unwrap();
    let grant = fake.add_account("rc");
    let instances = weekly_instances("standup", "Standup", at(1, 9), 15, 4);
    for instance in &instances {
        fake.put_event("rc", "primary", instance.clone());
    }
    let ws = workspace(&pool, None).await;
    connect_google(&pool, ws, &grant, None, &["primary"]).await;
    let worker = Worker::<CalendarSyncPayload>::new(&pool, &fake, |_| {}).await;
    worker.sync(ws).await;
    assert_mirrors(&pool, ws, &fake, "rc", "primary").await;
    assert_eq!(synced_rows(&pool, ws, "primary").await.len(), 4);

    // One occurrence is cancelled in Google: it comes back as that instance's tombstone.
    let second = instances[1]["id"].as_str().unwrap().to_owned();
    fake.cancel_event("rc", "primary", &second);
    worker.sync(ws).await;
    assert_mirrors(&pool, ws, &fake, "rc", "primary").await;
    assert!(
        !synced_rows(&pool, ws, "primary")
            .await
            .iter()
            .any(|row| row.external_event_id == second)
    );
}
