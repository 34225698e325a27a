//! `schedule-task`: the legacy auto-schedule, one workspace per SQS message.
//!
//! Fed by `<stack>-schedule-task.fifo`; re-packs the workspace's unlocked future events into
//! its working hours ([`pack`]) and writes the moves in one transaction ([`store`]).

pub mod pack;
pub mod store;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::config::{ConfigErrors, WorkerConfig};
use shared::error::JobError;
use shared::payload::ScheduleTaskPayload;
use shared::runner::{Counts, Job, RunContext, Runner};
use shared::task::TaskName;
use sqlx::PgPool;

/// The function's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub worker: WorkerConfig,
}

impl Config {
    /// Reads every variable, reporting all problems by name.
    ///
    /// # Errors
    /// A missing or invalid variable.
    pub fn from_env() -> Result<Self, ConfigErrors> {
        Ok(Config {
            worker: WorkerConfig::from_env(TaskName::ScheduleTask)?,
        })
    }
}

/// The job: re-pack one workspace.
#[derive(Debug, Clone)]
pub struct ScheduleTask {
    pool: PgPool,
}

impl ScheduleTask {
    pub fn new(pool: PgPool) -> Self {
        ScheduleTask { pool }
    }
}

impl Job for ScheduleTask {
    type Payload = ScheduleTaskPayload;

    async fn run(
        &self,
        ctx: &RunContext,
        payload: ScheduleTaskPayload,
    ) -> Result<Counts, JobError> {
        let summary = store::reschedule(&self.pool, payload.ws_id, ctx.now).await?;
        match serde_json::to_value(summary) {
            Ok(serde_json::Value::Object(counts)) => Ok(counts),
            _ => Ok(Counts::new()),
        }
    }
}

/// What the function builds once at init.
#[derive(Debug, Clone)]
pub struct State {
    pub runner: Runner,
    pub job: ScheduleTask,
}

impl State {
    /// Builds the pool and the SQS client.
    ///
    /// # Errors
    /// The database URL cannot be parsed.
    pub async fn new(config: &Config) -> Result<Self, sqlx::Error> {
        let pool = shared::db::connect_lazy(
            &config.worker.database_url,
            config.worker.database_max_connections,
        )?;
        let sqs = shared::aws::sqs_client().await;
        Ok(State {
            runner: Runner::new(pool.clone(), sqs, &config.worker),
            job: ScheduleTask::new(pool),
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
    state.runner.handle(&state.job, event).await
}
