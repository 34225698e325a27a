//! The operator commands against the local stack: `runs` reads the ledger, `enqueue` sends a
//! validated payload, `dlq list` / `dlq redrive` show and move dead letters back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use shared::db::Db;
use std::time::Duration;

use chrono::{DateTime, Utc};
use integration_tests::{
    ScriptedJob, dead_letters, fifo_queues, next_batch, receive, runs_of, send, sqs, worker_config,
    workspace,
};
use jobs_cli::ops::{self, RunFilter};
use local_stack::event_source::EventSource;
use local_stack::table;
use serde_json::json;
use shared::job_kind::JobKind;
use shared::jobs::dead_letter::{self, DeadLetter};
use shared::jobs::runner::Runner;
use sqlx::PgPool;
use uuid::Uuid;

async fn run_row(
    pool: &Db,
    task: &str,
    ws: Uuid,
    status: &str,
    started: &str,
    error: Option<&str>,
) {
    let started: DateTime<Utc> = started.parse().unwrap();
    sqlx::query(
        "INSERT INTO jobs.runs (task, ws_id, message_id, attempt, status, error, error_kind, started_at, finished_at)
         VALUES ($1, $2, gen_random_uuid()::text, 2, $3, $4, CASE WHEN $4 IS NULL THEN NULL ELSE 'retryable' END,
                 $5, CASE WHEN $3 = 'running' THEN NULL ELSE $5 END)",
    )
    .bind(task)
    .bind(ws)
    .bind(status)
    .bind(error)
    .bind(started)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn runs_filter_by_task_workspace_status_and_time_newest_first(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let a = workspace(&pool, None).await;
    let b = workspace(&pool, None).await;
    run_row(
        &pool,
        "calendar-sync",
        a,
        "succeeded",
        "2026-11-01T10:00:00Z",
        None,
    )
    .await;
    run_row(
        &pool,
        "calendar-sync",
        a,
        "failed",
        "2026-11-02T10:00:00Z",
        Some("Google answered 503 4 times"),
    )
    .await;
    run_row(
        &pool,
        "unified-schedule",
        a,
        "dead",
        "2026-11-03T10:00:00Z",
        Some("timezone `auto`"),
    )
    .await;
    run_row(
        &pool,
        "calendar-sync",
        b,
        "succeeded",
        "2026-11-04T10:00:00Z",
        None,
    )
    .await;

    let all = ops::runs(
        &pool,
        &RunFilter {
            limit: 50,
            ..RunFilter::default()
        },
    )
    .await
    .unwrap();
    let starts: Vec<String> = all
        .iter()
        .map(|r| r.started_at.format("%d").to_string())
        .collect();
    assert_eq!(starts, ["04", "03", "02", "01"], "newest first");

    let filter = RunFilter {
        task: Some("calendar-sync".into()),
        ws_id: Some(a),
        limit: 50,
        ..RunFilter::default()
    };
    let runs = ops::runs(&pool, &filter).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        runs[0].error.as_deref(),
        Some("Google answered 503 4 times")
    );
    assert_eq!(runs[0].attempt, 2);
    assert_eq!(runs[0].error_kind.as_deref(), Some("retryable"));

    let dead = ops::runs(
        &pool,
        &RunFilter {
            status: Some("dead".into()),
            limit: 50,
            ..RunFilter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].task, "unified-schedule");

    let window = RunFilter {
        since: Some("2026-11-02T00:00:00Z".parse().unwrap()),
        until: Some("2026-11-04T00:00:00Z".parse().unwrap()),
        limit: 1,
        ..RunFilter::default()
    };
    let runs = ops::runs(&pool, &window).await.unwrap();
    assert_eq!(runs.len(), 1, "limit");
    assert_eq!(runs[0].status, "dead");
    let text = table::table(&["status"], &[vec![runs[0].status.clone()]]);
    assert!(text.contains("dead"));
    let as_json = serde_json::to_value(&runs).unwrap();
    assert_eq!(as_json[0]["error"], "timezone `auto`");
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn run_stats_count_outcomes_and_duration_percentiles_per_kind(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let ws = Uuid::new_v4();
    // Ten finished schedule-task runs of 100, 200, … 1000 ms, started in the window.
    for i in 1..=10_i64 {
        let status = match i {
            1..=6 => "succeeded",
            7 | 8 => "failed",
            9 => "dead",
            _ => "skipped",
        };
        sqlx::query(
            "INSERT INTO jobs.runs (task, ws_id, message_id, status, started_at, finished_at)
             VALUES ('schedule-task', $1, gen_random_uuid()::text, $2, $3, $3 + $4 * interval '1 millisecond')",
        )
        .bind(ws)
        .bind(status)
        .bind("2026-11-20T10:00:00Z".parse::<DateTime<Utc>>().unwrap())
        .bind(100.0 * i as f64)
        .execute(&pool)
        .await
        .unwrap();
    }
    run_row(
        &pool,
        "calendar-sync",
        ws,
        "running",
        "2026-11-20T10:00:00Z",
        None,
    )
    .await;
    // Outside the window.
    run_row(
        &pool,
        "calendar-sync",
        ws,
        "dead",
        "2026-11-01T10:00:00Z",
        None,
    )
    .await;

    let window = RunFilter {
        since: Some("2026-11-15T00:00:00Z".parse().unwrap()),
        ..RunFilter::default()
    };
    let stats = ops::run_stats(&pool, &window).await.unwrap();
    assert_eq!(stats.len(), 2);
    let sync = &stats[0];
    assert_eq!(
        (sync.task.as_str(), sync.runs, sync.running, sync.dead),
        ("calendar-sync", 1, 1, 0)
    );
    assert_eq!((sync.p50_ms, sync.p95_ms), (None, None), "nothing finished");
    let schedule = &stats[1];
    assert_eq!(
        (
            schedule.runs,
            schedule.succeeded,
            schedule.failed,
            schedule.dead,
            schedule.skipped
        ),
        (10, 6, 2, 1, 1)
    );
    // Linear interpolation over 100..=1000: the median is 550, the 95th percentile 955.
    assert!((schedule.p50_ms.unwrap() - 550.0).abs() < 0.01);
    assert!((schedule.p95_ms.unwrap() - 955.0).abs() < 0.01);
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn enqueue_sends_a_validated_payload_to_the_tasks_queue(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 30).await;
    let ws = workspace(&pool, Some("UTC")).await;
    let err = ops::prepare(
        JobKind::UnifiedSchedule,
        &json!({ "ws_id": ws, "windowDays": 91 }).to_string(),
        None,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("field `windowDays` is invalid"),
        "{err}"
    );
    assert!(
        receive(&sqs, &queues.queue_url, 0).await.is_empty(),
        "nothing was sent"
    );

    let body = json!({ "ws_id": ws, "windowDays": 14 }).to_string();
    let message = ops::prepare(JobKind::UnifiedSchedule, &body, Some("ops-test-1")).unwrap();
    let id = ops::send(&sqs, &queues.queue_url, message).await.unwrap();
    let received = receive(&sqs, &queues.queue_url, 0).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].message_id(), Some(id.as_str()));
    let sent: serde_json::Value = serde_json::from_str(received[0].body().unwrap()).unwrap();
    assert_eq!(sent, json!({ "ws_id": ws, "windowDays": 14 }));
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn a_redriven_dead_letter_is_processed_on_the_next_drain(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 30).await;
    let ws = workspace(&pool, None).await;
    // A permanent failure copied to the DLQ the way the runner does it.
    let body = json!({ "ws_id": ws }).to_string();
    let group = ws.to_string();
    let letter = DeadLetter {
        task: "schedule-task",
        body: &body,
        original_message_id: "original-1",
        message_group_id: Some(&group),
        error: "invalid schedule-task payload: something that is fixed now",
        failed_at: "2031-03-03T05:00:00Z".parse().unwrap(),
    };
    dead_letter::send(&sqs, &queues.dlq_url, &letter)
        .await
        .unwrap();

    assert_eq!(
        dead_letter::queue_url_of(&sqs, &queues.queue_url)
            .await
            .unwrap(),
        queues.dlq_url
    );
    let listed = dead_letter::list(&sqs, Some(&pool), &queues.dlq_url)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].group_id.as_deref(), Some(group.as_str()));
    assert!(
        listed[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("fixed now")
    );
    assert_eq!(
        dead_letters(&sqs, &queues.dlq_url).await.len(),
        1,
        "listing consumed nothing"
    );

    let report = dead_letter::redrive(&sqs, &queues.dlq_url, &queues.queue_url)
        .await
        .unwrap();
    assert_eq!(report.moved, 1);
    assert!(dead_letters(&sqs, &queues.dlq_url).await.is_empty());

    let job = ScriptedJob::new(pool.clone()).await;
    let runner = Runner::new(pool.clone(), sqs.clone(), &worker_config(&queues));
    let event = next_batch(&sqs, &queues.queue_url).await;
    let message_id = event.records[0].message_id.clone().unwrap();
    assert_eq!(
        event.records[0].body.as_deref(),
        Some(body.as_str()),
        "body unchanged"
    );
    let response = runner.run_batch(&job, event.clone(), None).await.unwrap();
    EventSource::new(sqs.clone(), &queues.queue_url)
        .await
        .unwrap()
        .settle(&event, &response)
        .await
        .unwrap();
    assert_eq!(runs_of(&pool, &message_id).await[0].status, "succeeded");
    assert_eq!(job.effects(ws).await, 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(receive(&sqs, &queues.queue_url, 0).await.is_empty());
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn replay_sends_the_payload_of_dead_runs_again_once(pool: PgPool) {
    let pool = integration_tests::db(pool);
    let sqs = sqs().await;
    let queues = fifo_queues(&sqs, 30).await;
    let (broken, fine) = (workspace(&pool, None).await, workspace(&pool, None).await);
    let mut job = ScriptedJob::new(pool.clone()).await;
    job.permanent.insert(broken);
    let runner = Runner::new(pool.clone(), sqs.clone(), &worker_config(&queues));
    // An old producer's token rides along: it must not be stored or sent again.
    let body = json!({ "ws_id": broken, "access_token": "ya29.old-producer-token" }).to_string();
    send(&sqs, &queues.queue_url, &broken.to_string(), "web:1", &body).await;
    let ok = json!({ "ws_id": fine }).to_string();
    send(&sqs, &queues.queue_url, &fine.to_string(), "web:2", &ok).await;
    let event = next_batch(&sqs, &queues.queue_url).await;
    let response = runner.run_batch(&job, event.clone(), None).await.unwrap();
    let source = EventSource::new(sqs.clone(), &queues.queue_url)
        .await
        .unwrap();
    source.settle(&event, &response).await.unwrap();

    let dead = RunFilter {
        task: Some("schedule-task".to_owned()),
        status: Some("dead".to_owned()),
        ..RunFilter::default()
    };
    let runs = ops::replayable(&pool, &dead).await.unwrap();
    assert_eq!(runs.len(), 1, "only the dead message");
    assert_eq!(runs[0].ws_id, Some(broken));
    assert_eq!(
        runs[0].payload,
        json!({ "ws_id": broken }),
        "known fields only"
    );

    let dry = ops::replay(&sqs, "", JobKind::ScheduleTask, &runs, true).await;
    assert_eq!((dry.found, dry.sent, dry.dry_run), (1, 0, true));
    assert!(receive(&sqs, &queues.queue_url, 0).await.is_empty());

    // Fixed: the replay runs and succeeds, once.
    job.permanent.clear();
    let report = ops::replay(&sqs, &queues.queue_url, JobKind::ScheduleTask, &runs, false).await;
    assert_eq!((report.sent, report.failed.len()), (1, 0));
    let event = next_batch(&sqs, &queues.queue_url).await;
    assert_eq!(event.records.len(), 1);
    assert!(
        !event.records[0].body.as_deref().unwrap().contains("ya29"),
        "no token is sent again"
    );
    let response = runner.run_batch(&job, event.clone(), None).await.unwrap();
    source.settle(&event, &response).await.unwrap();
    let replayed = runs_of(&pool, event.records[0].message_id.as_deref().unwrap()).await;
    assert_eq!(replayed[0].status, "succeeded");
    assert_eq!(job.effects(broken).await, 1);
    let dedup: String =
        sqlx::query_scalar("SELECT deduplication_id FROM jobs.runs WHERE message_id = $1")
            .bind(event.records[0].message_id.as_deref().unwrap())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(dedup, runs[0].deduplication_id());
    assert!(
        ops::replayable(&pool, &dead).await.unwrap().is_empty(),
        "a replayed message that succeeded is not replayed again"
    );
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn jobs_check_passes_on_the_mirror_and_names_what_is_wrong_elsewhere(pool: PgPool) {
    let pool = integration_tests::db(pool);
    use jobs_cli::check::{self, Status};
    let status = |outcomes: &[check::Outcome], name: &str| {
        outcomes
            .iter()
            .filter(|o| o.check == name)
            .map(|o| o.status)
            .max_by_key(|s| *s as u8)
            .unwrap()
    };
    let outcomes = check::run(&pool).await.unwrap();
    assert!(
        outcomes.iter().all(|o| o.status == Status::Ok),
        "{}",
        check::render(&outcomes)
    );

    // A column of another type than the jobs read is named, and fails the check.
    sqlx::query("ALTER TABLE public.workspace_habits ALTER COLUMN time_preference TYPE text")
        .execute(&pool)
        .await
        .unwrap();
    let outcomes = check::run(&pool).await.unwrap();
    assert!(check::failed(&outcomes));
    let columns = outcomes.iter().find(|o| o.check == "columns").unwrap();
    assert!(
        columns.detail.contains(
            "public.workspace_habits.time_preference is text, the jobs expect time_of_day_preference"
        ),
        "{}",
        columns.detail
    );

    // A role that does not bypass row-level security (Supabase's `authenticated`, say).
    let role = format!("check_{}", Uuid::new_v4().simple());
    let database: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::raw_sql(&format!(
        "CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA public, private TO {role};
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let admin = std::env::var("DATABASE_URL").unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    let url = base.replacen("postgres@", &format!("{role}@"), 1) + "/" + &database;
    let limited = Db::from_pool(
        sqlx::PgPool::connect(&url).await.unwrap(),
        shared::db::ConnectionMode::Direct,
    );
    let outcomes = check::run(&limited).await.unwrap();
    limited.pool().close().await;
    sqlx::raw_sql(&format!("DROP OWNED BY {role}; DROP ROLE {role};"))
        .execute(&pool)
        .await
        .unwrap();
    assert!(check::failed(&outcomes));
    for name in ["role", "privileges", "functions"] {
        assert_eq!(
            status(&outcomes, name),
            Status::Fail,
            "{name}: {}",
            check::render(&outcomes)
        );
    }
    let json = serde_json::to_value(&outcomes).unwrap();
    assert_eq!(json[0]["check"], "role");
    assert_eq!(json[0]["status"], "fail");
    assert!(json[0]["fix"].as_str().unwrap().contains("postgres"));
}
