//! What the operator commands do, apart from parsing arguments: enqueueing a validated payload,
//! reading the run ledger, and listing and redriving dead letters. Works against AWS and, through
//! `AWS_ENDPOINT_URL`, against the local stack.

use anyhow::{Context as _, bail};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::payload::{
    CalendarFullSyncPayload, CalendarSyncPayload, ScheduleTaskPayload, TaskPayload,
    UnifiedSchedulePayload,
};
use shared::producer::OutgoingMessage;
use shared::task::TaskName;
use sqlx::PgPool;
use uuid::Uuid;

/// Validates `json` as `task`'s payload and prepares its message.
///
/// # Errors
/// The payload is invalid (the message names the field) or the deduplication id is.
pub fn prepare(
    task: TaskName,
    json: &str,
    deduplication_id: Option<&str>,
) -> anyhow::Result<OutgoingMessage> {
    fn build<P: TaskPayload>(json: &str) -> anyhow::Result<OutgoingMessage> {
        let payload =
            P::parse(json).map_err(|err| anyhow::anyhow!("invalid {} payload: {err}", P::TASK))?;
        Ok(OutgoingMessage::new(&payload)?)
    }
    let message = match task {
        TaskName::CalendarSync => build::<CalendarSyncPayload>(json)?,
        TaskName::CalendarFullSync => build::<CalendarFullSyncPayload>(json)?,
        TaskName::ScheduleTask => build::<ScheduleTaskPayload>(json)?,
        TaskName::UnifiedSchedule => build::<UnifiedSchedulePayload>(json)?,
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

/// The runs matching `filter`, newest first.
///
/// # Errors
/// The database is unreachable.
pub async fn runs(pool: &PgPool, filter: &RunFilter) -> anyhow::Result<Vec<Run>> {
    sqlx::query_as(
        "SELECT started_at, finished_at, task, ws_id, status, attempt, message_id, error_kind, error
         FROM jobs.runs
         WHERE ($1::text IS NULL OR task = $1)
           AND ($2::uuid IS NULL OR ws_id = $2)
           AND ($3::text IS NULL OR status = $3)
           AND ($4::timestamptz IS NULL OR started_at >= $4)
           AND ($5::timestamptz IS NULL OR started_at < $5)
         ORDER BY started_at DESC, id DESC
         LIMIT $6",
    )
    .bind(filter.task.as_deref())
    .bind(filter.ws_id)
    .bind(filter.status.as_deref())
    .bind(filter.since)
    .bind(filter.until)
    .bind(filter.limit.max(1))
    .fetch_all(pool)
    .await
    .context("reading jobs.runs")
}

/// The DLQ of a source queue, from its redrive policy.
///
/// # Errors
/// The queue has no redrive policy or cannot be read.
pub async fn dead_letter_queue_url(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> anyhow::Result<String> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .map_err(|err| anyhow::anyhow!(shared::aws::describe(&err)))
        .with_context(|| format!("reading the redrive policy of {queue_url}"))?;
    let policy = attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
        .with_context(|| format!("{queue_url} has no redrive policy, so no dead-letter queue"))?;
    let arn: serde_json::Value =
        serde_json::from_str(policy).context("reading the redrive policy")?;
    let name = arn["deadLetterTargetArn"]
        .as_str()
        .and_then(|arn| arn.rsplit(':').next())
        .context("the redrive policy names no dead-letter queue")?;
    let url = sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .map_err(|err| anyhow::anyhow!(shared::aws::describe(&err)))
        .with_context(|| format!("finding the dead-letter queue {name}"))?;
    url.queue_url()
        .map(str::to_owned)
        .context("SQS returned no queue URL")
}

/// One message waiting in a dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetterRow {
    pub message_id: String,
    pub group_id: Option<String>,
    pub receive_count: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The worker's error attribute (permanent failures), else the last error in `jobs.runs`
    /// (retryable failures SQS moved after five receives).
    pub last_error: Option<String>,
    pub body: String,
}

/// Lists the messages of `dlq_url` without consuming them (each is made visible again).
/// A FIFO queue shows at most what one pass can receive: later messages of a group that has
/// ten or more stay hidden behind it.
///
/// # Errors
/// An SQS or database call failed.
pub async fn dlq_list(
    sqs: &aws_sdk_sqs::Client,
    pool: Option<&PgPool>,
    dlq_url: &str,
) -> anyhow::Result<Vec<DeadLetterRow>> {
    let mut rows = Vec::new();
    let mut handles = Vec::new();
    loop {
        let batch = receive(sqs, dlq_url, 30).await?;
        if batch.is_empty() {
            break;
        }
        for message in batch {
            let system = |name: MessageSystemAttributeName| {
                message.attributes().and_then(|a| a.get(&name)).cloned()
            };
            let attribute = |name: &str| {
                message
                    .message_attributes()
                    .and_then(|a| a.get(name))
                    .and_then(|v| v.string_value())
                    .map(str::to_owned)
            };
            let message_id = message.message_id().unwrap_or_default().to_owned();
            let original = attribute("original_message_id").unwrap_or_else(|| message_id.clone());
            let mut last_error = attribute("error");
            if last_error.is_none()
                && let Some(pool) = pool
            {
                last_error = sqlx::query_scalar(
                    "SELECT error FROM jobs.runs WHERE message_id = $1 AND error IS NOT NULL
                     ORDER BY started_at DESC LIMIT 1",
                )
                .bind(&original)
                .fetch_optional(pool)
                .await
                .context("reading the last error from jobs.runs")?;
            }
            rows.push(DeadLetterRow {
                message_id,
                group_id: system(MessageSystemAttributeName::MessageGroupId),
                receive_count: system(MessageSystemAttributeName::ApproximateReceiveCount),
                sent_at: system(MessageSystemAttributeName::SentTimestamp)
                    .and_then(|ms| ms.parse::<i64>().ok())
                    .and_then(DateTime::from_timestamp_millis),
                last_error,
                body: message.body().unwrap_or_default().to_owned(),
            });
            handles.extend(message.receipt_handle().map(str::to_owned));
        }
    }
    for handle in handles {
        sqs.change_message_visibility()
            .queue_url(dlq_url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(|err| anyhow::anyhow!(shared::aws::describe(&err)))
            .context("making a listed dead letter visible again")?;
    }
    Ok(rows)
}

/// What a redrive did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Redrive {
    pub moved: usize,
}

/// Moves every message of `dlq_url` back to `queue_url`: body and group unchanged, then the
/// dead letter is deleted. Interrupted between the two, a message is in both queues; the next
/// redrive sends it again with the same deduplication id (`redrive-<dead letter id>`), which SQS
/// drops within five minutes and the worker's idempotency check skips after.
///
/// # Errors
/// An SQS call failed; what was moved before stays moved.
pub async fn dlq_redrive(
    sqs: &aws_sdk_sqs::Client,
    dlq_url: &str,
    queue_url: &str,
) -> anyhow::Result<Redrive> {
    let mut report = Redrive::default();
    loop {
        let batch = receive(sqs, dlq_url, 60).await?;
        if batch.is_empty() {
            break;
        }
        for message in batch {
            let id = message.message_id().unwrap_or_default();
            let group = message
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                .cloned()
                .unwrap_or_else(|| "redriven".to_owned());
            let dedup: String = format!("redrive-{id}").chars().take(128).collect();
            sqs.send_message()
                .queue_url(queue_url)
                .message_body(message.body().unwrap_or_default())
                .message_group_id(group)
                .message_deduplication_id(dedup)
                .send()
                .await
                .map_err(|err| anyhow::anyhow!(shared::aws::describe(&err)))
                .with_context(|| format!("sending dead letter {id} back to {queue_url}"))?;
            sqs.delete_message()
                .queue_url(dlq_url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .map_err(|err| anyhow::anyhow!(shared::aws::describe(&err)))
                .with_context(|| format!("deleting redriven dead letter {id}"))?;
            report.moved += 1;
        }
    }
    Ok(report)
}

async fn receive(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    visibility: i32,
) -> anyhow::Result<Vec<aws_sdk_sqs::types::Message>> {
    let received = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(visibility)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|err| anyhow::anyhow!(shared::aws::describe(&err)))
        .with_context(|| format!("receiving from {url}"))?;
    Ok(received.messages.unwrap_or_default())
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

/// Renders rows as a plain text table with a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| -> String {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = line(header.iter().map(|h| (*h).to_owned()).collect());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.clone()));
        out.push('\n');
    }
    out
}

/// Shortens a cell for a table (the JSON output keeps everything).
pub fn cell(value: &str, max: usize) -> String {
    let flat = value.replace('\n', " ");
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_payloads_name_the_field() {
        let err = prepare(
            TaskName::UnifiedSchedule,
            r#"{"ws_id":"0de00000-0000-4000-8000-000000000001","windowDays":200}"#,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("windowDays"), "{err}");
        let err = prepare(TaskName::CalendarSync, r#"{"calendarId":"primary"}"#, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`ws_id` is missing"), "{err}");
        let ok = prepare(
            TaskName::ScheduleTask,
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

    #[test]
    fn tables_align_columns() {
        let text = table(&["a", "status"], &[vec!["long value".into(), "ok".into()]]);
        assert_eq!(text, "a           status\nlong value  ok\n");
        assert_eq!(cell("abcdef", 4), "abc…");
    }
}
