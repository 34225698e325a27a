//! The run ledger, `jobs.runs`: one row per attempt at one SQS record.

use crate::db::Db;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::ErrorKind;

/// The `status` column. The strings match the table's check constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Dead,
    Skipped,
}

impl RunStatus {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Dead => "dead",
            RunStatus::Skipped => "skipped",
        }
    }
}

/// What identifies one delivery of one message.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// A task's name, or `orchestrator`.
    pub task: &'static str,
    /// Absent when the body had no usable `ws_id`.
    pub ws_id: Option<Uuid>,
    pub message_id: String,
    /// The idempotency key: the producer's `MessageDeduplicationId`, else the message id.
    pub deduplication_id: String,
    pub message_group_id: Option<String>,
    /// `ApproximateReceiveCount`.
    pub attempt: i32,
    /// The payload as the worker parsed it (known fields only), for `jobs replay`; absent when
    /// the body could not be parsed.
    pub payload: Option<serde_json::Value>,
}

/// A stored run, as the ledger's readers see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Run {
    pub id: Uuid,
    pub task: String,
    pub ws_id: Option<Uuid>,
    pub message_id: String,
    pub deduplication_id: Option<String>,
    pub attempt: i32,
    pub status: String,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    pub error_kind: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Whether `(task, deduplication id)` already has a succeeded run.
///
/// # Errors
/// The database is unreachable.
pub async fn has_succeeded(pool: &Db, delivery: &Delivery) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM jobs.runs
                        WHERE task = $1 AND deduplication_id = $2 AND status = 'succeeded')",
    )
    .bind(delivery.task)
    .bind(&delivery.deduplication_id)
    .fetch_one(pool)
    .await
}

/// Opens a run in `running`. Earlier attempts at the same message still marked `running` are
/// closed as failed first, and the leases they hold are freed: the message came back, so their
/// invocation timed out or crashed (the queue's visibility timeout outlasts any invocation),
/// and waiting for those leases to expire would only burn this delivery's receive count.
///
/// # Errors
/// The database is unreachable.
pub async fn open(pool: &Db, delivery: &Delivery) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "WITH abandoned AS (
             UPDATE jobs.runs
             SET status = 'failed', error_kind = 'retryable', finished_at = now(),
                 error = 'the attempt did not finish: its invocation timed out or crashed'
             WHERE task = $1 AND message_id = $3 AND status = 'running'
             RETURNING id
         ), freed AS (
             DELETE FROM jobs.leases WHERE holder IN (SELECT id FROM abandoned)
         )
         INSERT INTO jobs.runs
             (task, ws_id, message_id, deduplication_id, message_group_id, attempt, payload)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING id",
    )
    .bind(delivery.task)
    .bind(delivery.ws_id)
    .bind(&delivery.message_id)
    .bind(&delivery.deduplication_id)
    .bind(&delivery.message_group_id)
    .bind(delivery.attempt.max(1))
    .bind(&delivery.payload)
    .fetch_one(pool)
    .await
}

/// Closes a run as succeeded. Returns `Skipped` instead when another delivery of the same
/// message recorded its success first (the unique index on successes decides the race).
///
/// # Errors
/// The database is unreachable.
pub async fn succeed(
    pool: &Db,
    run_id: Uuid,
    result: &serde_json::Value,
) -> Result<RunStatus, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs.runs SET status = 'succeeded', result = $2, finished_at = now() WHERE id = $1",
    )
    .bind(run_id)
    .bind(result)
    .execute(pool)
    .await;
    match done {
        Ok(_) => Ok(RunStatus::Succeeded),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            close(pool, run_id, RunStatus::Skipped, result, None).await?;
            Ok(RunStatus::Skipped)
        }
        Err(err) => Err(err),
    }
}

/// Closes a run as failed, dead or skipped.
///
/// # Errors
/// The database is unreachable.
pub async fn close(
    pool: &Db,
    run_id: Uuid,
    status: RunStatus,
    result: &serde_json::Value,
    error: Option<(ErrorKind, &str)>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE jobs.runs
         SET status = $2, result = $3, error = $4, error_kind = $5, finished_at = now()
         WHERE id = $1",
    )
    .bind(run_id)
    .bind(status.as_str())
    .bind(result)
    .bind(error.map(|(_, message)| message))
    .bind(error.map(|(kind, _)| kind.as_str()))
    .execute(pool)
    .await?;
    Ok(())
}

/// Every run started at or after `after`, oldest first.
///
/// # Errors
/// The database is unreachable.
pub async fn since(pool: &Db, after: DateTime<Utc>) -> Result<Vec<Run>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, task, ws_id, message_id, deduplication_id, attempt, status, result, error,
                error_kind, started_at, finished_at
         FROM jobs.runs WHERE started_at >= $1 ORDER BY started_at, id",
    )
    .bind(after)
    .fetch_all(pool)
    .await
}
