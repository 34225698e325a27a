//! `schedule-task`: the legacy auto-schedule, one workspace per SQS message.
//!
//! Fed by `<stack>-schedule-task.fifo`; re-packs the workspace's unlocked future events into
//! its working hours ([`pack`]) and writes the moves in one transaction ([`store`]).

pub mod pack;
pub mod store;

use shared::config::{ConfigErrors, WorkerConfig};
use shared::db::Db;
use shared::error::JobError;
use shared::job_kind::JobKind;
use shared::jobs::metrics::Measure;
use shared::jobs::runner::{Job, RunContext, RunResult, run_result};
use shared::jobs::worker::{Worker, WorkerJob};
use shared::payload::ScheduleTaskPayload;

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
            worker: WorkerConfig::from_env(JobKind::ScheduleTask)?,
        })
    }
}

/// The job: re-pack one workspace.
#[derive(Debug, Clone)]
pub struct ScheduleTask {
    pool: Db,
}

impl ScheduleTask {
    pub fn new(pool: Db) -> Self {
        ScheduleTask { pool }
    }
}

impl Job for ScheduleTask {
    type Payload = ScheduleTaskPayload;

    const MEASURES: &'static [Measure] = &[Measure::new("events_moved", "EventsMoved")];

    async fn run(
        &self,
        ctx: &RunContext,
        payload: ScheduleTaskPayload,
    ) -> Result<RunResult, JobError> {
        let summary = store::reschedule(&self.pool, payload.ws_id, ctx.now).await?;
        Ok(run_result(summary))
    }
}

impl WorkerJob for ScheduleTask {
    type Config = Config;

    fn config_from_env() -> Result<Config, ConfigErrors> {
        Config::from_env()
    }

    fn worker_config(config: &Config) -> &WorkerConfig {
        &config.worker
    }

    fn build(_: &Config, pool: Db, _: aws_sdk_sqs::Client) -> Result<Self, lambda_runtime::Error> {
        Ok(ScheduleTask::new(pool))
    }
}

/// The Lambda function: the batch runner with this job.
pub type Function = Worker<ScheduleTask>;
