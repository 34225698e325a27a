//! [`Producer`]: a client for services that enqueue work now, in bulk, or later through a
//! one-time EventBridge Scheduler schedule (feature `scheduler`; the functions do not need it).

use std::collections::BTreeMap;

use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode,
    RetryPolicy, SqsParameters, Target,
};
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{OutgoingMessage, ProducerError, QueueUrls, SendReport, send_batches};
use crate::aws::describe;
use crate::config::{ConfigErrors, Env};
use crate::job_kind::JobKind;
use crate::payload::JobPayload;

/// What a [`Producer`] needs besides its clients.
#[derive(Debug, Clone, Default)]
pub struct ProducerConfig {
    /// `<TASK>_QUEUE_URL`, for the tasks this service enqueues.
    pub queues: QueueUrls,
    /// `SCHEDULER_ROLE_ARN`: the role EventBridge Scheduler assumes to send delayed messages.
    pub scheduler_role_arn: Option<String>,
    /// `SCHEDULE_GROUP` (default `default`): where one-time schedules are created.
    pub schedule_group: String,
    /// `SCHEDULER_DEAD_LETTER_ARN`: an SQS queue for delayed messages Scheduler could not send.
    pub scheduler_dead_letter_arn: Option<String>,
    /// `ENQUEUE_SENDS_IN_FLIGHT` (default 8): concurrent `SendMessageBatch` calls.
    pub sends_in_flight: usize,
}

impl ProducerConfig {
    /// Reads the producer settings.
    pub fn read<F: Fn(&str) -> Option<String>>(env: &mut Env<F>) -> Self {
        ProducerConfig {
            queues: QueueUrls::read(env, false),
            scheduler_role_arn: env.optional("SCHEDULER_ROLE_ARN"),
            schedule_group: env
                .optional("SCHEDULE_GROUP")
                .unwrap_or_else(|| "default".to_owned()),
            scheduler_dead_letter_arn: env.optional("SCHEDULER_DEAD_LETTER_ARN"),
            sends_in_flight: env.parse_or("ENQUEUE_SENDS_IN_FLIGHT", 8),
        }
    }

    /// Reads the producer settings from the process environment.
    ///
    /// # Errors
    /// Every invalid variable, by name.
    pub fn from_env() -> Result<Self, ConfigErrors> {
        let mut env = Env::process();
        let config = ProducerConfig::read(&mut env);
        env.finish(config)
    }
}

/// Enqueues task payloads: now, in bulk, or at a later time.
#[derive(Debug, Clone)]
pub struct Producer {
    sqs: aws_sdk_sqs::Client,
    scheduler: aws_sdk_scheduler::Client,
    config: ProducerConfig,
}

impl Producer {
    /// A producer over existing clients.
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        scheduler: aws_sdk_scheduler::Client,
        config: ProducerConfig,
    ) -> Self {
        Producer {
            sqs,
            scheduler,
            config,
        }
    }

    /// A producer configured from the environment, with clients from the standard AWS chain
    /// (`AWS_ENDPOINT_URL` points them at a local server).
    ///
    /// # Errors
    /// Every invalid variable, by name.
    pub async fn from_env() -> Result<Self, ConfigErrors> {
        let config = ProducerConfig::from_env()?;
        let sdk = crate::aws::sdk_config().await;
        Ok(Producer::new(
            aws_sdk_sqs::Client::new(&sdk),
            aws_sdk_scheduler::Client::new(&sdk),
            config,
        ))
    }

    /// Enqueues one payload now; returns the SQS message id.
    ///
    /// # Errors
    /// An invalid payload, an unconfigured queue, or the send failing.
    pub async fn enqueue<P: JobPayload>(&self, payload: &P) -> Result<String, ProducerError> {
        self.send(OutgoingMessage::new(payload)?).await
    }

    /// Sends one prepared message; returns the SQS message id.
    ///
    /// # Errors
    /// An unconfigured queue or the send failing.
    pub async fn send(&self, message: OutgoingMessage) -> Result<String, ProducerError> {
        let output = self
            .sqs
            .send_message()
            .queue_url(self.config.queues.get(message.task)?)
            .message_body(message.body)
            .message_group_id(message.group_id)
            .message_deduplication_id(message.deduplication_id)
            .send()
            .await
            .map_err(|err| ProducerError::Aws {
                operation: "SendMessage",
                message: describe(&err),
            })?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }

    /// Sends many messages, to whichever task queues they belong, in batches of ten.
    /// Entries that still fail are listed in the report; the others are delivered.
    ///
    /// # Errors
    /// A message's task has no queue configured (checked before anything is sent).
    pub async fn enqueue_many(
        &self,
        messages: Vec<OutgoingMessage>,
    ) -> Result<SendReport, ProducerError> {
        let mut by_task: BTreeMap<JobKind, Vec<OutgoingMessage>> = BTreeMap::new();
        for message in messages {
            self.config.queues.get(message.task)?;
            by_task.entry(message.task).or_default().push(message);
        }
        let mut report = SendReport::default();
        for (task, messages) in by_task {
            let url = self.config.queues.get(task)?;
            report
                .absorb(send_batches(&self.sqs, url, messages, self.config.sends_in_flight).await);
        }
        Ok(report)
    }

    /// Enqueues `payload` at `when`. FIFO queues cannot delay single messages, so this
    /// creates an EventBridge Scheduler one-time schedule (`at(...)`, deleted after it fires)
    /// whose SQS target carries the payload and its message group. Returns the schedule's name.
    ///
    /// Scheduler sends without a deduplication id, so the task queues have content-based
    /// deduplication on; the workers then key idempotency on the message id.
    ///
    /// # Errors
    /// An invalid payload, a time not in the future, no `SCHEDULER_ROLE_ARN`, an unconfigured
    /// queue, or an AWS call failing.
    pub async fn enqueue_at<P: JobPayload>(
        &self,
        payload: &P,
        when: DateTime<Utc>,
    ) -> Result<String, ProducerError> {
        let message = OutgoingMessage::new(payload)?;
        if when <= Utc::now() {
            return Err(ProducerError::NotInFuture(when));
        }
        let role_arn = self
            .config
            .scheduler_role_arn
            .as_deref()
            .ok_or(ProducerError::NoSchedulerRole)?;
        let queue_arn = self.queue_arn(message.task).await?;
        let name = format!("{}-{}", message.task, Uuid::new_v4().simple());

        let aws_error =
            |operation| move |message: String| ProducerError::Aws { operation, message };
        let sqs_parameters = SqsParameters::builder()
            .message_group_id(&message.group_id)
            .build();
        // Delayed work must survive a Scheduler or SQS hiccup: AWS's maximum retry window.
        let retry_policy = RetryPolicy::builder()
            .maximum_event_age_in_seconds(86_400)
            .maximum_retry_attempts(185)
            .build();
        let mut target = Target::builder()
            .arn(queue_arn)
            .role_arn(role_arn)
            .input(&message.body)
            .sqs_parameters(sqs_parameters)
            .retry_policy(retry_policy);
        if let Some(arn) = &self.config.scheduler_dead_letter_arn {
            target = target.dead_letter_config(DeadLetterConfig::builder().arn(arn).build());
        }
        let target = target
            .build()
            .map_err(|err| aws_error("CreateSchedule")(err.to_string()))?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|err| aws_error("CreateSchedule")(err.to_string()))?;

        self.scheduler
            .create_schedule()
            .name(&name)
            .group_name(&self.config.schedule_group)
            .schedule_expression(format!("at({})", when.format("%Y-%m-%dT%H:%M:%S")))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .action_after_completion(ActionAfterCompletion::Delete)
            .description(format!(
                "{} for workspace {}",
                message.task, message.group_id
            ))
            .target(target)
            .send()
            .await
            .map_err(|err| aws_error("CreateSchedule")(describe(&err)))?;
        Ok(name)
    }

    async fn queue_arn(&self, task: JobKind) -> Result<String, ProducerError> {
        let output = self
            .sqs
            .get_queue_attributes()
            .queue_url(self.config.queues.get(task)?)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|err| ProducerError::Aws {
                operation: "GetQueueAttributes",
                message: describe(&err),
            })?;
        output
            .attributes()
            .and_then(|attributes| attributes.get(&QueueAttributeName::QueueArn))
            .cloned()
            .ok_or(ProducerError::Aws {
                operation: "GetQueueAttributes",
                message: format!("no QueueArn returned for the {task} queue"),
            })
    }
}
