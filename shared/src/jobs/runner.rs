//! The SQS batch runner every worker uses (design §4).
//!
//! It takes the raw `SqsEvent` (a typed `SqsEventObj<T>` would fail the whole batch on one bad
//! body) and returns the partial-batch response, which the event source mapping honours only
//! because the template enables `ReportBatchItemFailures`. Per record, in order: idempotency
//! check, run opened in the ledger, payload parsed, workspace lease taken, work done, run
//! closed, one JSON log line. Failures are classified: retryable ones are reported with an
//! exponential visibility backoff, permanent ones are copied to the DLQ and acknowledged.

use std::collections::HashSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant, SystemTime};

use crate::db::Db;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::config::WorkerConfig;
use crate::error::{ErrorKind, JobError};
use crate::job_kind::JobKind;
use crate::jobs::backoff;
use crate::jobs::dead_letter::{self, DeadLetter};
use crate::jobs::lease;
use crate::jobs::ledger::{self, Delivery, RunStatus};
use crate::jobs::metrics::{self, Measure};
use crate::payload::JobPayload;

/// What a job reports about its run (counts, status); it goes into the run's `result` next to
/// `ws_id`, `success` and `now`.
pub type RunResult = Map<String, Value>;

/// A report's fields as a run result (nothing when it does not serialize to an object).
pub fn run_result(report: impl serde::Serialize) -> RunResult {
    match serde_json::to_value(report) {
        Ok(Value::Object(fields)) => fields,
        _ => RunResult::new(),
    }
}

/// One job kind's work on one validated payload.
pub trait Job: Send + Sync {
    /// The message body type; its `KIND` names the job kind.
    type Payload: JobPayload;

    /// The counts of a succeeded run's result published as metrics (design §12).
    const MEASURES: &'static [Measure] = &[];

    /// Does the work for one message.
    fn run(
        &self,
        ctx: &RunContext,
        payload: Self::Payload,
    ) -> impl Future<Output = Result<RunResult, JobError>> + Send;
}

/// What a job knows about the delivery it is working on.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub run_id: Uuid,
    pub ws_id: Uuid,
    pub attempt: i32,
    /// When the Lambda invocation ends; jobs that page through work checkpoint before it.
    pub deadline: Option<SystemTime>,
    /// The instant the job works from (scheduling windows, sync ranges), read once per record
    /// from the runner's [`Clock`], so a run is reproducible from it.
    pub now: DateTime<Utc>,
}

/// Where a runner reads the time: once per record, handed to the job as [`RunContext::now`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    /// The system clock, as every deployed function uses.
    #[default]
    System,
    /// Always this instant: tests choose theirs, so they pass at any hour.
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// The current instant by this clock.
    pub fn now(self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(at) => at,
        }
    }
}

/// A batch that must fail as a whole.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Lambda would treat a record without an id as processed, losing it; failing the
    /// invocation returns the whole batch instead.
    #[error(
        "record {index} of the batch has no messageId; failing the invocation so nothing is lost"
    )]
    MissingMessageId { index: usize },
}

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// Already done by an earlier delivery; acknowledged without doing the work again.
    Skipped,
    /// Reported in `batchItemFailures`, visible again after `delay`.
    Retry {
        error: String,
        delay: Duration,
    },
    /// Copied to the DLQ with its error and acknowledged.
    Dead {
        error: String,
    },
    /// Not started (an earlier record of its group failed, or the deadline is near); reported
    /// in `batchItemFailures` and made visible again at once.
    Deferred {
        reason: &'static str,
    },
}

impl Outcome {
    /// The `outcome` field of the log line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Skipped => "skipped",
            Outcome::Retry { .. } => "retry",
            Outcome::Dead { .. } => "dead",
            Outcome::Deferred { .. } => "deferred",
        }
    }

    /// Whether the record goes back to the queue.
    pub fn is_reported(&self) -> bool {
        matches!(self, Outcome::Retry { .. } | Outcome::Deferred { .. })
    }

    fn error(&self) -> Option<&str> {
        match self {
            Outcome::Retry { error, .. } | Outcome::Dead { error } => Some(error),
            Outcome::Deferred { reason } => Some(reason),
            Outcome::Succeeded | Outcome::Skipped => None,
        }
    }
}

/// The per-worker runner, built once at init.
#[derive(Debug, Clone)]
pub struct Runner {
    pool: Db,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    dead_letter_queue_url: String,
    deadline_margin: Duration,
    clock: Clock,
}

/// Lease length when the invocation has no deadline (tests, local runs).
const DEFAULT_LEASE: Duration = Duration::from_secs(15 * 60);

impl Runner {
    /// A runner for the worker described by `config`.
    pub fn new(pool: Db, sqs: aws_sdk_sqs::Client, config: &WorkerConfig) -> Self {
        Runner {
            pool,
            sqs,
            queue_url: config.queue_url.clone(),
            dead_letter_queue_url: config.dead_letter_queue_url.clone(),
            deadline_margin: config.deadline_margin,
            clock: Clock::System,
        }
    }

    /// The same runner reading `clock` instead of the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The Lambda handler of a worker: runs `event`'s records with the invocation's deadline.
    ///
    /// # Errors
    /// A record has no message id (see [`Runner::run_batch`]).
    pub async fn handle<J: Job>(
        &self,
        job: &J,
        event: lambda_runtime::LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let deadline = deadline_from_epoch_millis(event.context.deadline);
        Ok(self.run_batch(job, event.payload, deadline).await?)
    }

    /// Runs every record of `event` and returns the ids to retry.
    ///
    /// # Errors
    /// A record has no message id: the whole invocation fails, so Lambda retries every record.
    pub async fn run_batch<J: Job>(
        &self,
        job: &J,
        event: SqsEvent,
        deadline: Option<SystemTime>,
    ) -> Result<SqsBatchResponse, BatchError> {
        let mut ids = Vec::with_capacity(event.records.len());
        for (index, record) in event.records.iter().enumerate() {
            match record.message_id.as_deref() {
                Some(id) if !id.is_empty() => ids.push(id.to_owned()),
                _ => return Err(BatchError::MissingMessageId { index }),
            }
        }

        // At most a quarter of the invocation's time is held back, so a short timeout (a local
        // emulator's 3 s) still runs records.
        let left = deadline.and_then(|d| d.duration_since(SystemTime::now()).ok());
        let margin = left.map_or(self.deadline_margin, |left| {
            self.deadline_margin.min(left / 4)
        });
        tracing::debug!(
            records = event.records.len(),
            remaining_ms = left.map(|left| u64::try_from(left.as_millis()).unwrap_or(u64::MAX)),
            margin_ms = u64::try_from(margin.as_millis()).unwrap_or(u64::MAX),
            "batch received"
        );
        let mut response = SqsBatchResponse::default();
        let mut failed_groups: HashSet<String> = HashSet::new();
        for (record, message_id) in event.records.iter().zip(ids) {
            let started = Instant::now();
            let group = record.attributes.get("MessageGroupId").cloned();
            let blocked = group.as_ref().is_some_and(|g| failed_groups.contains(g));
            let deferred = if blocked {
                Some("an earlier message of its group failed in this batch")
            } else if deadline_is_near(deadline, margin) {
                Some("the invocation deadline is near")
            } else {
                None
            };
            let (outcome, ws_id) = if let Some(reason) = deferred {
                let ws_id = record
                    .body
                    .as_deref()
                    .and_then(|body| J::Payload::parse(body).ok())
                    .map(|payload| payload.ws_id());
                (Outcome::Deferred { reason }, ws_id)
            } else {
                self.process(job, record, &message_id, deadline).await
            };

            if let Outcome::Deferred { .. } = outcome {
                // Visible again now: FIFO keeps it behind the failed record of its group anyway.
                self.change_visibility(record, &message_id, Duration::ZERO)
                    .await;
            }
            if outcome.is_reported() {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message_id.clone();
                response.batch_item_failures.push(failure);
                if let Some(group) = group {
                    failed_groups.insert(group);
                }
            }
            let (attempt, elapsed) = (attempt_of(record), started.elapsed());
            metrics::record_run(J::Payload::KIND, &outcome, attempt, elapsed);
            log_record(
                J::Payload::KIND,
                &message_id,
                ws_id,
                attempt,
                &outcome,
                elapsed,
            );
        }
        Ok(response)
    }

    async fn process<J: Job>(
        &self,
        job: &J,
        record: &SqsMessage,
        message_id: &str,
        deadline: Option<SystemTime>,
    ) -> (Outcome, Option<Uuid>) {
        let task = J::Payload::KIND;
        let parsed = match record.body.as_deref() {
            Some(body) => J::Payload::parse(body),
            None => Err(crate::payload::PayloadError::NoBody),
        };
        let ws_id = parsed.as_ref().ok().map(JobPayload::ws_id);
        let delivery = Delivery {
            task: task.as_str(),
            ws_id,
            message_id: message_id.to_owned(),
            deduplication_id: idempotency_key(record, message_id),
            message_group_id: record.attributes.get("MessageGroupId").cloned(),
            attempt: attempt_of(record),
            payload: parsed
                .as_ref()
                .ok()
                .and_then(|payload| serde_json::to_value(payload).ok()),
        };

        match ledger::has_succeeded(&self.pool, &delivery).await {
            Ok(true) => {
                let outcome = self.record_skip(&delivery).await;
                return (outcome, ws_id);
            }
            Ok(false) => {}
            Err(err) => {
                let error =
                    JobError::with_source(ErrorKind::Retryable, "checking the run ledger", err);
                return (self.retry(record, message_id, &error).await, ws_id);
            }
        }
        let run_id = match ledger::open(&self.pool, &delivery).await {
            Ok(id) => id,
            Err(err) => {
                let error = JobError::with_source(ErrorKind::Retryable, "opening the run", err);
                return (self.retry(record, message_id, &error).await, ws_id);
            }
        };

        let payload = match parsed {
            Ok(payload) => payload,
            Err(err) => {
                let error = JobError::permanent(format!("invalid {task} payload: {err}"));
                return (self.fail(record, &delivery, run_id, error).await, ws_id);
            }
        };
        let ws = payload.ws_id();
        let scope = task.lease_scope();
        match lease::try_acquire(&self.pool, scope, ws, run_id, lease_ttl(deadline)).await {
            Ok(true) => {}
            Ok(false) => {
                let error = JobError::retryable(format!(
                    "the `{}` lease of workspace {ws} is held by another run",
                    scope.as_str()
                ));
                return (self.fail(record, &delivery, run_id, error).await, ws_id);
            }
            Err(err) => {
                let error =
                    JobError::with_source(ErrorKind::Retryable, "taking the workspace lease", err);
                return (self.fail(record, &delivery, run_id, error).await, ws_id);
            }
        }

        let ctx = RunContext {
            run_id,
            ws_id: ws,
            attempt: delivery.attempt,
            deadline,
            now: self.clock.now(),
        };
        let result = AssertUnwindSafe(job.run(&ctx, payload))
            .catch_unwind()
            .await;
        if let Err(err) = lease::release(&self.pool, scope, ws, run_id).await {
            tracing::warn!(ws_id = %ws, error = %err, "releasing the lease failed; it expires on its own");
        }

        let outcome = match result {
            Ok(Ok(counts)) => {
                let measured = metrics::measured(J::MEASURES, &counts);
                let outcome = self
                    .succeed(record, &delivery, run_id, ctx.now, counts)
                    .await;
                // Only what the ledger records as done, so the metrics agree with `jobs.runs`.
                if outcome == Outcome::Succeeded {
                    metrics::record_measures(task, &measured);
                }
                outcome
            }
            Ok(Err(error)) => self.fail(record, &delivery, run_id, error).await,
            Err(panic) => {
                let error =
                    JobError::retryable(format!("the job panicked: {}", panic_message(&*panic)));
                self.fail(record, &delivery, run_id, error).await
            }
        };
        (outcome, ws_id)
    }

    async fn record_skip(&self, delivery: &Delivery) -> Outcome {
        let result =
            json!({ "ws_id": delivery.ws_id, "success": true, "skipped": "already succeeded" });
        match ledger::open(&self.pool, delivery).await {
            Ok(run_id) => {
                if let Err(err) =
                    ledger::close(&self.pool, run_id, RunStatus::Skipped, &result, None).await
                {
                    tracing::warn!(error = %err, "recording a skipped run failed");
                }
            }
            Err(err) => tracing::warn!(error = %err, "recording a skipped run failed"),
        }
        Outcome::Skipped
    }

    async fn succeed(
        &self,
        record: &SqsMessage,
        delivery: &Delivery,
        run_id: Uuid,
        now: DateTime<Utc>,
        counts: RunResult,
    ) -> Outcome {
        let mut result = Map::new();
        result.insert("ws_id".to_owned(), json!(delivery.ws_id));
        result.insert("success".to_owned(), json!(true));
        // The instant the job worked from: with the payload it reproduces the run.
        result.insert("now".to_owned(), json!(now));
        result.extend(counts);
        match ledger::succeed(&self.pool, run_id, &Value::Object(result)).await {
            Ok(RunStatus::Skipped) => Outcome::Skipped,
            Ok(_) => Outcome::Succeeded,
            Err(err) => {
                // The work is done but not recorded: redelivery redoes it harmlessly (every
                // write is keyed), and records it.
                let error =
                    JobError::with_source(ErrorKind::Retryable, "recording the success", err);
                self.retry(record, &delivery.message_id, &error).await
            }
        }
    }

    async fn fail(
        &self,
        record: &SqsMessage,
        delivery: &Delivery,
        run_id: Uuid,
        mut error: JobError,
    ) -> Outcome {
        if error.kind() == ErrorKind::Permanent {
            let message = error.to_string();
            let letter = DeadLetter {
                task: delivery.task,
                body: record.body.as_deref().unwrap_or_default(),
                original_message_id: &delivery.message_id,
                message_group_id: delivery.message_group_id.as_deref(),
                error: &message,
                failed_at: self.clock.now(),
            };
            match dead_letter::send(&self.sqs, &self.dead_letter_queue_url, &letter).await {
                Ok(()) => {
                    self.close_failed(
                        delivery,
                        run_id,
                        RunStatus::Dead,
                        ErrorKind::Permanent,
                        &message,
                    )
                    .await;
                    return Outcome::Dead { error: message };
                }
                // Acknowledging now would lose the message: retry it instead.
                Err(err) => error = JobError::retryable(format!("{message} (and {err})")),
            }
        }
        let message = error.to_string();
        self.close_failed(
            delivery,
            run_id,
            RunStatus::Failed,
            ErrorKind::Retryable,
            &message,
        )
        .await;
        self.retry(record, &delivery.message_id, &error).await
    }

    /// Closes a failed run; a ledger error is only logged, since the message's fate (retry or
    /// DLQ) is already decided and must not change because the record of it failed.
    async fn close_failed(
        &self,
        delivery: &Delivery,
        run_id: Uuid,
        status: RunStatus,
        kind: ErrorKind,
        message: &str,
    ) {
        let result = json!({ "ws_id": delivery.ws_id, "success": false, "error": message });
        let closed =
            ledger::close(&self.pool, run_id, status, &result, Some((kind, message))).await;
        if let Err(err) = closed {
            tracing::warn!(error = %err, status = status.as_str(), "recording the run failed");
        }
    }

    async fn retry(&self, record: &SqsMessage, message_id: &str, error: &JobError) -> Outcome {
        let delay = backoff::delay(u32::try_from(attempt_of(record)).unwrap_or(1));
        self.change_visibility(record, message_id, delay).await;
        Outcome::Retry {
            error: error.to_string(),
            delay,
        }
    }

    async fn change_visibility(&self, record: &SqsMessage, message_id: &str, delay: Duration) {
        let Some(receipt) = record.receipt_handle.as_deref() else {
            return;
        };
        let seconds = i32::try_from(delay.as_secs()).unwrap_or(i32::MAX);
        let changed = self
            .sqs
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await;
        if let Err(err) = changed {
            // The message still comes back, after the queue's own visibility timeout.
            tracing::warn!(
                message_id,
                error = %crate::aws::describe(&err),
                "changing the visibility timeout failed"
            );
        }
    }
}

fn deadline_is_near(deadline: Option<SystemTime>, margin: Duration) -> bool {
    deadline.is_some_and(|deadline| {
        deadline
            .duration_since(SystemTime::now())
            .map_or(true, |left| left < margin)
    })
}

/// The key a success is recorded under: the producer's `MessageDeduplicationId`. When SQS
/// derived that id from the body (content-based deduplication, as for messages EventBridge
/// Scheduler sends), it only says "same body", and identical bodies recur as new work, so the
/// message id is the key instead.
fn idempotency_key(record: &SqsMessage, message_id: &str) -> String {
    let body = record.body.as_deref().unwrap_or_default();
    match record.attributes.get("MessageDeduplicationId") {
        Some(id) if *id != sha256_hex(body) => id.clone(),
        _ => message_id.to_owned(),
    }
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn attempt_of(record: &SqsMessage) -> i32 {
    record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|count| count.parse().ok())
        .unwrap_or(1)
}

fn lease_ttl(deadline: Option<SystemTime>) -> Duration {
    // Held for at most the invocation (plus slack): a worker that dies frees the workspace
    // when its invocation would have ended anyway.
    deadline
        .and_then(|d| d.duration_since(SystemTime::now()).ok())
        .map_or(DEFAULT_LEASE, |left| left + Duration::from_secs(30))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

fn log_record(
    task: JobKind,
    message_id: &str,
    ws_id: Option<Uuid>,
    attempt: i32,
    outcome: &Outcome,
    elapsed: Duration,
) {
    let ws_id = ws_id.map(|id| id.to_string());
    let duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    macro_rules! line {
        ($level:expr) => {
            tracing::event!(
                $level,
                task = task.as_str(),
                ws_id = ws_id.as_deref(),
                message_id,
                attempt,
                outcome = outcome.as_str(),
                duration_ms,
                error = outcome.error(),
                "record processed"
            )
        };
    }
    match outcome {
        Outcome::Succeeded | Outcome::Skipped | Outcome::Deferred { .. } => {
            line!(tracing::Level::INFO)
        }
        Outcome::Retry { .. } => line!(tracing::Level::WARN),
        Outcome::Dead { .. } => line!(tracing::Level::ERROR),
    }
}

/// The invocation deadline from Lambda's context (milliseconds since the epoch). A value that
/// cannot be one (zero in a hand-built context, or a small number from a local emulator) means
/// unknown.
pub fn deadline_from_epoch_millis(millis: u64) -> Option<SystemTime> {
    // 2001-09-09: any real deadline is far later.
    const PLAUSIBLE: u64 = 1_000_000_000_000;
    (millis >= PLAUSIBLE).then(|| SystemTime::UNIX_EPOCH + Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plausible_epoch_deadlines_count() {
        assert_eq!(deadline_from_epoch_millis(0), None);
        assert_eq!(deadline_from_epoch_millis(3_000), None);
        let real = deadline_from_epoch_millis(1_795_715_438_000).unwrap();
        assert_eq!(
            real.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            1_795_715_438
        );
    }

    fn record(body: &str, dedup: Option<&str>) -> SqsMessage {
        let mut record = SqsMessage::default();
        record.body = Some(body.to_owned());
        if let Some(dedup) = dedup {
            record
                .attributes
                .insert("MessageDeduplicationId".to_owned(), dedup.to_owned());
        }
        record
    }

    #[test]
    fn content_derived_deduplication_ids_fall_back_to_the_message_id() {
        let body = r#"{"ws_id":"0de00000-0000-4000-8000-000000000001"}"#;
        // What SQS sets for content-based deduplication (the digest is checked below).
        let content_id = sha256_hex(body);
        assert_eq!(
            idempotency_key(&record(body, Some(&content_id)), "m-1"),
            "m-1"
        );
        assert_eq!(
            idempotency_key(&record(body, Some("schedule-task:ws:tick")), "m-1"),
            "schedule-task:ws:tick"
        );
        assert_eq!(idempotency_key(&record(body, None), "m-1"), "m-1");
    }

    #[test]
    fn sha256_matches_a_known_digest() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
