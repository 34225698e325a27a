//! The dead-letter queues: copying permanently failed messages there, and listing and
//! redriving what waits in them (the ops CLI and the local runner read them).

use crate::db::Db;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// SQS message attributes are part of the 256 KiB message budget; errors longer than this are
/// cut (on a character boundary).
const MAX_ERROR_CHARS: usize = 2000;

/// A permanently failed message, as it goes to the DLQ.
#[derive(Debug, Clone)]
pub struct DeadLetter<'a> {
    pub task: &'a str,
    /// The original body, unchanged, so a redrive replays exactly what was sent.
    pub body: &'a str,
    pub original_message_id: &'a str,
    /// The original group; the DLQ is FIFO too and keeps per-workspace order.
    pub message_group_id: Option<&'a str>,
    pub error: &'a str,
    pub failed_at: chrono::DateTime<chrono::Utc>,
}

/// A DLQ send that failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DeadLetterError(String);

fn text(value: &str) -> Result<MessageAttributeValue, DeadLetterError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|err| DeadLetterError(format!("building a dead-letter attribute: {err}")))
}

fn truncate(s: &str, max_chars: usize) -> &str {
    match s.char_indices().nth(max_chars) {
        Some((cut, _)) => &s[..cut],
        None => s,
    }
}

/// Sends `letter` to `queue_url`. The deduplication id is the original message id, so a
/// retried copy never lands twice.
///
/// # Errors
/// The send failed; the caller must not acknowledge the original then.
pub async fn send(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    letter: &DeadLetter<'_>,
) -> Result<(), DeadLetterError> {
    sqs.send_message()
        .queue_url(queue_url)
        .message_body(letter.body)
        .message_group_id(letter.message_group_id.unwrap_or("unknown-group"))
        .message_deduplication_id(letter.original_message_id)
        .message_attributes("task", text(letter.task)?)
        .message_attributes("error", text(truncate(letter.error, MAX_ERROR_CHARS))?)
        .message_attributes("original_message_id", text(letter.original_message_id)?)
        .message_attributes("failed_at", text(&letter.failed_at.to_rfc3339())?)
        .send()
        .await
        .map_err(|err| sqs_failed("sending the message to the dead-letter queue", &err))?;
    Ok(())
}

/// The DLQ of a source queue, from its redrive policy.
///
/// # Errors
/// The queue has no redrive policy or cannot be read.
pub async fn queue_url_of(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Result<String, DeadLetterError> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .map_err(|err| sqs_failed(format!("reading the redrive policy of {queue_url}"), &err))?;
    let policy = attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
        .ok_or_else(|| {
            DeadLetterError(format!(
                "{queue_url} has no redrive policy, so no dead-letter queue"
            ))
        })?;
    let arn: serde_json::Value = serde_json::from_str(policy)
        .map_err(|err| DeadLetterError(format!("reading the redrive policy: {err}")))?;
    let name = arn["deadLetterTargetArn"]
        .as_str()
        .and_then(|arn| arn.rsplit(':').next())
        .ok_or_else(|| {
            DeadLetterError("the redrive policy names no dead-letter queue".to_owned())
        })?;
    let url = sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .map_err(|err| sqs_failed(format!("finding the dead-letter queue {name}"), &err))?;
    url.queue_url()
        .map(str::to_owned)
        .ok_or_else(|| DeadLetterError("SQS returned no queue URL".to_owned()))
}

/// One message waiting in a dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedLetter {
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
pub async fn list(
    sqs: &aws_sdk_sqs::Client,
    pool: Option<&Db>,
    dlq_url: &str,
) -> Result<Vec<ListedLetter>, DeadLetterError> {
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
                .map_err(|err| {
                    DeadLetterError(format!("reading the last error from jobs.runs: {err}"))
                })?;
            }
            rows.push(ListedLetter {
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
            .map_err(|err| sqs_failed("making a listed dead letter visible again", &err))?;
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
pub async fn redrive(
    sqs: &aws_sdk_sqs::Client,
    dlq_url: &str,
    queue_url: &str,
) -> Result<Redrive, DeadLetterError> {
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
                .map_err(|err| {
                    sqs_failed(
                        format!("sending dead letter {id} back to {queue_url}"),
                        &err,
                    )
                })?;
            sqs.delete_message()
                .queue_url(dlq_url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .map_err(|err| sqs_failed(format!("deleting redriven dead letter {id}"), &err))?;
            report.moved += 1;
        }
    }
    Ok(report)
}

async fn receive(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    visibility: i32,
) -> Result<Vec<aws_sdk_sqs::types::Message>, DeadLetterError> {
    let received = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(visibility)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|err| sqs_failed(format!("receiving from {url}"), &err))?;
    Ok(received.messages.unwrap_or_default())
}

/// A failed SQS call, with what was being done.
fn sqs_failed<E, R>(
    doing: impl std::fmt::Display,
    err: &aws_sdk_sqs::error::SdkError<E, R>,
) -> DeadLetterError
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    DeadLetterError(format!("{doing}: {}", crate::aws::describe(err)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_cuts_on_a_character_boundary() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
