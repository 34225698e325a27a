//! Copying permanently failed messages to the task's dead-letter queue.

use aws_sdk_sqs::types::MessageAttributeValue;

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
#[error("sending the message to the dead-letter queue failed: {0}")]
pub struct DeadLetterError(String);

fn text(value: &str) -> Result<MessageAttributeValue, DeadLetterError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|err| DeadLetterError(err.to_string()))
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
        .map_err(|err| DeadLetterError(crate::aws::describe(&err)))?;
    Ok(())
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
