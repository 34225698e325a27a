//! What the operator commands do, apart from parsing arguments: enqueueing a validated payload,
//! reading the run ledger, and listing and redriving dead letters. Works against AWS and, through
//! `AWS_ENDPOINT_URL`, against the local stack.

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::db::Db;
use shared::job_kind::JobKind;
use shared::payload::{
    CalendarFullSyncPayload, CalendarSyncPayload, JobPayload, ScheduleTaskPayload,
    UnifiedSchedulePayload,
};
use shared::producer::OutgoingMessage;
use uuid::Uuid;

/// Validates `json` as `task`'s payload and prepares its message.
///
/// # Errors
/// The payload is invalid (the message names the field) or the deduplication id is.
pub fn prepare(
    task: JobKind,
    json: &str,
    deduplication_id: Option<&str>,
) -> anyhow::Result<OutgoingMessage> {
    fn build<P: JobPayload>(json: &str) -> anyhow::Result<OutgoingMessage> {
        let payload =
            P::parse(json).map_err(|err| anyhow::anyhow!("invalid {} payload: {err}", P::KIND))?;
        Ok(OutgoingMessage::new(&payload)?)
    }
    let message = match task {
        JobKind::CalendarSync => build::<CalendarSyncPayload>(json)?,
        JobKind::CalendarFullSync => build::<CalendarFullSyncPayload>(json)?,
        JobKind::ScheduleTask => build::<ScheduleTaskPayload>(json)?,
        JobKind::UnifiedSchedule => build::<UnifiedSchedulePayload>(json)?,
    };
    match deduplication_id {
        Some(id) => Ok(message.with_deduplication_id(id)?),
        None => Ok(message),
    }
}

/// Sends a prepared message; returns its SQS message id.
///
/// # Errors
/// The send failed.
pub async fn send(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    message: OutgoingMessage,
) -> anyhow::Result<String> {
    let sent = sqs
        .send_message()
        .queue_url(queue_url)
        .message_body(message.body)
        .message_group_id(message.group_id)
        .message_deduplication_id(message.deduplication_id)
        .send()
        .await
        .map_err(|err| anyhow::anyhow!(shared::aws::describe(&err)))
        .with_context(|| format!("sending to {queue_url}"))?;
    Ok(sent.message_id().unwrap_or_default().to_owned())
}

/// Which runs to show.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub task: Option<String>,
    pub ws_id: Option<Uuid>,
    pub status: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: i64,
}

/// One row of `jobs.runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Run {
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub task: String,
    pub ws_id: Option<Uuid>,
    pub status: String,
    pub attempt: i32,
    pub message_id: String,
    pub error_kind: Option<String>,
    pub error: Option<String>,
}

/// The conditions of a [`RunFilter`] on `jobs.runs`, bound by [`bind_filter`] as `$1`–`$5`. A
/// macro so that each query stays one fixed string (`concat!`), never one built at run time.
macro_rules! run_filter_sql {
    () => {
        "WHERE ($1::text IS NULL OR task = $1)
           AND ($2::uuid IS NULL OR ws_id = $2)
           AND ($3::text IS NULL OR status = $3)
           AND ($4::timestamptz IS NULL OR started_at >= $4)
           AND ($5::timestamptz IS NULL OR started_at < $5)"
    };
}

fn bind_filter<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    filter: &'q RunFilter,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    query
        .bind(filter.task.as_deref())
        .bind(filter.ws_id)
        .bind(filter.status.as_deref())
        .bind(filter.since)
        .bind(filter.until)
}

/// The runs matching `filter`, newest first.
///
/// # Errors
/// The database is unreachable.
pub async fn runs(pool: &Db, filter: &RunFilter) -> anyhow::Result<Vec<Run>> {
    bind_filter(
        sqlx::query_as(concat!(
            "SELECT started_at, finished_at, task, ws_id, status, attempt, message_id, error_kind,
                    error
             FROM jobs.runs ",
            run_filter_sql!(),
            " ORDER BY started_at DESC, id DESC LIMIT $6"
        )),
        filter,
    )
    .bind(filter.limit.max(1))
    .fetch_all(pool)
    .await
    .context("reading jobs.runs")
}

/// One job kind's runs over a period: how many ended how, and how long finished ones took.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct RunStats {
    pub task: String,
    pub runs: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub dead: i64,
    pub skipped: i64,
    pub running: i64,
    /// Median and 95th percentile of finished runs' durations (milliseconds).
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// Per job kind, the runs matching `filter` (its limit does not apply), in name order.
///
/// # Errors
/// The database is unreachable.
pub async fn run_stats(pool: &Db, filter: &RunFilter) -> anyhow::Result<Vec<RunStats>> {
    bind_filter(
        sqlx::query_as(concat!(
            "WITH r AS (
                 SELECT task, status,
                        extract(epoch FROM finished_at - started_at)::float8 * 1000 AS ms
                 FROM jobs.runs ",
            run_filter_sql!(),
            ")
         SELECT task, count(*) AS runs,
                count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
                count(*) FILTER (WHERE status = 'failed') AS failed,
                count(*) FILTER (WHERE status = 'dead') AS dead,
                count(*) FILTER (WHERE status = 'skipped') AS skipped,
                count(*) FILTER (WHERE status = 'running') AS running,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50_ms,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) AS p95_ms
         FROM r GROUP BY task ORDER BY task"
        )),
        filter,
    )
    .fetch_all(pool)
    .await
    .context("reading jobs.runs")
}

/// A run whose work `jobs replay` can send again: the last attempt of its message, with the
/// payload the worker parsed.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Replayable {
    pub run_id: Uuid,
    pub task: String,
    pub ws_id: Option<Uuid>,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

impl Replayable {
    /// The replay's deduplication id: replaying the same run twice within SQS's window sends
    /// it once, and the replay's own runs can be found from the original.
    pub fn deduplication_id(&self) -> String {
        format!("replay:{}", self.run_id)
    }
}

/// The messages matching `filter` whose last attempt ended with `filter.status` and whose work
/// has not succeeded since, neither as themselves nor as a replay; messages already replayed
/// are represented by their replay. Oldest first.
///
/// # Errors
/// The database is unreachable.
pub async fn replayable(pool: &Db, filter: &RunFilter) -> anyhow::Result<Vec<Replayable>> {
    let every_status = RunFilter {
        status: None,
        ..filter.clone()
    };
    bind_filter(
        sqlx::query_as(concat!(
            "WITH last AS (
                 SELECT DISTINCT ON (task, coalesce(deduplication_id, message_id))
                        id, task, ws_id, status, started_at, payload,
                        coalesce(deduplication_id, message_id) AS key
                 FROM jobs.runs ",
            run_filter_sql!(),
            " ORDER BY task, coalesce(deduplication_id, message_id), started_at DESC, id DESC
             )
             SELECT id AS run_id, task, ws_id, status, started_at, payload
             FROM last
             WHERE status = $6 AND payload IS NOT NULL
               AND NOT EXISTS (
                   SELECT 1 FROM jobs.runs r
                   WHERE r.task = last.task
                     AND (   (r.deduplication_id = last.key AND r.status = 'succeeded')
                          OR r.deduplication_id = 'replay:' || last.id::text))
             ORDER BY started_at, id"
        )),
        &every_status,
    )
    .bind(filter.status.as_deref())
    .fetch_all(pool)
    .await
    .context("reading jobs.runs")
}

/// What `jobs replay` found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    pub found: usize,
    pub sent: usize,
    /// Runs whose payload no longer validates or whose send failed, with the reason.
    pub failed: Vec<(Uuid, String)>,
    pub dry_run: bool,
}

/// Sends each run's payload again to `queue_url` with a fresh deduplication id
/// (`replay:<run id>`), unless `dry_run`.
///
/// # Errors
/// Never for one run (its failure is listed); the report says what happened.
pub async fn replay(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    task: JobKind,
    runs: &[Replayable],
    dry_run: bool,
) -> ReplayReport {
    let mut report = ReplayReport {
        found: runs.len(),
        dry_run,
        ..ReplayReport::default()
    };
    if dry_run {
        return report;
    }
    for run in runs {
        let sent = match prepare(
            task,
            &run.payload.to_string(),
            Some(&run.deduplication_id()),
        ) {
            Ok(message) => send(sqs, queue_url, message).await,
            Err(err) => Err(err),
        };
        match sent {
            Ok(_) => report.sent += 1,
            Err(err) => report.failed.push((run.run_id, format!("{err:#}"))),
        }
    }
    report
}

/// Parses `--since`/`--until`: an RFC 3339 time, or an age such as `30m`, `6h`, `7d`.
///
/// # Errors
/// Neither form.
pub fn parse_time(value: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Ok(at.with_timezone(&Utc));
    }
    let (number, unit) = value.split_at(value.len().saturating_sub(1));
    let Ok(n) = number.parse::<i64>() else {
        bail!("`{value}` is neither an RFC 3339 time nor an age like 30m, 6h or 7d");
    };
    let age = match unit {
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => bail!("`{value}`: the unit of an age is m, h or d"),
    };
    Ok(now - age)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_payloads_name_the_field() {
        let err = prepare(
            JobKind::UnifiedSchedule,
            r#"{"ws_id":"0de00000-0000-4000-8000-000000000001","windowDays":200}"#,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("windowDays"), "{err}");
        let err = prepare(JobKind::CalendarSync, r#"{"calendarId":"primary"}"#, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`ws_id` is missing"), "{err}");
        let ok = prepare(
            JobKind::ScheduleTask,
            r#"{"ws_id":"0de00000-0000-4000-8000-000000000001"}"#,
            Some("mine"),
        )
        .unwrap();
        assert_eq!(ok.deduplication_id, "mine");
        assert_eq!(ok.group_id, "0de00000-0000-4000-8000-000000000001");
    }

    #[test]
    fn ages_and_times_parse() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_time("2h", now).unwrap(),
            now - chrono::Duration::hours(2)
        );
        assert_eq!(
            parse_time("2026-11-30T00:00:00Z", now)
                .unwrap()
                .to_rfc3339(),
            "2026-11-30T00:00:00+00:00"
        );
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("5w", now).is_err());
    }
}

/// A calendar connection the syncs skip until the user changes it (design §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Attention {
    pub ws_id: Uuid,
    pub connection_id: Uuid,
    pub calendar_id: String,
    pub reason: String,
    pub marked_at: DateTime<Utc>,
}

/// The connections marked as needing attention, newest first, optionally of one workspace.
///
/// # Errors
/// The database is unreachable.
pub async fn attention(pool: &Db, ws_id: Option<Uuid>) -> anyhow::Result<Vec<Attention>> {
    sqlx::query_as(
        "SELECT a.ws_id, a.connection_id, a.calendar_id, a.reason, a.marked_at
         FROM jobs.connection_attention a
         JOIN public.calendar_connections c ON c.id = a.connection_id
         WHERE $1::uuid IS NULL OR a.ws_id = $1
         ORDER BY a.marked_at DESC, a.connection_id",
    )
    .bind(ws_id)
    .fetch_all(pool)
    .await
    .context("reading jobs.connection_attention")
}
