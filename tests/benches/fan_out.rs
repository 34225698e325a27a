//! Fan-out benchmark: N workspaces with an active Google token in a fresh database, fanned out
//! by the orchestrator to a fresh FIFO queue on the local SQS server.
//!
//! `scripts/bench.sh fan-out` (or `cargo bench -p integration-tests --bench fan_out` with the
//! local stack's environment). `FAN_OUT_WORKSPACES` sets N (default 100,000). Prints calls made
//! against the ⌈N/10⌉ floor, messages delivered, and enumeration versus sending time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::HashSet;
use std::time::Instant;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use orchestrator::{FanOutOptions, Tick, fan_out};
use serde_json::json;

#[tokio::main]
async fn main() {
    let n = integration_tests::bench_size("FAN_OUT_WORKSPACES", 100_000, 300) as i64;
    let db = integration_tests::BenchDatabase::create("bench_fan_out", 2).await;
    let pool = db.pool.clone();

    let seeding = Instant::now();
    sqlx::query(
        "WITH u AS (INSERT INTO public.users DEFAULT VALUES RETURNING id),
              w AS (INSERT INTO public.workspaces (name, creator_id, timezone)
                    SELECT 'Bench ' || i, (SELECT id FROM u), 'UTC' FROM generate_series(1, $1) i
                    RETURNING id, creator_id)
         INSERT INTO public.calendar_auth_tokens (user_id, ws_id, access_token, refresh_token, account_email)
         SELECT creator_id, id, 'a', 'r', id::text FROM w",
    )
    .bind(n)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    let seeded_in = seeding.elapsed();

    let sqs = shared::aws::sqs_client().await;
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("bench-fan-out-{}.fifo", std::process::id()))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::ContentBasedDeduplication, "true")
        .attributes(QueueAttributeName::VisibilityTimeout, "900")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();

    let tick = Tick::parse(
        json!({ "fan_out": "calendar-sync", "scheduled_at": "2026-11-26T18:45:00Z" }),
        integration_tests::test_now(),
    )
    .unwrap();
    let started = Instant::now();
    let summary = fan_out::fan_out(&pool, &sqs, &queue_url, &tick, FanOutOptions::default())
        .await
        .unwrap();
    let total = started.elapsed();

    // Counted by the server; read back one by one as well when the run is small (receiving
    // from a long FIFO queue is slow on the local server).
    let delivered: u64 = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|v| v.parse().ok())
        .unwrap();
    if n <= 2_000 {
        let messages = integration_tests::drain_queue(&sqs, &queue_url).await;
        let groups: HashSet<String> = messages
            .iter()
            .map(|m| {
                integration_tests::system_attribute(m, MessageSystemAttributeName::MessageGroupId)
                    .unwrap()
            })
            .collect();
        assert_eq!(messages.len(), n as usize, "one message per workspace");
        assert_eq!(groups.len(), n as usize, "every workspace");
    }
    let floor = (n as u64).div_ceil(10);
    let secs = |d: std::time::Duration| d.as_secs_f64();
    println!(
        "fan-out benchmark: {n} workspaces (seeded in {:.1} s)",
        secs(seeded_in)
    );
    println!(
        "  SendMessageBatch calls   {:>8}  (floor ⌈N/10⌉ = {floor}, ratio {:.3}; {} entries re-sent)",
        summary.calls,
        summary.calls as f64 / floor as f64,
        summary.resent
    );
    println!(
        "  messages delivered       {delivered:>8}  (in the queue afterwards; enqueued {}, failed {})",
        summary.enqueued, summary.failed
    );
    println!(
        "  enumeration              {:>8.2} s  ({} keyset pages, {:.1}% of the fan-out)",
        secs(summary.enumeration),
        summary.pages,
        100.0 * secs(summary.enumeration) / secs(total)
    );
    println!(
        "  sending                  {:>8.2} s  ({:.1}% of the fan-out)",
        secs(summary.sending),
        100.0 * secs(summary.sending) / secs(total)
    );
    println!(
        "  total                    {:>8.2} s  ({:.0} workspaces/s)",
        secs(total),
        n as f64 / secs(total)
    );
    println!(
        "| fan-out: SendMessageBatch calls per workspace, {n} workspaces (vs the floor of 1/10) | {:.4} | {:.3}× |",
        summary.calls as f64 / n as f64,
        summary.calls as f64 / floor as f64
    );
    println!(
        "| fan-out: enumerating Postgres vs sending to SQS | {:.2} s vs {:.2} s | {:.4}× |",
        secs(summary.enumeration),
        secs(summary.sending),
        secs(summary.enumeration) / secs(summary.sending)
    );

    sqs.delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .unwrap();
    db.drop().await;
    assert_eq!(delivered, n as u64, "one message per workspace");
    assert_eq!(summary.failed, 0);
    // Every call beyond the floor re-sends at least one failed entry.
    assert!(summary.calls >= floor && summary.calls - floor <= summary.resent);
}

// One consumer: moto's FIFO receive is not safe against concurrent receivers.
