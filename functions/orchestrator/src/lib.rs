//! `orchestrator`: EventBridge Scheduler invokes it with
//! `{"fan_out": "<task>", "scheduled_at": "<time>"}`; it sends one message per workspace of
//! that task's audience ([`audience`]) to the task's queue ([`fan_out`]) and records the tick
//! as a run in `jobs.runs` (task `orchestrator`, keyed `<task>:<tick>`). The fan-out
//! `renew-watch-channels` sends one `calendar-sync` per calendar whose push channel needs
//! renewing or stopping.

pub mod audience;
pub mod fan_out;
pub mod tick;

use std::time::Duration;

use chrono::Utc;
use lambda_runtime::LambdaEvent;
use serde_json::json;
use shared::config::{ConfigErrors, Env, Secret};
use shared::db::{ConnectionMode, Db};
use shared::error::ErrorKind;
use shared::jobs::ledger::{self, Delivery, RunStatus};
use shared::producer::QueueUrls;

pub use fan_out::{FanOutOptions, FanOutSummary};
pub use tick::{FanOut, Tick};

/// The `task` column of the orchestrator's runs.
pub const RUN_TASK: &str = "orchestrator";

/// The function's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`.
    pub database_url: Secret,
    /// `DATABASE_CONNECTION_MODE` (default `direct`).
    pub database_mode: ConnectionMode,
    /// All four `<TASK>_QUEUE_URL`s: one function serves every schedule.
    pub queues: QueueUrls,
    /// `ORCHESTRATOR_PAGE_SIZE` (default 1000), `ORCHESTRATOR_SENDS_IN_FLIGHT` (default 8)
    /// and `WATCH_RENEW_BEFORE_SECONDS` (default 1 day).
    pub options: FanOutOptions,
}

impl Config {
    /// Reads every variable, reporting all problems by name.
    ///
    /// # Errors
    /// A missing or invalid variable.
    pub fn from_env() -> Result<Self, ConfigErrors> {
        let mut env = Env::process();
        let config = Config {
            database_url: Secret::new(env.required("DATABASE_URL")),
            database_mode: env.parse_or("DATABASE_CONNECTION_MODE", ConnectionMode::Direct),
            queues: QueueUrls::read(&mut env, true),
            options: FanOutOptions {
                page_size: env.parse_or("ORCHESTRATOR_PAGE_SIZE", 1000),
                sends_in_flight: env.parse_or("ORCHESTRATOR_SENDS_IN_FLIGHT", 8),
                renew_before: chrono::Duration::from_std(
                    env.seconds_or("WATCH_RENEW_BEFORE_SECONDS", Duration::from_secs(86_400)),
                )
                .unwrap_or(chrono::Duration::MAX),
            },
        };
        env.finish(config)
    }
}

/// What the function builds once at init.
#[derive(Debug, Clone)]
pub struct Orchestrator {
    pub pool: Db,
    pub sqs: aws_sdk_sqs::Client,
    pub queues: QueueUrls,
    pub options: FanOutOptions,
}

/// The Lambda function.
pub type Function = Orchestrator;

impl shared::jobs::worker::Function for Orchestrator {
    type Config = Config;
    type Event = serde_json::Value;
    type Response = serde_json::Value;
    type Error = TickFailure;

    fn config_from_env() -> Result<Config, ConfigErrors> {
        Config::from_env()
    }

    async fn init(config: &Config) -> Result<Self, lambda_runtime::Error> {
        Ok(Orchestrator {
            pool: Db::connect_lazy(&config.database_url, config.database_mode, 2)
                .map_err(|err| format!("DATABASE_URL cannot be used: {err}"))?
                .per_statement(),
            sqs: shared::aws::sqs_client().await,
            queues: config.queues.clone(),
            options: config.options,
        })
    }

    /// Returns the summary; an error (bad input, enumeration failure, or messages left
    /// unsent) fails the invocation so Scheduler's retry policy runs the tick again.
    async fn handle(
        &self,
        event: LambdaEvent<serde_json::Value>,
    ) -> Result<serde_json::Value, TickFailure> {
        run_tick(self, event.payload, &event.context.request_id).await
    }
}

/// Why a tick did not complete.
#[derive(Debug, thiserror::Error)]
pub enum TickFailure {
    #[error(transparent)]
    Input(#[from] tick::TickError),
    #[error(transparent)]
    Queue(#[from] shared::producer::ProducerError),
    #[error(transparent)]
    Job(#[from] shared::error::JobError),
    #[error("{failed} of {total} messages could not be enqueued; first: {first}")]
    Incomplete {
        failed: u64,
        total: u64,
        first: String,
    },
}

impl From<TickFailure> for lambda_runtime::Diagnostic {
    fn from(failure: TickFailure) -> Self {
        let error_type = match failure {
            TickFailure::Input(_) => "InvalidInput",
            TickFailure::Queue(_) => "QueueNotConfigured",
            TickFailure::Job(_) => "EnumerationFailed",
            TickFailure::Incomplete { .. } => "MessagesNotEnqueued",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_owned(),
            error_message: failure.to_string(),
        }
    }
}

/// Runs one tick and records it in the ledger.
///
/// # Errors
/// See [`TickFailure`].
pub async fn run_tick(
    state: &Orchestrator,
    input: serde_json::Value,
    request_id: &str,
) -> Result<serde_json::Value, TickFailure> {
    let tick = match Tick::parse(input, Utc::now()) {
        Ok(tick) => tick,
        Err(err) => {
            let delivery = delivery(request_id, request_id.to_owned());
            let message = err.to_string();
            record(
                &state.pool,
                &delivery,
                RunStatus::Dead,
                &json!({ "success": false, "error": message }),
                Some((ErrorKind::Permanent, &message)),
            )
            .await;
            tracing::error!(task = RUN_TASK, error = %message, "fan-out refused");
            return Err(err.into());
        }
    };
    let delivery = delivery(request_id, tick.run_key());

    // A tick that already completed (Scheduler retried after a lost response) is not redone.
    if ledger::has_succeeded(&state.pool, &delivery)
        .await
        .unwrap_or(false)
    {
        let result = json!({ "fan_out": tick.fan_out.as_str(), "scheduled_at": tick.label(), "duplicate_tick": true });
        record(&state.pool, &delivery, RunStatus::Skipped, &result, None).await;
        tracing::info!(task = RUN_TASK, fan_out = tick.fan_out.as_str(), scheduled_at = %tick.label(), "tick already fanned out; skipped");
        return Ok(result);
    }

    let queue_url = state.queues.get(tick.fan_out.queue())?;
    let run_id = ledger::open(&state.pool, &delivery).await.ok();
    let outcome = fan_out::fan_out(&state.pool, &state.sqs, queue_url, &tick, state.options).await;
    let (status, result, error) = match outcome {
        Ok(summary) if summary.failed == 0 => (RunStatus::Succeeded, summary_json(&summary), None),
        Ok(summary) => {
            let failure = TickFailure::Incomplete {
                failed: summary.failed,
                total: summary.total_workspaces - summary.skipped,
                first: summary.first_error.clone().unwrap_or_default(),
            };
            (RunStatus::Failed, summary_json(&summary), Some(failure))
        }
        Err(err) => (
            RunStatus::Failed,
            json!({ "fan_out": tick.fan_out.as_str(), "scheduled_at": tick.label(), "success": false }),
            Some(TickFailure::Job(err)),
        ),
    };
    if let Some(run_id) = run_id {
        let message = error.as_ref().map(ToString::to_string);
        let closed = match status {
            RunStatus::Succeeded => ledger::succeed(&state.pool, run_id, &result)
                .await
                .map(drop),
            _ => {
                let error = message.as_deref().map(|m| (ErrorKind::Retryable, m));
                ledger::close(&state.pool, run_id, status, &result, error).await
            }
        };
        if let Err(err) = closed {
            tracing::warn!(error = %err, "recording the fan-out run failed");
        }
    }
    log_summary(&result, error.as_ref());
    match error {
        None => Ok(result),
        Some(err) => Err(err),
    }
}

fn delivery(request_id: &str, key: String) -> Delivery {
    Delivery {
        task: RUN_TASK,
        ws_id: None,
        message_id: request_id.to_owned(),
        deduplication_id: key,
        message_group_id: None,
        attempt: 1,
        payload: None,
    }
}

fn summary_json(summary: &FanOutSummary) -> serde_json::Value {
    let mut value = serde_json::to_value(summary).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("success".to_owned(), json!(summary.failed == 0));
    }
    value
}

/// Records a run that needs no work (refused or duplicate). Ledger trouble is logged, not
/// raised: the tick's outcome does not depend on its record.
async fn record(
    pool: &Db,
    delivery: &Delivery,
    status: RunStatus,
    result: &serde_json::Value,
    error: Option<(ErrorKind, &str)>,
) {
    let recorded = match ledger::open(pool, delivery).await {
        Ok(run_id) => ledger::close(pool, run_id, status, result, error).await,
        Err(err) => Err(err),
    };
    if let Err(err) = recorded {
        tracing::warn!(error = %err, "recording the fan-out run failed");
    }
}

fn log_summary(result: &serde_json::Value, error: Option<&TickFailure>) {
    let field = |name: &str| result.get(name).and_then(serde_json::Value::as_u64);
    let fan_out = result.get("fan_out").and_then(serde_json::Value::as_str);
    macro_rules! line {
        ($level:expr) => {
            tracing::event!(
                $level,
                task = RUN_TASK,
                fan_out,
                total_workspaces = field("total_workspaces"),
                enqueued = field("enqueued"),
                failed = field("failed"),
                skipped = field("skipped"),
                calls = field("calls"),
                enumeration_ms = field("enumeration_ms"),
                sending_ms = field("sending_ms"),
                error = error.map(ToString::to_string),
                "fan-out finished"
            )
        };
    }
    match error {
        None => line!(tracing::Level::INFO),
        Some(_) => line!(tracing::Level::ERROR),
    }
}
