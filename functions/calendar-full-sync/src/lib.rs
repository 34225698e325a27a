//! `calendar-full-sync`: full Google Calendar re-sync, one workspace per SQS message.
//!
//! Fed by `<stack>-calendar-full-sync.fifo`. Each connection lists every page of now −90 d …
//! now +180 d and stores the final sync token; a calendar too large for one invocation stops at
//! a checkpoint and continues in the next message. The logic is [`shared::sync`], shared with
//! `calendar-sync`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::config::ConfigErrors;
use shared::payload::CalendarFullSyncPayload;
use shared::runner::{Runner, deadline_from_epoch_millis};
use shared::sync::{InitError, SyncConfig, SyncJob, Syncer};
use shared::task::TaskName;

/// The function's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub sync: SyncConfig,
}

impl Config {
    /// Reads every variable, reporting all problems by name.
    ///
    /// # Errors
    /// A missing or invalid variable.
    pub fn from_env() -> Result<Self, ConfigErrors> {
        Ok(Config {
            sync: SyncConfig::from_env(TaskName::CalendarFullSync)?,
        })
    }
}

/// What the function builds once at init.
#[derive(Debug, Clone)]
pub struct State {
    pub runner: Runner,
    pub job: SyncJob<CalendarFullSyncPayload>,
}

impl State {
    /// Builds the pool, the SQS and Google clients, and derives the master key.
    ///
    /// # Errors
    /// See [`InitError`].
    pub async fn new(config: &Config) -> Result<Self, InitError> {
        let worker = &config.sync.worker;
        let pool = shared::db::connect_lazy(&worker.database_url, worker.database_max_connections)?;
        let sqs = shared::aws::sqs_client().await;
        Ok(State {
            runner: Runner::new(pool.clone(), sqs.clone(), worker),
            job: SyncJob::new(Syncer::new(pool, sqs, &config.sync)?),
        })
    }
}

/// The Lambda handler: one batch of SQS records in, the records to retry out.
///
/// # Errors
/// Only when a record has no message id (the whole batch is then retried).
pub async fn handler(
    state: &State,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let deadline = deadline_from_epoch_millis(event.context.deadline);
    Ok(state
        .runner
        .run_batch(&state.job, event.payload, deadline)
        .await?)
}
