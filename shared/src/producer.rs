//! Enqueueing work (design §3): the producer side, for Rust services and the orchestrator.
//!
//! Every message goes to its task's FIFO queue with `MessageGroupId = ws_id` and an explicit
//! `MessageDeduplicationId`. Batches of ten go out with `SendMessageBatch`, and entries the
//! queue reports as failed are sent again (with the same deduplication id, so a retry of an
//! entry SQS did accept is dropped by SQS rather than delivered twice). [`Producer`], which also
//! sends later through EventBridge Scheduler, needs the feature `scheduler`.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use uuid::Uuid;

use crate::aws::describe;
use crate::config::Env;
use crate::error::ErrorKind;
use crate::job_kind::JobKind;
use crate::jobs::backoff;
use crate::payload::{JobPayload, PayloadError};

#[cfg(feature = "scheduler")]
mod client;
#[cfg(feature = "scheduler")]
pub use client::{Producer, ProducerConfig};

/// `SendMessageBatch` takes at most ten entries.
pub const MAX_BATCH: usize = 10;
/// Calls per batch before its remaining entries count as failed (the SDK retries each call
/// on its own as well; these attempts are for entries SQS reports as failed).
const MAX_SEND_ATTEMPTS: u32 = 4;
/// First pause before re-sending failed entries; doubles per attempt, jittered.
const RESEND_BASE: Duration = Duration::from_millis(100);
const RESEND_CAP: Duration = Duration::from_secs(2);

/// Why a message could not be enqueued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProducerError {
    #[error("invalid {task} payload: {source}")]
    Payload { task: JobKind, source: PayloadError },
    #[error("no queue URL for {task}: set {var}")]
    NoQueue { task: JobKind, var: &'static str },
    #[error("invalid deduplication id {id:?}: {reason}")]
    DeduplicationId { id: String, reason: &'static str },
    #[error(
        "enqueue_at needs SCHEDULER_ROLE_ARN: the role EventBridge Scheduler assumes to send to the queue"
    )]
    NoSchedulerRole,
    #[error("enqueue_at needs a time in the future, got {0}")]
    NotInFuture(DateTime<Utc>),
    #[error("{operation} failed: {message}")]
    Aws {
        operation: &'static str,
        message: String,
    },
}

impl ProducerError {
    /// Only AWS call failures are worth retrying; everything else is the caller's mistake.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ProducerError::Aws { .. } => ErrorKind::Retryable,
            _ => ErrorKind::Permanent,
        }
    }
}

/// One message ready for its task's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub task: JobKind,
    /// `MessageGroupId`: the payload's `ws_id`.
    pub group_id: String,
    /// `MessageDeduplicationId`; the worker's run ledger also keys idempotency on it.
    pub deduplication_id: String,
    /// The payload as JSON.
    pub body: String,
}

impl OutgoingMessage {
    /// Validates and serialises `payload`. The deduplication id is fresh
    /// (`<task>:<ws_id>:<uuid>`): the SDK's own retries reuse it, so a resent request is not
    /// delivered twice, but two calls are two pieces of work. Use
    /// [`OutgoingMessage::with_deduplication_id`] to make your own retries idempotent too.
    ///
    /// # Errors
    /// The payload fails its validation.
    pub fn new<P: JobPayload>(payload: &P) -> Result<Self, ProducerError> {
        let invalid = |source| ProducerError::Payload {
            task: P::KIND,
            source,
        };
        payload.validate().map_err(invalid)?;
        let body = serde_json::to_string(payload)
            .map_err(|err| invalid(PayloadError::NotJson(err.to_string())))?;
        let ws_id = payload.ws_id();
        Ok(OutgoingMessage {
            task: P::KIND,
            group_id: ws_id.to_string(),
            deduplication_id: format!("{}:{ws_id}:{}", P::KIND, Uuid::new_v4().simple()),
            body,
        })
    }

    /// Replaces the deduplication id with the caller's idempotency key.
    ///
    /// # Errors
    /// The id is empty, longer than 128 characters, or has characters SQS rejects.
    pub fn with_deduplication_id(mut self, id: impl Into<String>) -> Result<Self, ProducerError> {
        let id = id.into();
        let reason = if id.is_empty() {
            Some("must not be empty")
        } else if id.len() > 128 {
            Some("must be at most 128 characters")
        } else if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation())
        {
            Some("may only hold ASCII letters, digits and punctuation")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(ProducerError::DeduplicationId { id, reason });
        }
        self.deduplication_id = id;
        Ok(self)
    }
}

/// The four task queues' URLs, from `<TASK>_QUEUE_URL`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueUrls(BTreeMap<JobKind, String>);

impl QueueUrls {
    /// Reads every task's queue variable; with `required`, a missing one is an error.
    pub fn read<F: Fn(&str) -> Option<String>>(env: &mut Env<F>, required: bool) -> Self {
        let mut urls = QueueUrls::default();
        for task in JobKind::ALL {
            let var = task.queue_url_var();
            if required || env.optional(var).is_some() {
                urls.insert(task, env.required_url(var));
            }
        }
        urls
    }

    /// Sets one task's queue.
    pub fn insert(&mut self, task: JobKind, url: impl Into<String>) {
        self.0.insert(task, url.into());
    }

    /// The queue of `task`.
    ///
    /// # Errors
    /// No URL was configured for it.
    pub fn get(&self, task: JobKind) -> Result<&str, ProducerError> {
        self.0
            .get(&task)
            .map(String::as_str)
            .ok_or(ProducerError::NoQueue {
                task,
                var: task.queue_url_var(),
            })
    }
}

/// What one or more batch sends did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendReport {
    /// `SendMessageBatch` calls made, retries included.
    pub calls: u64,
    /// Entries SQS accepted.
    pub sent: u64,
    /// Entries sent again after SQS reported them as failed.
    pub resent: u64,
    /// Entries still failed after every attempt.
    pub failed: Vec<FailedEntry>,
}

impl SendReport {
    fn absorb(&mut self, other: SendReport) {
        self.calls += other.calls;
        self.sent += other.sent;
        self.resent += other.resent;
        self.failed.extend(other.failed);
    }
}

/// An entry that could not be enqueued, and the queue's last word on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEntry {
    pub group_id: String,
    pub deduplication_id: String,
    pub error: String,
}

/// Sends `messages` to one queue in batches of ten, at most `in_flight` calls at a time.
/// Entries reported as failed through no fault of the sender are re-sent up to three times
/// with jittered backoff; entries the queue rejects as invalid are not.
pub async fn send_batches(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    messages: Vec<OutgoingMessage>,
    in_flight: usize,
) -> SendReport {
    let mut batches = Vec::with_capacity(messages.len().div_ceil(MAX_BATCH));
    let mut messages = messages.into_iter().peekable();
    while messages.peek().is_some() {
        batches.push(messages.by_ref().take(MAX_BATCH).collect::<Vec<_>>());
    }
    futures_util::stream::iter(batches)
        .map(|batch| send_batch(sqs, queue_url, batch))
        .buffer_unordered(in_flight.max(1))
        .fold(SendReport::default(), |mut total, report| async move {
            total.absorb(report);
            total
        })
        .await
}

async fn send_batch(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    batch: Vec<OutgoingMessage>,
) -> SendReport {
    let mut report = SendReport::default();
    // Entry ids only need to be unique within one call: the position in the batch.
    let mut pending: BTreeMap<String, (OutgoingMessage, String)> = batch
        .into_iter()
        .enumerate()
        .map(|(i, message)| (i.to_string(), (message, String::new())))
        .collect();
    for attempt in 0..MAX_SEND_ATTEMPTS {
        if pending.is_empty() {
            break;
        }
        if attempt > 0 {
            tokio::time::sleep(backoff::pause(RESEND_BASE, attempt + 1, RESEND_CAP)).await;
            report.resent += pending.len() as u64;
        }
        report.calls += 1;
        let entries = pending
            .iter()
            .filter_map(|(id, (message, _))| {
                SendMessageBatchRequestEntry::builder()
                    .id(id)
                    .message_body(&message.body)
                    .message_group_id(&message.group_id)
                    .message_deduplication_id(&message.deduplication_id)
                    .build()
                    .ok()
            })
            .collect();
        let response = sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await;
        match response {
            Ok(output) => {
                for ok in output.successful() {
                    if pending.remove(ok.id()).is_some() {
                        report.sent += 1;
                    }
                }
                for failed in output.failed() {
                    let error = format!(
                        "{}: {}",
                        failed.code(),
                        failed.message().unwrap_or_default()
                    );
                    if failed.sender_fault() {
                        if let Some((message, _)) = pending.remove(failed.id()) {
                            report.failed.push(failed_entry(message, error));
                        }
                    } else if let Some(entry) = pending.get_mut(failed.id()) {
                        entry.1 = error;
                    }
                }
            }
            Err(err) => {
                let error = describe(&err);
                for entry in pending.values_mut() {
                    entry.1.clone_from(&error);
                }
            }
        }
    }
    report.failed.extend(
        pending
            .into_values()
            .map(|(message, error)| failed_entry(message, error)),
    );
    report
}

fn failed_entry(message: OutgoingMessage, error: String) -> FailedEntry {
    FailedEntry {
        group_id: message.group_id,
        deduplication_id: message.deduplication_id,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{CalendarSyncPayload, UnifiedSchedulePayload};

    fn ws() -> Uuid {
        Uuid::parse_str("0de00000-0000-4000-8000-0000000000aa").unwrap()
    }

    #[test]
    fn messages_carry_group_and_task_scoped_deduplication_ids() {
        let message = OutgoingMessage::new(&CalendarSyncPayload {
            ws_id: ws(),
            calendar_id: None,
        })
        .unwrap();
        assert_eq!(message.task, JobKind::CalendarSync);
        assert_eq!(message.group_id, ws().to_string());
        assert!(
            message
                .deduplication_id
                .starts_with(&format!("calendar-sync:{}:", ws()))
        );
        assert_eq!(message.body, format!(r#"{{"ws_id":"{}"}}"#, ws()));
        let other = OutgoingMessage::new(&CalendarSyncPayload {
            ws_id: ws(),
            calendar_id: None,
        })
        .unwrap();
        assert_ne!(message.deduplication_id, other.deduplication_id);
    }

    #[test]
    fn invalid_payloads_and_ids_are_refused_by_name() {
        let err = OutgoingMessage::new(&UnifiedSchedulePayload {
            ws_id: ws(),
            window_days: Some(400),
            force_reschedule: None,
            user_id: None,
        })
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Permanent);
        assert!(err.to_string().contains("windowDays"), "{err}");

        let message = OutgoingMessage::new(&CalendarSyncPayload {
            ws_id: ws(),
            calendar_id: None,
        })
        .unwrap();
        for bad in ["", "é", &"x".repeat(129)] {
            let err = message.clone().with_deduplication_id(bad).unwrap_err();
            assert!(
                matches!(err, ProducerError::DeduplicationId { .. }),
                "{err}"
            );
        }
        let ok = message.with_deduplication_id("web:req-42").unwrap();
        assert_eq!(ok.deduplication_id, "web:req-42");
    }

    #[test]
    fn missing_queues_name_their_variable() {
        let err = QueueUrls::default()
            .get(JobKind::UnifiedSchedule)
            .unwrap_err();
        assert!(
            err.to_string().contains("UNIFIED_SCHEDULE_QUEUE_URL"),
            "{err}"
        );
    }
}
