//! Drain throughput of the calendar-sync function binary, two ways, in one run:
//!
//! - Through the local system: `DRAIN_MESSAGES` messages (default 1,000, over `DRAIN_WORKSPACES`
//!   workspaces, default 100, each with a 20-event Google calendar already synced once) drained
//!   by two instances through the local event source, as `jobs local` runs them, beside the
//!   local SQS server's own rate (the same messages drained by two consumers that only delete).
//!   The local server is the ceiling here.
//! - The worker's ceiling: the same number of messages as pre-received batches of 10, shaped as
//!   the event source shapes them, invoked straight through the Runtime APIs of two fresh
//!   instances (each instance owns half the workspaces, as FIFO groups would be spread), with
//!   the time split per message: waiting on Google (`google_ms` in the runs' results), Postgres
//!   (`pg_stat_database.active_time` over the drain) and the rest of the worker.
//!
//! Last, a fresh instance does the first sync of a `SYNC_EVENTS`-event calendar (default
//! 10,000) and its peak memory (`VmHWM`) is reported against the 64 MiB budget.
//!
//! `scripts/bench.sh drain`. Under `cargo test` it runs once on a small input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use integration_tests::fake_google::{FakeGoogle, timed_event};
use integration_tests::sync_support::{connect_google, google_workspace, sync_binary_env};
use integration_tests::{Queues, fifo_queues, sqs, workspace};
use local_stack::event_source::EventSource;
use local_stack::runtime_api::LocalFunction;
use serde_json::json;
use tokio::sync::Mutex;
use uuid::Uuid;

const CONSUMERS: usize = 2;

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let workspaces = integration_tests::bench_size("DRAIN_WORKSPACES", 100, 4);
    let messages = integration_tests::bench_size("DRAIN_MESSAGES", 1_000, 20);
    let bin_dir = integration_tests::build_binaries(full, &["calendar-sync"]);
    let pool = local_stack::connect().await.unwrap();
    let sqs = sqs().await;
    let fake = FakeGoogle::start().await.unwrap();

    let mut ws_ids = Vec::new();
    let now = chrono::Utc::now();
    for _ in 0..workspaces {
        let (ws, _) = google_workspace(&pool, &fake, "drain", 20, now).await;
        ws_ids.push(ws);
    }

    let work = fifo_queues(&sqs, 300).await;
    let mut env = sync_binary_env(&work, &fake);
    // Tagged, so the benchmark can tell when the workers' sessions (and their statistics) are gone.
    // With TEST_POOLER_URL set (`scripts/bench.sh drain-pooled`), the workers reach Postgres
    // through PgBouncer in transaction mode, as production reaches Supabase (design §14).
    let database_url =
        integration_tests::pooler_url().unwrap_or_else(|| std::env::var("DATABASE_URL").unwrap());
    let separator = if database_url.contains('?') { '&' } else { '?' };
    env.push((
        "DATABASE_URL".to_owned(),
        format!("{database_url}{separator}application_name={WORKER_TAG}"),
    ));
    println!(
        "workers reach Postgres in {} mode",
        integration_tests::connection_mode()
    );
    let log = integration_tests::workspace_root().join(".local/logs/bench/drain.log");
    let binary = bin_dir.join("calendar-sync");
    let functions = start_instances(&binary, &env, &log, CONSUMERS).await;

    // Every calendar synced once, so the measured messages are the steady state: one
    // incremental listing each.
    fill(&sqs, &work, &ws_ids, ws_ids.len()).await;
    let warm = drain(&work, functions.iter().map(|f| invoke(f.clone())).collect()).await;
    assert_eq!(warm.1, ws_ids.len());

    let idle = fifo_queues(&sqs, 300).await;
    fill(&sqs, &idle, &ws_ids, messages).await;
    fill(&sqs, &work, &ws_ids, messages).await;
    let noop = |_: SqsEvent| async { Ok(SqsBatchResponse::default()) };
    // The local server now and then hands one message to both consumers at once, so a drain
    // can delete a few more than were sent; the rate counts the messages sent.
    let (noop_elapsed, drained) = drain(&idle, vec![noop; CONSUMERS]).await;
    assert!(drained >= messages, "{drained} of {messages} drained");
    let no_op = messages as f64 / noop_elapsed.as_secs_f64();
    let (elapsed, drained) =
        drain(&work, functions.iter().map(|f| invoke(f.clone())).collect()).await;
    assert!(drained >= messages, "{drained} of {messages} drained");
    let system = messages as f64 / elapsed.as_secs_f64();
    assert_eq!(
        succeeded_runs(&pool, &ws_ids).await,
        messages + ws_ids.len(),
        "every message succeeded"
    );
    stop_instances(&pool, functions).await;

    let ceiling = worker_ceiling(&pool, &binary, &env, &log, &ws_ids, messages).await;
    assert_eq!(
        succeeded_runs(&pool, &ws_ids).await,
        2 * messages + ws_ids.len(),
        "every pre-received message succeeded"
    );

    let mut big = start_instances(&binary, &env, &log, 1).await;
    let function = big.remove(0);
    let (events, peak_mib) =
        peak_after_a_large_sync(&pool, &fake, &work, invoke(function.clone()), &function).await;
    stop_instances(&pool, vec![function]).await;

    // What the local event source spends receiving and deleting one message on the local server
    // (each consumer's share of the no-op drain): in production that is Lambda's, not the worker's.
    let sqs_ms = noop_elapsed.as_secs_f64() * 1000.0 * CONSUMERS as f64 / messages as f64;
    let per_instance = ceiling.per_instance_rate();
    println!(
        "drain benchmark: {messages} calendar-sync messages over {workspaces} workspaces, {CONSUMERS} instances"
    );
    println!("  through the local SQS server:");
    println!("    no-op consumers                    {no_op:>8.1} messages/s  (1.00x)");
    println!(
        "    calendar-sync binary               {system:>8.1} messages/s  ({:.2}x the no-op rate)",
        system / no_op
    );
    println!(
        "  the worker's ceiling (pre-received batches of {}, straight to the Runtime APIs):",
        ceiling.batch_size
    );
    println!(
        "    calendar-sync binary               {per_instance:>8.1} messages/s per instance ({:.2}x the local SQS server's no-op rate)",
        per_instance * CONSUMERS as f64 / no_op
    );
    println!(
        "    per message: {:.2} ms = Google {:.2} ms + Postgres {:.2} ms + the rest {:.2} ms (round trips to Postgres and the Runtime API, JSON, the runner)",
        ceiling.ms_per_message(),
        ceiling.google_ms,
        ceiling.postgres_ms,
        ceiling.rest_ms()
    );
    if integration_tests::pooler_url().is_some() {
        println!(
            "    (through the pooler, whose server sessions outlive the workers, Postgres's time is not counted until they end: the split puts it in the rest)"
        );
    }
    println!(
        "    SQS: no calls by the worker for messages that succeed; receiving and deleting cost the local event source {sqs_ms:.2} ms per message"
    );
    println!(
        "| end-to-end drain: calendar-sync binary vs a no-op consumer of the local SQS server ({messages} messages) | {system:.1} vs {no_op:.1} messages/s | {:.2}× |",
        system / no_op
    );
    println!(
        "| drain, the worker's ceiling: calendar-sync messages/s per instance (pre-received batches) vs through the local SQS server | {per_instance:.1} vs {:.1} messages/s | {:.2}× |",
        system / CONSUMERS as f64,
        per_instance * CONSUMERS as f64 / system
    );
    println!(
        "| drain time split per message: Google / Postgres / rest of the worker, share of {:.2} ms | {:.2} / {:.2} / {:.2} ms | {:.2} / {:.2} / {:.2} |",
        ceiling.ms_per_message(),
        ceiling.google_ms,
        ceiling.postgres_ms,
        ceiling.rest_ms(),
        ceiling.google_ms / ceiling.ms_per_message(),
        ceiling.postgres_ms / ceiling.ms_per_message(),
        ceiling.rest_ms() / ceiling.ms_per_message()
    );
    println!(
        "| peak memory: calendar-sync process after a {events}-event first sync vs the 64 MiB budget | {peak_mib:.1} MiB vs 64 MiB | {:.2}× |",
        peak_mib / 64.0
    );
}

const WORKER_TAG: &str = "drain-bench-worker";

type Instance = Arc<Mutex<LocalFunction>>;

/// A handler that invokes `function` with one batch.
fn invoke(
    function: Instance,
) -> impl Fn(
    SqsEvent,
) -> std::pin::Pin<Box<dyn Future<Output = Result<SqsBatchResponse, String>> + Send>>
+ Send
+ Sync
+ Clone
+ 'static {
    move |event: SqsEvent| {
        let function = function.clone();
        Box::pin(async move {
            let response = function
                .lock()
                .await
                .invoke_batch(&event, Duration::from_secs(60))
                .await
                .unwrap();
            Ok(response)
        })
    }
}

async fn start_instances(
    binary: &std::path::Path,
    env: &[(String, String)],
    log: &std::path::Path,
    count: usize,
) -> Vec<Instance> {
    let mut functions = Vec::new();
    for _ in 0..count {
        let mut function = LocalFunction::start(binary, "calendar-sync", env, log)
            .await
            .unwrap();
        function.ready(Duration::from_secs(30)).await.unwrap();
        functions.push(Arc::new(Mutex::new(function)));
    }
    functions
}

/// Stops the instances and waits until their database sessions have ended, which is when
/// Postgres has counted all of their statement time.
async fn stop_instances(pool: &shared::db::Db, functions: Vec<Instance>) {
    for function in functions {
        let function = Arc::try_unwrap(function)
            .map_err(|_| "still shared")
            .unwrap();
        function.into_inner().stop().await.unwrap();
    }
    for _ in 0..500 {
        let open: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
                .bind(WORKER_TAG)
                .fetch_one(pool)
                .await
                .unwrap();
        if open == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the stopped workers' database sessions did not end");
}

/// Milliseconds Postgres has spent executing statements in this database.
async fn postgres_active_ms(pool: &shared::db::Db) -> f64 {
    sqlx::query_scalar(
        "SELECT active_time FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn succeeded_runs(pool: &shared::db::Db, ws_ids: &[Uuid]) -> usize {
    let succeeded: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs.runs WHERE ws_id = ANY($1) AND status = 'succeeded'",
    )
    .bind(ws_ids)
    .fetch_one(pool)
    .await
    .unwrap();
    succeeded as usize
}

/// What the worker-bound drain measured.
struct Ceiling {
    batch_size: usize,
    messages: usize,
    /// Each instance's messages and the time it took to run them.
    instances: Vec<(usize, Duration)>,
    /// Per message, averaged over all of them.
    google_ms: f64,
    postgres_ms: f64,
}

impl Ceiling {
    fn per_instance_rate(&self) -> f64 {
        let rates: Vec<f64> = self
            .instances
            .iter()
            .map(|(n, took)| *n as f64 / took.as_secs_f64())
            .collect();
        rates.iter().sum::<f64>() / rates.len() as f64
    }

    /// Wall time per message on one instance.
    fn ms_per_message(&self) -> f64 {
        let busy: f64 = self
            .instances
            .iter()
            .map(|(_, took)| took.as_secs_f64())
            .sum();
        busy * 1000.0 / self.messages as f64
    }

    fn rest_ms(&self) -> f64 {
        self.ms_per_message() - self.google_ms - self.postgres_ms
    }
}

/// `messages` sync messages as pre-received batches straight to fresh instances; each instance
/// owns every `CONSUMERS`-th workspace, so no workspace is in two batches at once (as with FIFO
/// groups), and each batch holds distinct workspaces.
async fn worker_ceiling(
    pool: &shared::db::Db,
    binary: &std::path::Path,
    env: &[(String, String)],
    log: &std::path::Path,
    ws_ids: &[Uuid],
    messages: usize,
) -> Ceiling {
    let owned: Vec<Vec<Uuid>> = (0..CONSUMERS)
        .map(|i| ws_ids.iter().skip(i).step_by(CONSUMERS).copied().collect())
        .collect();
    let batch_size = owned.iter().map(Vec::len).min().unwrap().min(10);
    let mut message_ids = Vec::new();
    let plans: Vec<Vec<SqsEvent>> = owned
        .iter()
        .map(|mine| {
            let records: Vec<serde_json::Value> = (0..messages / CONSUMERS)
                .map(|n| {
                    let ws = mine[n % mine.len()];
                    let id = Uuid::new_v4().to_string();
                    message_ids.push(id.clone());
                    received_record(&id, ws)
                })
                .collect();
            records
                .chunks(batch_size)
                .map(|batch| serde_json::from_value(json!({ "Records": batch })).unwrap())
                .collect()
        })
        .collect();

    let functions = start_instances(binary, env, log, CONSUMERS).await;
    let postgres_before = postgres_active_ms(pool).await;
    let mut running = Vec::new();
    for (function, batches) in functions.iter().zip(plans) {
        let handler = invoke(function.clone());
        running.push(tokio::spawn(async move {
            let started = Instant::now();
            let mut sent = 0;
            for batch in batches {
                sent += batch.records.len();
                let response = handler(batch).await.unwrap();
                assert!(response.batch_item_failures.is_empty(), "a record failed");
            }
            (sent, started.elapsed())
        }));
    }
    let mut instances = Vec::new();
    for run in running {
        instances.push(run.await.unwrap());
    }
    stop_instances(pool, functions).await;
    let postgres_ms = postgres_active_ms(pool).await - postgres_before;

    let (succeeded, google_ms): (i64, f64) = sqlx::query_as(
        "SELECT count(*), coalesce(sum((result->>'google_ms')::float8), 0) FROM jobs.runs \
         WHERE message_id = ANY($1) AND status = 'succeeded'",
    )
    .bind(&message_ids)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        succeeded as usize,
        message_ids.len(),
        "every pre-received message succeeded"
    );
    let sent: usize = instances.iter().map(|(n, _)| n).sum();
    Ceiling {
        batch_size,
        messages: sent,
        instances,
        google_ms: google_ms / sent as f64,
        postgres_ms: postgres_ms / sent as f64,
    }
}

/// One sync message for `ws`, as the event source hands it to the function after a first receive.
fn received_record(message_id: &str, ws: Uuid) -> serde_json::Value {
    let now_ms = chrono::Utc::now().timestamp_millis().to_string();
    json!({
        "messageId": message_id,
        "receiptHandle": format!("pre-received-{message_id}"),
        "body": json!({ "ws_id": ws }).to_string(),
        "md5OfBody": "",
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": now_ms,
            "ApproximateFirstReceiveTimestamp": now_ms,
            "SenderId": "drain-bench",
            "MessageGroupId": ws.to_string(),
            "MessageDeduplicationId": message_id,
            "SequenceNumber": "1",
        },
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:calendar-sync.fifo",
        "awsRegion": "us-east-1",
    })
}

/// Peak memory: `function` does the first sync of a calendar of `SYNC_EVENTS` events (every page
/// listed and written) through `handler`; its high-water mark covers that and the drain before.
/// Returns the number of events and the peak in MiB.
async fn peak_after_a_large_sync<H, Fut>(
    pool: &shared::db::Db,
    fake: &FakeGoogle,
    work: &Queues,
    handler: H,
    function: &Mutex<LocalFunction>,
) -> (usize, f64)
where
    H: Fn(SqsEvent) -> Fut + Send + 'static,
    Fut: Future<Output = Result<SqsBatchResponse, String>> + Send,
{
    let events = integration_tests::bench_size("SYNC_EVENTS", 10_000, 300);
    let now = chrono::Utc::now();
    let big = workspace(pool, Some("Europe/Berlin")).await;
    let account = format!("big-{}", big.simple());
    let grant = fake.add_account(&account);
    for i in 0..events {
        let start = now + chrono::Duration::minutes(10 * i as i64);
        fake.put_event(
            &account,
            "primary",
            timed_event(&format!("big{i}"), "Planning", start, 5),
        );
    }
    connect_google(pool, big, &grant, None, &["primary"]).await;
    fill(&sqs().await, work, &[big], 1).await;
    assert_eq!(drain(work, vec![handler]).await.1, 1);
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM public.workspace_calendar_events WHERE ws_id = $1",
    )
    .bind(big)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(stored as usize, events, "the whole calendar was synced");
    let pid = function.lock().await.pid().unwrap();
    (
        events,
        integration_tests::peak_memory_kib(pid) as f64 / 1024.0,
    )
}

/// Sends `count` messages round-robin over the workspaces, 10 per call.
async fn fill(sqs: &aws_sdk_sqs::Client, queues: &Queues, ws_ids: &[Uuid], count: usize) {
    let bodies: Vec<(Uuid, String)> = (0..count)
        .map(|i| {
            let ws = ws_ids[i % ws_ids.len()];
            (ws, json!({ "ws_id": ws }).to_string())
        })
        .collect();
    for chunk in bodies.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, (ws, body))| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .message_group_id(ws.to_string())
                    .message_deduplication_id(Uuid::new_v4().to_string())
                    .build()
                    .unwrap()
            })
            .collect();
        let sent = sqs
            .send_message_batch()
            .queue_url(&queues.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        assert!(sent.failed().is_empty());
    }
}

/// Drains `queues` with one consumer per handler (each stops when it finds nothing visible);
/// returns the time taken and the messages deleted.
async fn drain<H, Fut>(queues: &Queues, handlers: Vec<H>) -> (Duration, usize)
where
    H: Fn(SqsEvent) -> Fut + Send + 'static,
    Fut: Future<Output = Result<SqsBatchResponse, String>> + Send,
{
    let sqs = sqs().await;
    let started = Instant::now();
    let mut consumers = Vec::new();
    for handler in handlers {
        let source = EventSource::new(sqs.clone(), &queues.queue_url)
            .await
            .unwrap();
        consumers.push(tokio::spawn(async move {
            source
                .drain(Duration::from_secs(3600), handler)
                .await
                .unwrap()
        }));
    }
    let mut deleted = 0;
    for consumer in consumers {
        deleted += consumer.await.unwrap().deleted;
    }
    (started.elapsed(), deleted)
}
