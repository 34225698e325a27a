//! End-to-end drain throughput: `DRAIN_MESSAGES` calendar-sync messages (default 1,000, over
//! `DRAIN_WORKSPACES` workspaces, default 100, each with a 20-event Google calendar already
//! synced once) drained by the calendar-sync function binary through the local system's
//! event source (two instances, as `jobs local` runs them), compared in the same run with the
//! local SQS server's own receive/delete rate: the same number of messages in the same groups
//! drained by two consumers that do nothing.
//!
//! Then one instance does the first sync of a `SYNC_EVENTS`-event calendar (default 10,000) and
//! its peak memory (`VmHWM`) is reported against the 64 MiB budget.
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
use integration_tests::sync_support::{connect_google, sync_binary_env};
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
    for n in 0..workspaces {
        let ws = workspace(&pool, Some("Europe/Berlin")).await;
        let account = format!("drain-{}", ws.simple());
        let grant = fake.add_account(&account);
        for i in 0..20 {
            fake.put_event(
                &account,
                "primary",
                timed_event(
                    &format!("e{n}x{i}"),
                    "Standup",
                    now + chrono::Duration::hours(i),
                    15,
                ),
            );
        }
        connect_google(&pool, ws, &grant, None, &["primary"]).await;
        ws_ids.push(ws);
    }

    let work = fifo_queues(&sqs, 300).await;
    let env = sync_binary_env(&work, &fake);
    let log = integration_tests::workspace_root().join(".local/logs/bench/drain.log");
    let mut functions = Vec::new();
    for _ in 0..CONSUMERS {
        let mut function =
            LocalFunction::start(&bin_dir.join("calendar-sync"), "calendar-sync", &env, &log)
                .await
                .unwrap();
        function.ready(Duration::from_secs(30)).await.unwrap();
        functions.push(Arc::new(Mutex::new(function)));
    }
    let invoke = |function: Arc<Mutex<LocalFunction>>| {
        move |event: SqsEvent| {
            let function = function.clone();
            async move {
                let response = function
                    .lock()
                    .await
                    .invoke_batch(&event, Duration::from_secs(60))
                    .await
                    .unwrap();
                Ok(response)
            }
        }
    };

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
    let (elapsed, drained) = drain(&idle, vec![noop; CONSUMERS]).await;
    assert!(drained >= messages, "{drained} of {messages} drained");
    let no_op = messages as f64 / elapsed.as_secs_f64();
    let (elapsed, drained) =
        drain(&work, functions.iter().map(|f| invoke(f.clone())).collect()).await;
    assert!(drained >= messages, "{drained} of {messages} drained");
    let system = messages as f64 / elapsed.as_secs_f64();

    let succeeded: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs.runs WHERE ws_id = ANY($1) AND status = 'succeeded'",
    )
    .bind(&ws_ids)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        succeeded as usize,
        messages + ws_ids.len(),
        "every message succeeded"
    );

    let (events, peak_mib) = peak_after_a_large_sync(
        &pool,
        &fake,
        &work,
        invoke(functions[0].clone()),
        &functions[0],
    )
    .await;

    for function in functions {
        if let Ok(function) = Arc::try_unwrap(function) {
            function.into_inner().stop().await.unwrap();
        }
    }

    println!(
        "drain benchmark: {messages} calendar-sync messages over {workspaces} workspaces, {CONSUMERS} consumers each"
    );
    println!("  local SQS server, no-op consumer     {no_op:>8.1} messages/s  (1.00x)");
    println!(
        "  calendar-sync binary, local system   {system:>8.1} messages/s  ({:.2}x the no-op rate)",
        system / no_op
    );
    println!(
        "| end-to-end drain: calendar-sync binary vs a no-op consumer of the local SQS server ({messages} messages) | {system:.1} vs {no_op:.1} messages/s | {:.2}× |",
        system / no_op
    );
    println!(
        "| peak memory: calendar-sync process after the drain and a {events}-event first sync vs the 64 MiB budget | {peak_mib:.1} MiB vs 64 MiB | {:.2}× |",
        peak_mib / 64.0
    );
}

/// Peak memory: `function` does the first sync of a calendar of `SYNC_EVENTS` events (every page
/// listed and written) through `handler`; its high-water mark covers that and the drain before.
/// Returns the number of events and the peak in MiB.
async fn peak_after_a_large_sync<H, Fut>(
    pool: &sqlx::PgPool,
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
