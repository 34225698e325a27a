//! The batch runner against a real Postgres and the local SQS server.

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shared::db::Db;
use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use integration_tests::{
    Queues, ScriptedJob, attribute, count, dead_letters, fifo_queues, next_batch, receive, runs_of,
    send, sqs, worker_config,
};
use local_stack::event_source::EventSource;
use serde_json::json;
use shared::jobs::runner::Runner;
use sqlx::PgPool;
use uuid::Uuid;

async fn runner(pool: &Db, queues: &Queues) -> Runner {
    Runner::new(pool.clone(), sqs().await, &worker_config(queues))
}

fn body(ws_id: Uuid) -> String {
    json!({ "ws_id": ws_id }).to_string()
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_mixed_batch_fails_only_what_must_be_retried(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 300).await;
    let mut job = ScriptedJob::new(pool.clone()).await;
    let (good, retry, perm, behind) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    job.retryable.insert(retry);
    job.permanent.insert(perm);

    let url = &queues.queue_url;
    let good_id = send(&sqs, url, &good.to_string(), "d-good", &body(good)).await;
    let malformed_id = send(&sqs, url, "malformed", "d-malformed", "{\"ws_id\": ").await;
    let missing_id = send(&sqs, url, "missing", "d-missing", r#"{"workspace":"x"}"#).await;
    let retry_id = send(&sqs, url, &retry.to_string(), "d-retry", &body(retry)).await;
    let perm_id = send(&sqs, url, &perm.to_string(), "d-perm", &body(perm)).await;
    // Two later messages of the retried workspace's group; they must not run in this batch.
    let behind_1 = send(&sqs, url, &retry.to_string(), "d-behind-1", &body(behind)).await;
    let behind_2 = send(&sqs, url, &retry.to_string(), "d-behind-2", &body(behind)).await;

    let source = EventSource::new(sqs.clone(), url).await.unwrap();
    let event = source.poll().await.unwrap().expect("a batch");
    assert_eq!(
        event.records.len(),
        7,
        "the local server returns the whole batch at once"
    );
    let response = runner(&pool, &queues)
        .await
        .run_batch(&job, event.clone(), None)
        .await
        .unwrap();

    let failed: HashSet<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(
        failed,
        HashSet::from([retry_id.clone(), behind_1.clone(), behind_2.clone()])
    );
    assert_eq!(source.settle(&event, &response).await.unwrap(), 4);

    // Ledger: one run per processed record, none for the deferred ones.
    assert_eq!(runs_of(&pool, &good_id).await[0].status, "succeeded");
    for (id, needle) in [
        (&malformed_id, "body is not valid JSON"),
        (&missing_id, "field `ws_id` is missing"),
        (&perm_id, "scripted permanent failure"),
    ] {
        let runs = runs_of(&pool, id).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "dead");
        assert_eq!(runs[0].error_kind.as_deref(), Some("permanent"));
        assert!(
            runs[0].error.as_deref().unwrap().contains(needle),
            "{:?}",
            runs[0].error
        );
    }
    let retried = runs_of(&pool, &retry_id).await;
    assert_eq!(retried[0].status, "failed");
    assert_eq!(retried[0].error_kind.as_deref(), Some("retryable"));
    assert!(runs_of(&pool, &behind_1).await.is_empty());
    assert!(runs_of(&pool, &behind_2).await.is_empty());
    assert_eq!(job.effects(good).await, 1);
    assert_eq!(job.effects(behind).await, 0);

    // DLQ: the malformed, missing-ws_id and permanent messages, bodies unchanged, with errors.
    let dead = dead_letters(&sqs, &queues.dlq_url).await;
    let mut by_original: Vec<(String, String, String)> = dead
        .iter()
        .map(|m| {
            (
                attribute(m, "original_message_id").unwrap(),
                m.body().unwrap().to_owned(),
                attribute(m, "error").unwrap(),
            )
        })
        .collect();
    by_original.sort();
    let mut expected = vec![
        (malformed_id.clone(), "{\"ws_id\": ".to_owned()),
        (missing_id.clone(), r#"{"workspace":"x"}"#.to_owned()),
        (perm_id.clone(), body(perm)),
    ];
    expected.sort();
    assert_eq!(
        by_original
            .iter()
            .map(|(id, b, _)| (id.clone(), b.clone()))
            .collect::<Vec<_>>(),
        expected
    );
    assert!(by_original.iter().all(|(_, _, error)| !error.is_empty()));

    // The retried message's visibility was set to the backoff (5-10 s on the first receive),
    // not left at the queue's 300 s; its group stays in order behind it.
    assert!(
        receive(&sqs, url, 0).await.is_empty(),
        "the retried group is held back"
    );
    let mut again = Vec::new();
    for _ in 0..15 {
        again = receive(&sqs, url, 1).await;
        if !again.is_empty() {
            break;
        }
    }
    let ids: Vec<&str> = again.iter().filter_map(|m| m.message_id()).collect();
    assert_eq!(
        ids.first().copied(),
        Some(retry_id.as_str()),
        "back within the backoff"
    );
    assert!(ids.contains(&behind_1.as_str()) && ids.contains(&behind_2.as_str()));
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_redelivered_succeeded_message_is_skipped_without_repeating_its_effects(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 300).await;
    let job = ScriptedJob::new(pool.clone()).await;
    let runner = runner(&pool, &queues).await;
    let source = EventSource::new(sqs.clone(), &queues.queue_url)
        .await
        .unwrap();
    let ws = Uuid::new_v4();
    let dedup = format!("schedule-task:{ws}:2026-11-26T10:00:00Z");

    let first = send(&sqs, &queues.queue_url, &ws.to_string(), &dedup, &body(ws)).await;
    let stats = source
        .drain(Duration::from_secs(10), |event| {
            runner.run_batch(&job, event, None)
        })
        .await
        .unwrap();
    assert_eq!((stats.received, stats.deleted), (1, 1));

    // The same logical message again (an orchestrator retry after SQS forgot the id).
    let second = send(&sqs, &queues.queue_url, &ws.to_string(), &dedup, &body(ws)).await;
    assert_ne!(first, second);
    let stats = source
        .drain(Duration::from_secs(10), |event| {
            runner.run_batch(&job, event, None)
        })
        .await
        .unwrap();
    assert_eq!(
        (stats.received, stats.deleted),
        (1, 1),
        "acknowledged, not retried"
    );

    assert_eq!(job.effects(ws).await, 1, "the work ran once");
    assert_eq!(runs_of(&pool, &first).await[0].status, "succeeded");
    let skipped = runs_of(&pool, &second).await;
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].status, "skipped");
    assert!(receive(&sqs, &queues.queue_url, 0).await.is_empty());
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn identical_bodies_without_a_deduplication_id_are_each_done(pool: PgPool) {
    let pool = integration_tests::db(pool);
    // EventBridge Scheduler (enqueue_at) sends no deduplication id, so SQS derives one from
    // the body. Two delayed runs of the same payload are two pieces of work, not a replay.
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 300).await;
    let job = ScriptedJob::new(pool.clone()).await;
    let runner = runner(&pool, &queues).await;
    let source = EventSource::new(sqs.clone(), &queues.queue_url)
        .await
        .unwrap();
    let ws = Uuid::new_v4();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let id = sqs
            .send_message()
            .queue_url(&queues.queue_url)
            .message_group_id(ws.to_string())
            .message_body(body(ws))
            .send()
            .await
            .unwrap()
            .message_id
            .unwrap();
        source
            .drain(Duration::from_secs(10), |event| {
                runner.run_batch(&job, event, None)
            })
            .await
            .unwrap();
        ids.push(id);
    }

    assert_ne!(ids[0], ids[1]);
    assert_eq!(job.effects(ws).await, 2);
    for id in &ids {
        assert_eq!(runs_of(&pool, id).await[0].status, "succeeded");
    }
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn two_workers_racing_for_one_workspace_lease_let_exactly_one_proceed(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    // Two queues whose tasks share the lease scope of one workspace, each with its own worker.
    let (queues_a, queues_b) = (fifo_queues(&sqs, 300).await, fifo_queues(&sqs, 300).await);
    let mut job = ScriptedJob::new(pool.clone()).await;
    job.delay = Duration::from_millis(500);
    let ws = Uuid::new_v4();
    let id_a = send(&sqs, &queues_a.queue_url, &ws.to_string(), "a", &body(ws)).await;
    let id_b = send(&sqs, &queues_b.queue_url, &ws.to_string(), "b", &body(ws)).await;
    let event_a = next_batch(&sqs, &queues_a.queue_url).await;
    let event_b = next_batch(&sqs, &queues_b.queue_url).await;
    let (runner_a, runner_b) = (
        runner(&pool, &queues_a).await,
        runner(&pool, &queues_b).await,
    );

    let (a, b) = tokio::join!(
        runner_a.run_batch(&job, event_a, None),
        runner_b.run_batch(&job, event_b, None)
    );
    let failures = a.unwrap().batch_item_failures.len() + b.unwrap().batch_item_failures.len();
    assert_eq!(failures, 1, "exactly one worker backs off");
    assert_eq!(job.effects(ws).await, 1, "exactly one did the work");
    let mut statuses: Vec<(String, Option<String>)> =
        [runs_of(&pool, &id_a).await, runs_of(&pool, &id_b).await]
            .concat()
            .into_iter()
            .map(|r| (r.status, r.error))
            .collect();
    statuses.sort();
    assert_eq!(statuses[0].0, "failed");
    assert!(
        statuses[0].1.as_deref().unwrap().contains("lease"),
        "{statuses:?}"
    );
    assert_eq!(statuses[1].0, "succeeded");
    let leases = count(&pool, "SELECT count(*) FROM jobs.leases").await;
    assert_eq!(leases, 0, "the winner released its lease");
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn leases_are_exclusive_until_they_expire(pool: PgPool) {
    let pool = integration_tests::db(pool);
    use shared::job_kind::LeaseScope::Schedule;
    use shared::jobs::lease::{release, try_acquire};
    let ws = Uuid::new_v4();
    for _ in 0..20 {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let ttl = Duration::from_secs(60);
        let (got_a, got_b) = tokio::join!(
            try_acquire(&pool, Schedule, ws, a, ttl),
            try_acquire(&pool, Schedule, ws, b, ttl)
        );
        assert!(
            got_a.unwrap() ^ got_b.unwrap(),
            "exactly one of two racers wins"
        );
        assert!(
            release(&pool, Schedule, ws, a).await.unwrap()
                ^ release(&pool, Schedule, ws, b).await.unwrap()
        );
    }
    // An expired lease is free to take; the old holder can no longer release it.
    let (old, new) = (Uuid::new_v4(), Uuid::new_v4());
    assert!(
        try_acquire(&pool, Schedule, ws, old, Duration::from_millis(1))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        try_acquire(&pool, Schedule, ws, new, Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(!release(&pool, Schedule, ws, old).await.unwrap());
    let holder: Uuid = sqlx::query_scalar("SELECT holder FROM jobs.leases WHERE ws_id = $1")
        .bind(ws)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(holder, new);
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn records_are_not_started_when_the_deadline_is_near(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 300).await;
    let mut job = ScriptedJob::new(pool.clone()).await;
    job.delay = Duration::from_millis(3500);
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    let first_id = send(
        &sqs,
        &queues.queue_url,
        &first.to_string(),
        "early",
        &body(first),
    )
    .await;
    let second_id = send(
        &sqs,
        &queues.queue_url,
        &second.to_string(),
        "late",
        &body(second),
    )
    .await;
    let event = next_batch(&sqs, &queues.queue_url).await;

    // A 4 s invocation holds back a quarter (1 s): the first record starts, and after its
    // 3.5 s the second one is left for the next invocation.
    let deadline = SystemTime::now() + Duration::from_secs(4);
    let response = runner(&pool, &queues)
        .await
        .run_batch(&job, event, Some(deadline))
        .await
        .unwrap();

    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec![second_id.as_str()]);
    assert_eq!(runs_of(&pool, &first_id).await[0].status, "succeeded");
    assert!(runs_of(&pool, &second_id).await.is_empty());
    assert_eq!(job.effects(second).await, 0);
    // Released at once for the next invocation.
    let again = receive(&sqs, &queues.queue_url, 1).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id(), Some(second_id.as_str()));
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_panicking_job_is_retried_and_the_rest_of_the_batch_still_runs(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 300).await;
    let mut job = ScriptedJob::new(pool.clone()).await;
    let (bad, good) = (Uuid::new_v4(), Uuid::new_v4());
    job.panics.insert(bad);
    let bad_id = send(&sqs, &queues.queue_url, &bad.to_string(), "bad", &body(bad)).await;
    let good_id = send(
        &sqs,
        &queues.queue_url,
        &good.to_string(),
        "good",
        &body(good),
    )
    .await;
    let event = next_batch(&sqs, &queues.queue_url).await;

    let response = runner(&pool, &queues)
        .await
        .run_batch(&job, event, None)
        .await
        .unwrap();

    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(response.batch_item_failures[0].item_identifier, bad_id);
    let bad_runs = runs_of(&pool, &bad_id).await;
    assert_eq!(
        (
            bad_runs[0].status.as_str(),
            bad_runs[0].error_kind.as_deref()
        ),
        ("failed", Some("retryable"))
    );
    assert!(
        bad_runs[0]
            .error
            .as_deref()
            .unwrap()
            .contains("the job panicked: scripted panic")
    );
    assert_eq!(runs_of(&pool, &good_id).await[0].status, "succeeded");
    assert_eq!(job.effects(good).await, 1);
    let leases = count(&pool, "SELECT count(*) FROM jobs.leases").await;
    assert_eq!(leases, 0, "the panicking run's lease was released");
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_permanent_failure_is_retried_when_its_dead_letter_cannot_be_sent(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    let mut queues = fifo_queues(&sqs, 300).await;
    let job = ScriptedJob::new(pool.clone()).await;
    let id = send(&sqs, &queues.queue_url, "poison", "poison", "not json").await;
    let event = next_batch(&sqs, &queues.queue_url).await;
    queues.dlq_url = format!("{}-missing", queues.dlq_url);

    let response = runner(&pool, &queues)
        .await
        .run_batch(&job, event, None)
        .await
        .unwrap();

    assert_eq!(
        response.batch_item_failures.len(),
        1,
        "kept in the queue, not lost"
    );
    assert_eq!(response.batch_item_failures[0].item_identifier, id);
    let runs = runs_of(&pool, &id).await;
    assert_eq!(
        (runs[0].status.as_str(), runs[0].error_kind.as_deref()),
        ("failed", Some("retryable"))
    );
    let error = runs[0].error.as_deref().unwrap();
    assert!(
        error.contains("body is not valid JSON") && error.contains("dead-letter queue"),
        "{error}"
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_record_without_a_message_id_fails_the_whole_invocation(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 300).await;
    let job = ScriptedJob::new(pool.clone()).await;
    let event =
        serde_json::from_str(include_str!("fixtures/sqs-batch-missing-message-id.json")).unwrap();
    let err = runner(&pool, &queues)
        .await
        .run_batch(&job, event, None)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("record 1 of the batch has no messageId"),
        "{err}"
    );
    let runs = count(&pool, "SELECT count(*) FROM jobs.runs").await;
    assert_eq!(runs, 0, "nothing ran before the batch was rejected");
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn an_attempt_that_never_finished_is_closed_when_its_message_returns(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 300).await;
    let job = ScriptedJob::new(pool.clone()).await;
    let ws = Uuid::new_v4();
    let id = send(
        &sqs,
        &queues.queue_url,
        &ws.to_string(),
        "crashed",
        &body(ws),
    )
    .await;
    // What a worker killed mid-record leaves behind.
    sqlx::query(
        "INSERT INTO jobs.runs (task, ws_id, message_id, deduplication_id, attempt)
         VALUES ('schedule-task', $1, $2, 'crashed', 1)",
    )
    .bind(ws)
    .bind(&id)
    .execute(&pool)
    .await
    .unwrap();

    let event = next_batch(&sqs, &queues.queue_url).await;
    runner(&pool, &queues)
        .await
        .run_batch(&job, event, None)
        .await
        .unwrap();

    let runs = runs_of(&pool, &id).await;
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].status, "failed");
    assert!(runs[0].error.as_deref().unwrap().contains("did not finish"));
    assert_eq!(runs[1].status, "succeeded");
    let running = count(
        &pool,
        "SELECT count(*) FROM jobs.runs WHERE status = 'running'",
    )
    .await;
    assert_eq!(running, 0);
}
