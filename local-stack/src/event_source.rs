//! A local stand-in for Lambda's SQS event source mapping, against any SQS-compatible server.
//!
//! It does what the mapping does for one function: receive up to 10 messages with their system
//! attributes, hand them to the handler as an `SqsEvent`, then delete every message the
//! response does not list in `batchItemFailures`. Failed messages stay in the queue and come
//! back after their visibility timeout; the queue's redrive policy moves them to the DLQ.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};
use serde_json::{Map, Value, json};

/// Lambda's `BatchSize` for every function of the template.
pub const BATCH_SIZE: i32 = 10;

/// One queue's poller.
#[derive(Debug, Clone)]
pub struct EventSource {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    region: String,
}

/// What a drain did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainStats {
    pub invocations: usize,
    pub received: usize,
    pub deleted: usize,
    pub reported_failed: usize,
}

impl EventSource {
    /// A poller of `queue_url`.
    ///
    /// # Errors
    /// The queue does not exist or the server is unreachable.
    pub async fn new(sqs: aws_sdk_sqs::Client, queue_url: &str) -> anyhow::Result<Self> {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .with_context(|| format!("reading the attributes of {queue_url}"))?;
        let queue_arn = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .unwrap_or_default();
        let region = queue_arn
            .split(':')
            .nth(3)
            .unwrap_or("us-east-1")
            .to_owned();
        Ok(EventSource {
            sqs,
            queue_url: queue_url.to_owned(),
            queue_arn,
            region,
        })
    }

    /// Receives one batch, shaped as Lambda delivers it. `None` when nothing is visible.
    ///
    /// # Errors
    /// The receive call failed.
    pub async fn poll(&self) -> anyhow::Result<Option<SqsEvent>> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(BATCH_SIZE)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .wait_time_seconds(0)
            .send()
            .await
            .context("receiving messages")?;
        let messages = received.messages();
        if messages.is_empty() {
            return Ok(None);
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|message| {
                let attributes: Map<String, Value> = message
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                            .collect()
                    })
                    .unwrap_or_default();
                let message_attributes: Map<String, Value> = message
                    .message_attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| {
                                (
                                    k.clone(),
                                    json!({
                                        "stringValue": v.string_value(),
                                        "dataType": v.data_type(),
                                        "stringListValues": [],
                                        "binaryListValues": [],
                                    }),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "messageId": message.message_id(),
                    "receiptHandle": message.receipt_handle(),
                    "body": message.body(),
                    "md5OfBody": message.md5_of_body(),
                    "attributes": attributes,
                    "messageAttributes": message_attributes,
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": self.region,
                })
            })
            .collect();
        let event = serde_json::from_value(json!({ "Records": records }))
            .context("shaping the received messages as an SqsEvent")?;
        Ok(Some(event))
    }

    /// Whether the queue holds nothing, visible or in flight (messages waiting out a retry
    /// backoff are in flight).
    ///
    /// # Errors
    /// The attributes cannot be read.
    pub async fn is_empty(&self) -> anyhow::Result<bool> {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .context("reading the queue's message counts")?;
        Ok(attributes
            .attributes()
            .is_none_or(|a| a.values().all(|v| v.trim() == "0")))
    }

    /// Deletes every record of `event` that `response` does not report as failed, as the
    /// mapping does with `ReportBatchItemFailures`. Returns how many were deleted.
    ///
    /// # Errors
    /// The delete call failed.
    pub async fn settle(
        &self,
        event: &SqsEvent,
        response: &SqsBatchResponse,
    ) -> anyhow::Result<usize> {
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        let entries: Vec<DeleteMessageBatchRequestEntry> = event
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| !failed.contains(&r.message_id.as_deref().unwrap_or_default()))
            .filter_map(|(i, r)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(r.receipt_handle.clone().unwrap_or_default())
                    .build()
                    .ok()
            })
            .collect();
        if entries.is_empty() {
            return Ok(0);
        }
        let count = entries.len();
        let deleted = self
            .sqs
            .delete_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .context("deleting handled messages")?;
        if let Some(failure) = deleted.failed().first() {
            anyhow::bail!("deleting a handled message failed: {:?}", failure.message());
        }
        Ok(count)
    }

    /// Polls and invokes `handler` until nothing is visible or `budget` has passed. A handler
    /// error fails the whole batch, as a failed invocation does.
    ///
    /// # Errors
    /// An SQS call failed.
    pub async fn drain<F, Fut, E>(&self, budget: Duration, handler: F) -> anyhow::Result<DrainStats>
    where
        F: Fn(SqsEvent) -> Fut,
        Fut: Future<Output = Result<SqsBatchResponse, E>>,
        E: std::fmt::Display,
    {
        let started = Instant::now();
        let mut stats = DrainStats::default();
        while started.elapsed() < budget {
            let Some(event) = self.poll().await? else {
                break;
            };
            stats.invocations += 1;
            stats.received += event.records.len();
            match handler(event.clone()).await {
                Ok(response) => {
                    stats.reported_failed += response.batch_item_failures.len();
                    stats.deleted += self.settle(&event, &response).await?;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "the invocation failed; its whole batch returns");
                    stats.reported_failed += event.records.len();
                }
            }
        }
        Ok(stats)
    }
}

/// Builds the Lambda context of a local invocation with `timeout` left.
pub fn lambda_context(timeout: Duration) -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    context.request_id = uuid::Uuid::new_v4().to_string();
    let deadline = std::time::SystemTime::now() + timeout;
    context.deadline = deadline
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    context
}
