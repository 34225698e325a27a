//! Freshness (design §13): the time from a change in a Google calendar to its row in Postgres,
//! with push notifications and with polling alone, and the Google calls idle workspaces cost
//! each way. Everything runs through the real binaries: `calendar-webhook` behind a local
//! Function URL, `orchestrator` and two `calendar-sync` instances behind local Runtime APIs fed
//! by the local event source, against the fake Google Calendar and a throwaway database.
//!
//! - Push: `FRESHNESS_WORKSPACES` workspaces (default 100), each with a 20-event calendar
//!   synced once (which opens its channel); one event per calendar is renamed, one change at a
//!   time, and timed until the row has the new name. p50 and p95.
//! - Polling: the webhook is stopped and the same changes are made again, all at once; then one
//!   `calendar-sync` tick goes through the orchestrator binary and the time from the tick to
//!   each row is measured. Google sees the changes at any moment between two ticks, so a
//!   change's freshness is its wait for the next tick plus that measured time; the waits are
//!   spread evenly over the 15-minute interval (the model is printed with the figures).
//! - Google calls per hour of the same workspaces while nothing changes, counted at the fake:
//!   polling every 15 minutes is 4 measured polling rounds an hour; push is the relaxed poll
//!   (every 6 hours) plus each channel's renewal (one measured `renew-watch-channels` round
//!   per 6 days: a 7-day channel renewed a day before it expires).
//!
//! `scripts/bench.sh freshness`. Under `cargo test` it runs once on 3 workspaces.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use shared::db::Db;
use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use integration_tests::fake_google::FakeGoogle;
use integration_tests::sync_support::{google_workspace, sync_binary_env};
use integration_tests::{BenchDatabase, Queues, fifo_queues, sqs};
use local_stack::event_source::EventSource;
use local_stack::freshness::{Follower, Watched, quantile, time_change};
use local_stack::function_url::FunctionUrl;
use local_stack::runtime_api::LocalFunction;
use serde_json::{Value, json};
use uuid::Uuid;

const POLL_EVERY: Duration = Duration::from_secs(15 * 60);
const RELAXED_POLL_EVERY: Duration = Duration::from_secs(6 * 3600);
/// A 7-day channel renewed a day before it expires.
const RENEW_EVERY: Duration = Duration::from_secs(6 * 86_400);
const INSTANCES: usize = 2;
const LIMIT: Duration = Duration::from_secs(120);

struct Calendar {
    ws_id: Uuid,
    account: String,
    event: Value,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let count = integration_tests::bench_size("FRESHNESS_WORKSPACES", 100, 3);
    let bin_dir = integration_tests::build_binaries(
        full,
        &["calendar-sync", "calendar-webhook", "orchestrator"],
    );
    let db = BenchDatabase::create("bench_freshness", 4).await;
    let pool = &db.pool;
    let sqs = sqs().await;
    let fake = FakeGoogle::start().await.unwrap();
    fake.allow_plain_http_addresses(true);
    let queues = fifo_queues(&sqs, 60).await;
    let logs = integration_tests::workspace_root().join(".local/logs/bench/freshness");

    let now = chrono::Utc::now();
    let mut calendars = Vec::new();
    for _ in 0..count {
        let (ws_id, account) = google_workspace(pool, &fake, "fresh", 20, now).await;
        let event = fake.events(&account, "primary").remove(0);
        calendars.push(Calendar {
            ws_id,
            account,
            event,
        });
    }

    let mut env = sync_binary_env(&queues, &fake);
    env.retain(|(k, _)| k != "DATABASE_URL");
    env.push(("DATABASE_URL".to_owned(), db.url.clone()));
    let webhook = FunctionUrl::serve(start(&bin_dir, "calendar-webhook", &env, &logs).await)
        .await
        .unwrap();
    env.push(("WEBHOOK_URL".to_owned(), webhook.url.clone()));
    let mut orchestrator_env = env.clone();
    for var in [
        "CALENDAR_FULL_SYNC_QUEUE_URL",
        "SCHEDULE_TASK_QUEUE_URL",
        "UNIFIED_SCHEDULE_QUEUE_URL",
    ] {
        orchestrator_env.push((var.to_owned(), queues.queue_url.clone()));
    }
    let mut orchestrator = start(&bin_dir, "orchestrator", &orchestrator_env, &logs).await;
    let mut followers = Vec::new();
    for _ in 0..INSTANCES {
        let function = start(&bin_dir, "calendar-sync", &env, &logs).await;
        followers.push(Follower::start(
            function,
            EventSource::new(sqs.clone(), &queues.queue_url)
                .await
                .unwrap(),
        ));
    }

    // The first syncs, by a polling tick, open every calendar's channel.
    assert_eq!(tick(&mut orchestrator, "calendar-sync").await, count);
    wait_for(&queues, LIMIT, || async {
        live_channels(pool).await == count
    })
    .await;

    // One polling round of idle calendars.
    let calls = fake.calls();
    let runs = succeeded_syncs(pool).await;
    assert_eq!(tick(&mut orchestrator, "calendar-sync").await, count);
    wait_for(&queues, LIMIT, || async {
        succeeded_syncs(pool).await == runs + count
    })
    .await;
    let poll_round_calls = fake.calls() - calls;

    // Push: one change at a time.
    let mut pushed = Vec::new();
    for (i, calendar) in calendars.iter().enumerate() {
        let took = time_change(
            pool,
            &fake,
            &watched(calendar),
            &format!("Pushed {i}"),
            LIMIT,
        )
        .await
        .unwrap();
        pushed.push(took);
    }
    // A row is written before its run is recorded as succeeded.
    wait_for(&queues, LIMIT, || async {
        succeeded_syncs(pool).await >= runs + 2 * count
    })
    .await;
    assert_eq!(
        succeeded_syncs(pool).await,
        runs + 2 * count,
        "one pushed sync per change"
    );
    webhook.stop().await.unwrap();

    // Polling: every change made, then one tick; each row timed from the tick.
    for (i, calendar) in calendars.iter().enumerate() {
        let mut event = calendar.event.clone();
        event["summary"] = json!(format!("Polled {i}"));
        fake.put_event(&calendar.account, "primary", event);
    }
    let ticked = Instant::now();
    assert_eq!(tick(&mut orchestrator, "calendar-sync").await, count);
    let pipeline = arrivals(pool, count, ticked).await;
    // Change i is seen by Google (i + 0.5)/count of the way through an interval.
    let polled: Vec<Duration> = pipeline
        .iter()
        .enumerate()
        .map(|(i, took)| POLL_EVERY.mul_f64(1.0 - (i as f64 + 0.5) / count as f64) + *took)
        .collect();
    wait_for(&queues, LIMIT, || async { true }).await;

    // One renewal round: every channel due.
    sqlx::query("UPDATE jobs.watch_channels SET expires_at = now() + interval '1 hour'")
        .execute(pool)
        .await
        .unwrap();
    let calls = fake.calls();
    assert_eq!(tick(&mut orchestrator, "renew-watch-channels").await, count);
    wait_for(&queues, LIMIT, || async {
        stopped_channels(pool).await == count && live_channels(pool).await == count
    })
    .await;
    let renewal_round_calls = fake.calls() - calls;

    for follower in followers {
        follower.stop().await.unwrap();
    }
    orchestrator.stop().await.unwrap();
    db.drop().await;

    let hourly = |round: u64, every: Duration| round as f64 * 3600.0 / every.as_secs_f64();
    let polling_calls = hourly(poll_round_calls, POLL_EVERY);
    let push_calls =
        hourly(poll_round_calls, RELAXED_POLL_EVERY) + hourly(renewal_round_calls, RENEW_EVERY);
    let (push_p50, push_p95) = (quantile(&pushed, 0.5), quantile(&pushed, 0.95));
    let (poll_p50, poll_p95) = (quantile(&polled, 0.5), quantile(&polled, 0.95));
    let (pipe_p50, pipe_p95) = (quantile(&pipeline, 0.5), quantile(&pipeline, 0.95));
    println!(
        "freshness benchmark: {count} workspaces, one change each; {INSTANCES} calendar-sync instances"
    );
    println!(
        "  push:    p50 {:.3} s, p95 {:.3} s (change in Google -> notification -> calendar-webhook -> SQS -> calendar-sync -> row)",
        push_p50.as_secs_f64(),
        push_p95.as_secs_f64()
    );
    println!(
        "  polling every {} min: p50 {:.1} s, p95 {:.1} s = the wait for the next tick (spread evenly over the interval) + tick -> row, measured: p50 {:.3} s, p95 {:.3} s for {count} workspaces at once",
        POLL_EVERY.as_secs() / 60,
        poll_p50.as_secs_f64(),
        poll_p95.as_secs_f64(),
        pipe_p50.as_secs_f64(),
        pipe_p95.as_secs_f64()
    );
    println!(
        "  Google calls per hour while idle: polling every 15 min {polling_calls:.1} ({poll_round_calls} per round); push {push_calls:.1} (a poll every 6 h + renewals every 6 days, {renewal_round_calls} calls per renewal round)"
    );
    println!(
        "| freshness, push (p50 / p95 over {count} changes) | {:.2} s / {:.2} s | {:.4}x polling's p50 |",
        push_p50.as_secs_f64(),
        push_p95.as_secs_f64(),
        push_p50.as_secs_f64() / poll_p50.as_secs_f64()
    );
    println!(
        "| freshness, polling every 15 min (p50 / p95: wait for the tick + measured tick -> row) | {:.0} s / {:.0} s | 1.00x |",
        poll_p50.as_secs_f64(),
        poll_p95.as_secs_f64()
    );
    println!(
        "| Google calls per hour, {count} idle workspaces: push (poll every 6 h + renewals) vs polling every 15 min | {push_calls:.1} vs {polling_calls:.1} | {:.3}x |",
        push_calls / polling_calls
    );
}

async fn start(bin_dir: &Path, name: &str, env: &[(String, String)], logs: &Path) -> LocalFunction {
    let mut function = LocalFunction::start(
        &bin_dir.join(name),
        name,
        env,
        &logs.join(format!("{name}.log")),
    )
    .await
    .unwrap();
    function.ready(Duration::from_secs(30)).await.unwrap();
    function
}

fn watched(calendar: &Calendar) -> Watched<'_> {
    Watched {
        ws_id: calendar.ws_id,
        account: &calendar.account,
        calendar: "primary",
        event: calendar.event.clone(),
    }
}

/// Fires one orchestrator schedule through the binary; returns how many it enqueued. Each tick
/// is a second later than the one before (a repeated tick is dropped as a duplicate).
async fn tick(orchestrator: &mut LocalFunction, fan_out: &str) -> usize {
    static TICKS: AtomicI64 = AtomicI64::new(0);
    let at = chrono::Utc::now() + chrono::Duration::seconds(TICKS.fetch_add(1, Ordering::Relaxed));
    let input = json!({ "fan_out": fan_out, "scheduled_at": at.to_rfc3339() });
    let result = orchestrator
        .invoke(&input, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(result["failed"], 0, "{result}");
    result["enqueued"].as_u64().unwrap() as usize
}

/// Waits until `done` holds and the queue is empty.
async fn wait_for<F, Fut>(queues: &Queues, limit: Duration, done: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let sqs = sqs().await;
    let source = EventSource::new(sqs, &queues.queue_url).await.unwrap();
    let started = Instant::now();
    while !(done().await && source.is_empty().await.unwrap()) {
        assert!(started.elapsed() < limit, "not done within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// When each of the `count` renamed-for-polling rows ("Polled <i>") arrived, from `since`, in
/// the order of `i`.
async fn arrivals(pool: &Db, count: usize, since: Instant) -> Vec<Duration> {
    let mut arrived: Vec<Option<Duration>> = vec![None; count];
    while arrived.iter().any(Option::is_none) {
        assert!(
            since.elapsed() < LIMIT,
            "the polled changes did not all arrive"
        );
        let titles: Vec<String> = sqlx::query_scalar(
            "SELECT title FROM public.workspace_calendar_events WHERE title LIKE 'Polled %'",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let at = since.elapsed();
        for title in titles {
            let i: usize = title["Polled ".len()..].parse().unwrap();
            arrived[i].get_or_insert(at);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    arrived.into_iter().flatten().collect()
}

async fn live_channels(pool: &Db) -> usize {
    count(
        pool,
        "SELECT count(*) FROM jobs.watch_channels WHERE stopped_at IS NULL AND resource_id IS NOT NULL",
    )
    .await
}

async fn stopped_channels(pool: &Db) -> usize {
    count(
        pool,
        "SELECT count(*) FROM jobs.watch_channels WHERE stopped_at IS NOT NULL",
    )
    .await
}

async fn succeeded_syncs(pool: &Db) -> usize {
    count(
        pool,
        "SELECT count(*) FROM jobs.runs WHERE task = 'calendar-sync' AND status = 'succeeded'",
    )
    .await
}

async fn count(pool: &Db, sql: &str) -> usize {
    let n: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
    n as usize
}
