//! The metrics the calendar-sync binary writes (CloudWatch Embedded Metric Format lines on its
//! stdout, design §12) agree with what the run ledger recorded: runs by outcome, and the events
//! and Google calls of succeeded runs.
//!
//! The binary runs as the local system runs it (local Runtime API, the event source's rules, a
//! FIFO queue in the local SQS server) over four messages: two syncs that succeed (the first
//! after one Google 503 the client retries), one that Google rate-limits for an hour (retried
//! later by SQS) and one unreadable body (dead-lettered).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use integration_tests::fake_google::{FakeGoogle, Fault, timed_event};
use integration_tests::sync_support::{connect_google, sync_binary_env};
use integration_tests::{
    build_function_binaries, dead_letters, fifo_queues, send, sqs, workspace, workspace_root,
};
use local_stack::event_source::EventSource;
use local_stack::runtime_api::LocalFunction;
use serde_json::{Value, json};
use shared::jobs::metrics::NAMESPACE;
use uuid::Uuid;

/// What the EMF documents of one log add up to.
#[derive(Debug, Default)]
struct Emitted {
    /// `Runs` by outcome.
    runs: BTreeMap<String, u64>,
    /// How many `Duration` values were written.
    durations: u64,
    /// Every other counter, summed.
    counters: BTreeMap<String, u64>,
}

fn read_emitted(log: &str) -> Emitted {
    let mut emitted = Emitted::default();
    for line in log.lines() {
        let Ok(doc) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let Some(aws) = doc.get("_aws") else {
            continue;
        };
        let directive = &aws["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE, "{line}");
        assert_eq!(doc["Task"], "calendar-sync", "{line}");
        let dimensions: Vec<&str> = directive["Dimensions"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            let value = &doc[name];
            match name {
                "Runs" => {
                    assert_eq!(dimensions, ["Task", "Outcome"], "{line}");
                    let outcome = doc["Outcome"].as_str().unwrap().to_owned();
                    *emitted.runs.entry(outcome).or_default() += value.as_u64().unwrap();
                }
                "Duration" => {
                    assert_eq!(metric["Unit"], "Milliseconds", "{line}");
                    emitted.durations += value.as_array().unwrap().len() as u64;
                }
                "Attempt" => {}
                _ => {
                    assert_eq!(dimensions, ["Task"], "{line}");
                    *emitted.counters.entry(name.to_owned()).or_default() +=
                        value.as_u64().unwrap();
                }
            }
        }
    }
    emitted
}

#[tokio::test]
async fn emitted_metrics_agree_with_the_run_ledger() {
    let bin_dir = build_function_binaries();
    let pool = local_stack::connect().await.unwrap();
    let sqs = sqs().await;
    let fake = FakeGoogle::start().await.unwrap();
    let queues = fifo_queues(&sqs, 300).await;

    // Two calendars that sync (3 and 2 events), one that Google will rate-limit. The binary reads
    // the process clock, so the events are placed from it (hours ahead, inside any sync window).
    let now = chrono::Utc::now();
    let mut ws_ids = Vec::new();
    for events in [3, 2, 1] {
        let ws = workspace(&pool, Some("Europe/Berlin")).await;
        let account = format!("metrics-{}", ws.simple());
        let grant = fake.add_account(&account);
        for i in 0..events {
            let start = now + chrono::Duration::hours(i + 1);
            fake.put_event(
                &account,
                "primary",
                timed_event(&format!("m{i}"), "Review", start, 30),
            );
        }
        connect_google(&pool, ws, &grant, None, &["primary"]).await;
        ws_ids.push(ws);
    }

    let log = workspace_root().join(format!(".local/logs/tests/metrics-{}.log", Uuid::new_v4()));
    let env = sync_binary_env(&queues, &fake);
    let mut function =
        LocalFunction::start(&bin_dir.join("calendar-sync"), "calendar-sync", &env, &log)
            .await
            .unwrap();
    function.ready(Duration::from_secs(30)).await.unwrap();
    let function = tokio::sync::Mutex::new(function);
    let source = EventSource::new(sqs.clone(), &queues.queue_url)
        .await
        .unwrap();

    let mut message_ids = Vec::new();
    // One message per drain, so each meets the fault meant for it.
    let steps: [(Option<Fault>, String); 4] = [
        (
            Some(Fault::Status(503)),
            json!({ "ws_id": ws_ids[0] }).to_string(),
        ),
        (None, json!({ "ws_id": ws_ids[1] }).to_string()),
        (
            Some(Fault::RateLimited { retry_after: 3600 }),
            json!({ "ws_id": ws_ids[2] }).to_string(),
        ),
        (None, json!({ "ws_id": "not-a-workspace" }).to_string()),
    ];
    for (n, (fault, body)) in steps.into_iter().enumerate() {
        fake.inject(fault);
        let group = format!("metrics-{n}-{}", Uuid::new_v4());
        message_ids.push(send(&sqs, &queues.queue_url, &group, &group, &body).await);
        source
            .drain(Duration::from_secs(60), |event: SqsEvent| {
                let function = &function;
                async move {
                    let mut function = function.lock().await;
                    function.invoke_batch(&event, Duration::from_secs(60)).await
                }
            })
            .await
            .unwrap();
    }
    function.into_inner().stop().await.unwrap();
    assert_eq!(dead_letters(&sqs, &queues.dlq_url).await.len(), 1);

    let by_status: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, count(*) FROM jobs.runs WHERE message_id = ANY($1) GROUP BY status",
    )
    .bind(&message_ids)
    .fetch_all(&pool)
    .await
    .unwrap();
    let ledger: BTreeMap<String, u64> = by_status
        .into_iter()
        .map(|(status, n)| (status, n as u64))
        .collect();
    let sums: (i64, i64, i64) = sqlx::query_as(
        "SELECT sum((result->>'inserted')::bigint)::bigint,
                sum((result->>'api_calls')::bigint)::bigint,
                sum((result->>'api_retries')::bigint)::bigint
         FROM jobs.runs WHERE message_id = ANY($1) AND status = 'succeeded'",
    )
    .bind(&message_ids)
    .fetch_one(&pool)
    .await
    .unwrap();

    let emitted = read_emitted(&std::fs::read_to_string(&log).unwrap());
    // The ledger calls a run returned to the queue `failed`; the metric's outcome is `retry`.
    let expected: BTreeMap<String, u64> = ledger
        .iter()
        .map(|(status, n)| {
            let outcome = if status == "failed" { "retry" } else { status };
            (outcome.to_owned(), *n)
        })
        .collect();
    assert_eq!(
        expected,
        BTreeMap::from([
            ("dead".to_owned(), 1),
            ("retry".to_owned(), 1),
            ("succeeded".to_owned(), 2)
        ]),
        "the ledger recorded what the steps meant"
    );
    assert_eq!(emitted.runs, expected, "runs by outcome");
    assert_eq!(emitted.durations, 4, "one duration per record");
    assert_eq!(
        (
            emitted.counters["EventsInserted"] as i64,
            emitted.counters["GoogleCalls"] as i64,
            emitted.counters["GoogleRetries"] as i64,
        ),
        sums,
        "events and Google calls of succeeded runs"
    );
    assert_eq!(sums.0, 5, "3 + 2 events inserted");
    assert_eq!(sums.2, 1, "the 503 was retried once");
}
