//! Running jobs under test: worker settings, a scripted job whose effects are rows, and the
//! runs the ledger recorded.

// Test support: a failed set-up step should stop the test with its message.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use shared::config::{Secret, WorkerConfig};
use shared::db::Db;
use shared::error::JobError;
use shared::jobs::runner::{Job, RunContext, RunResult};
use shared::payload::ScheduleTaskPayload;
use uuid::Uuid;

use crate::queues::Queues;

/// The worker settings a function would read, pointed at `queues` and the test database.
pub fn worker_config(queues: &Queues) -> WorkerConfig {
    WorkerConfig {
        database_url: Secret::new(std::env::var("DATABASE_URL").unwrap_or_default()),
        database_mode: crate::connection_mode(),
        queue_url: queues.queue_url.clone(),
        dead_letter_queue_url: queues.dlq_url.clone(),
        database_max_connections: 2,
        deadline_margin: Duration::from_secs(20),
    }
}

/// A job whose behaviour is scripted per workspace, and whose effect is a row in
/// `test_effects`, so tests can count how often the work really happened.
#[derive(Debug, Clone)]
pub struct ScriptedJob {
    pub pool: Db,
    pub retryable: HashSet<Uuid>,
    pub permanent: HashSet<Uuid>,
    pub panics: HashSet<Uuid>,
    pub delay: Duration,
}

impl ScriptedJob {
    /// A job that succeeds everywhere; creates the effects table.
    pub async fn new(pool: Db) -> Self {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS test_effects (ws_id uuid NOT NULL, run_id uuid NOT NULL)",
        )
        .execute(&pool)
        .await
        .expect("creating test_effects");
        ScriptedJob {
            pool,
            retryable: HashSet::new(),
            permanent: HashSet::new(),
            panics: HashSet::new(),
            delay: Duration::ZERO,
        }
    }

    /// How many times the work ran for `ws_id`.
    pub async fn effects(&self, ws_id: Uuid) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM test_effects WHERE ws_id = $1")
            .bind(ws_id)
            .fetch_one(&self.pool)
            .await
            .expect("counting effects")
    }
}

impl Job for ScriptedJob {
    type Payload = ScheduleTaskPayload;

    async fn run(
        &self,
        ctx: &RunContext,
        payload: ScheduleTaskPayload,
    ) -> Result<RunResult, JobError> {
        tokio::time::sleep(self.delay).await;
        if self.retryable.contains(&payload.ws_id) {
            return Err(JobError::retryable("scripted retryable failure"));
        }
        if self.permanent.contains(&payload.ws_id) {
            return Err(JobError::permanent("scripted permanent failure"));
        }
        if self.panics.contains(&payload.ws_id) {
            panic!("scripted panic");
        }
        sqlx::query("INSERT INTO test_effects (ws_id, run_id) VALUES ($1, $2)")
            .bind(payload.ws_id)
            .bind(ctx.run_id)
            .execute(&self.pool)
            .await
            .map_err(|err| JobError::retryable(err.to_string()))?;
        let mut counts = RunResult::new();
        counts.insert("effects".to_owned(), json!(1));
        Ok(counts)
    }
}

/// A run row as the tests read it back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub message_id: String,
    pub ws_id: Option<Uuid>,
    pub status: String,
    pub error: Option<String>,
    pub error_kind: Option<String>,
    pub attempt: i32,
    pub result: Option<serde_json::Value>,
}

/// The single number a `SELECT count(*) …` returns.
pub async fn count(pool: &Db, query: &'static str) -> i64 {
    sqlx::query_scalar(query)
        .fetch_one(pool)
        .await
        .expect("counting rows")
}

/// Every run of `message_id`, oldest first.
pub async fn runs_of(pool: &Db, message_id: &str) -> Vec<RunRow> {
    sqlx::query_as(
        "SELECT message_id, ws_id, status, error, error_kind, attempt, result FROM jobs.runs
         WHERE message_id = $1 ORDER BY started_at, id",
    )
    .bind(message_id)
    .fetch_all(pool)
    .await
    .expect("reading runs")
}
