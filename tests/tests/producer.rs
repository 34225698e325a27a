//! The producer client against the local SQS and EventBridge Scheduler server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_scheduler::types::{ActionAfterCompletion, FlexibleTimeWindowMode};
use aws_sdk_sqs::types::{MessageSystemAttributeName as Attr, QueueAttributeName};
use chrono::{TimeZone, Utc};
use integration_tests::{drain_queue, fifo_queues, sqs, system_attribute};
use serde_json::json;
use shared::job_kind::JobKind;
use shared::payload::{CalendarSyncPayload, ScheduleTaskPayload, UnifiedSchedulePayload};
use shared::producer::{OutgoingMessage, Producer, ProducerConfig, ProducerError, QueueUrls};
use uuid::Uuid;

const ROLE: &str = "arn:aws:iam::123456789012:role/tuturuuu-jobs-scheduler-enqueue";

async fn producer(role: Option<&str>) -> (Producer, QueueUrls, aws_sdk_sqs::Client) {
    let sqs = sqs().await;
    let mut queues = QueueUrls::default();
    for task in JobKind::ALL {
        queues.insert(task, fifo_queues(&sqs, 30).await.queue_url);
    }
    let sdk = shared::aws::sdk_config().await;
    let config = ProducerConfig {
        queues: queues.clone(),
        scheduler_role_arn: role.map(str::to_owned),
        schedule_group: "default".to_owned(),
        scheduler_dead_letter_arn: None,
        sends_in_flight: 4,
    };
    let producer = Producer::new(sqs.clone(), aws_sdk_scheduler::Client::new(&sdk), config);
    (producer, queues, sqs)
}

#[tokio::test]
async fn enqueue_sends_the_payload_to_its_task_queue() {
    let (producer, queues, sqs) = producer(None).await;
    let ws = Uuid::new_v4();
    let id = producer
        .enqueue(&CalendarSyncPayload {
            ws_id: ws,
            calendar_id: Some("team@example.com".to_owned()),
        })
        .await
        .unwrap();

    let messages = drain_queue(&sqs, queues.get(JobKind::CalendarSync).unwrap()).await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.message_id(), Some(id.as_str()));
    assert_eq!(
        system_attribute(message, Attr::MessageGroupId),
        Some(ws.to_string())
    );
    assert!(
        system_attribute(message, Attr::MessageDeduplicationId)
            .unwrap()
            .starts_with(&format!("calendar-sync:{ws}:"))
    );
    let body: serde_json::Value = serde_json::from_str(message.body().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({ "ws_id": ws, "calendarId": "team@example.com" })
    );
    for other in [
        JobKind::CalendarFullSync,
        JobKind::ScheduleTask,
        JobKind::UnifiedSchedule,
    ] {
        assert!(
            drain_queue(&sqs, queues.get(other).unwrap())
                .await
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_callers_idempotency_key_makes_resends_harmless() {
    let (producer, queues, sqs) = producer(None).await;
    let payload = ScheduleTaskPayload {
        ws_id: Uuid::new_v4(),
    };
    for _ in 0..3 {
        let message = OutgoingMessage::new(&payload)
            .unwrap()
            .with_deduplication_id("web:request-7")
            .unwrap();
        producer.send(message).await.unwrap();
    }
    let messages = drain_queue(&sqs, queues.get(JobKind::ScheduleTask).unwrap()).await;
    assert_eq!(messages.len(), 1);
}

#[tokio::test]
async fn enqueue_many_batches_by_task() {
    let (producer, queues, sqs) = producer(None).await;
    let mut messages = Vec::new();
    for _ in 0..13 {
        let payload = ScheduleTaskPayload {
            ws_id: Uuid::new_v4(),
        };
        messages.push(OutgoingMessage::new(&payload).unwrap());
    }
    for _ in 0..10 {
        let payload = UnifiedSchedulePayload {
            ws_id: Uuid::new_v4(),
            window_days: Some(14),
            force_reschedule: None,
            user_id: None,
        };
        messages.push(OutgoingMessage::new(&payload).unwrap());
    }

    let report = producer.enqueue_many(messages.clone()).await.unwrap();

    assert_eq!(report.sent, 23);
    assert_eq!(report.calls, 2 + 1);
    assert!(report.failed.is_empty());
    for task in [JobKind::ScheduleTask, JobKind::UnifiedSchedule] {
        let received = drain_queue(&sqs, queues.get(task).unwrap()).await;
        let mut groups: Vec<String> = received
            .iter()
            .map(|m| system_attribute(m, Attr::MessageGroupId).unwrap())
            .collect();
        let mut expected: Vec<String> = messages
            .iter()
            .filter(|m| m.task == task)
            .map(|m| m.group_id.clone())
            .collect();
        groups.sort();
        expected.sort();
        assert_eq!(groups, expected, "{task}");
    }
}

#[tokio::test]
async fn an_unconfigured_queue_is_named() {
    let only_sync = Producer::new(
        sqs().await,
        aws_sdk_scheduler::Client::new(&shared::aws::sdk_config().await),
        ProducerConfig::default(),
    );
    let payload = ScheduleTaskPayload {
        ws_id: Uuid::new_v4(),
    };
    let err = only_sync.enqueue(&payload).await.unwrap_err();
    assert!(err.to_string().contains("SCHEDULE_TASK_QUEUE_URL"), "{err}");
}

#[tokio::test]
async fn enqueue_at_creates_a_one_time_schedule_targeting_the_queue() {
    let (producer, queues, sqs) = producer(Some(ROLE)).await;
    let ws = Uuid::new_v4();
    let payload = UnifiedSchedulePayload {
        ws_id: ws,
        window_days: Some(60),
        force_reschedule: None,
        user_id: None,
    };
    let when = Utc.with_ymd_and_hms(2099, 3, 4, 5, 6, 7).unwrap();

    let name = producer.enqueue_at(&payload, when).await.unwrap();

    let sdk = shared::aws::sdk_config().await;
    let schedule = aws_sdk_scheduler::Client::new(&sdk)
        .get_schedule()
        .name(&name)
        .group_name("default")
        .send()
        .await
        .unwrap();
    assert_eq!(
        schedule.schedule_expression(),
        Some("at(2099-03-04T05:06:07)")
    );
    assert_eq!(schedule.schedule_expression_timezone(), Some("UTC"));
    assert_eq!(
        schedule.action_after_completion(),
        Some(&ActionAfterCompletion::Delete)
    );
    assert_eq!(
        schedule.flexible_time_window().map(|w| w.mode()),
        Some(&FlexibleTimeWindowMode::Off)
    );
    let target = schedule.target().unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(queues.get(JobKind::UnifiedSchedule).unwrap())
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    assert_eq!(target.arn(), queue_arn);
    assert_eq!(target.role_arn(), ROLE);
    let input: serde_json::Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(input, json!({ "ws_id": ws, "windowDays": 60 }));
    assert_eq!(
        target.sqs_parameters().and_then(|p| p.message_group_id()),
        Some(ws.to_string().as_str())
    );
    assert!(target.retry_policy().is_some());
}

#[tokio::test]
async fn enqueue_at_refuses_the_past_and_a_missing_role() {
    let payload = CalendarSyncPayload {
        ws_id: Uuid::new_v4(),
        calendar_id: None,
    };
    let (with_role, _, _) = producer(Some(ROLE)).await;
    // Fixed instants on either side of any clock the suite runs under.
    let past = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
    assert!(matches!(
        with_role.enqueue_at(&payload, past).await.unwrap_err(),
        ProducerError::NotInFuture(_)
    ));
    let (without_role, _, _) = producer(None).await;
    let err = without_role
        .enqueue_at(&payload, Utc.with_ymd_and_hms(2099, 1, 1, 0, 0, 0).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err, ProducerError::NoSchedulerRole);
    assert!(err.to_string().contains("SCHEDULER_ROLE_ARN"));
}
