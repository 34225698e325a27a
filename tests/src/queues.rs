//! Fresh FIFO queues on the local SQS server, and sending, receiving and reading messages.

// Test support: a failed set-up step should stop the test with its message.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use serde_json::json;
use uuid::Uuid;

/// An SQS client for the local server. Refuses to run against real AWS.
pub async fn sqs() -> aws_sdk_sqs::Client {
    assert!(
        std::env::var("AWS_ENDPOINT_URL")
            .is_ok_and(|url| url.contains("127.0.0.1") || url.contains("localhost")),
        "AWS_ENDPOINT_URL must point at the local SQS server: run the tests through scripts/test.sh"
    );
    shared::aws::sqs_client().await
}

/// A source queue and its DLQ, shaped like the template's (FIFO, content-based deduplication
/// for Scheduler's sends, redrive after 5 receives), with a name of its own so tests never share queues.
#[derive(Debug, Clone)]
pub struct Queues {
    pub queue_url: String,
    pub dlq_url: String,
}

/// Creates a fresh queue pair.
pub async fn fifo_queues(sqs: &aws_sdk_sqs::Client, visibility_timeout: u32) -> Queues {
    let name = format!("test-{}", Uuid::new_v4().simple());
    let dlq_url = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq.fifo"))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::ContentBasedDeduplication, "true")
        .send()
        .await
        .expect("creating the DLQ")
        .queue_url
        .expect("DLQ url");
    let dlq_arn = queue_arn(sqs, &dlq_url).await;
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("{name}.fifo"))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::ContentBasedDeduplication, "true")
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_timeout.to_string(),
        )
        .attributes(
            QueueAttributeName::RedrivePolicy,
            json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5" }).to_string(),
        )
        .send()
        .await
        .expect("creating the queue")
        .queue_url
        .expect("queue url");
    Queues { queue_url, dlq_url }
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("reading the queue ARN")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .expect("queue ARN")
}

/// Sends one message and returns its message id.
pub async fn send(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    group: &str,
    dedup: &str,
    body: &str,
) -> String {
    sqs.send_message()
        .queue_url(url)
        .message_group_id(group)
        .message_deduplication_id(dedup)
        .message_body(body)
        .send()
        .await
        .expect("sending a message")
        .message_id
        .expect("message id")
}

/// Receives what is visible (one call, up to 10), with attributes.
pub async fn receive(sqs: &aws_sdk_sqs::Client, url: &str, wait_seconds: i32) -> Vec<Message> {
    sqs.receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .expect("receiving")
        .messages
        .unwrap_or_default()
}

/// The next batch of `url`, as Lambda would deliver it; fails when nothing is visible.
pub async fn next_batch(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> aws_lambda_events::event::sqs::SqsEvent {
    local_stack::event_source::EventSource::new(sqs.clone(), url)
        .await
        .expect("polling the queue")
        .poll()
        .await
        .expect("receiving a batch")
        .expect("a visible message")
}

/// Every message of a DLQ, read without deleting (they become visible again at once).
pub async fn dead_letters(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Message> {
    let mut all = Vec::new();
    loop {
        let batch = receive(sqs, url, 0).await;
        if batch.is_empty() {
            break;
        }
        all.extend(batch);
    }
    for message in &all {
        sqs.change_message_visibility()
            .queue_url(url)
            .receipt_handle(message.receipt_handle().unwrap_or_default())
            .visibility_timeout(0)
            .send()
            .await
            .expect("releasing a dead letter");
    }
    all
}

/// A string message attribute of `message`.
pub fn attribute(message: &Message, name: &str) -> Option<String> {
    message
        .message_attributes()
        .and_then(|a| a.get(name))
        .and_then(|v| v.string_value())
        .map(str::to_owned)
}

/// Receives and deletes every message of `url`, with attributes.
pub async fn drain_queue(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Message> {
    let mut all = Vec::new();
    loop {
        let batch = receive(sqs, url, 0).await;
        if batch.is_empty() {
            return all;
        }
        for message in &batch {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("deleting a message");
        }
        all.extend(batch);
    }
}

/// A system attribute (`MessageGroupId`, `MessageDeduplicationId`, …) of `message`.
pub fn system_attribute(message: &Message, name: MessageSystemAttributeName) -> Option<String> {
    message.attributes().and_then(|a| a.get(&name)).cloned()
}
