//! `unified-schedule`: smart scheduling of one workspace per SQS message (design §10.1).
//!
//! Fed by `<stack>-unified-schedule.fifo`. The use case, [`schedule_workspace`], loads the
//! workspace's habits (and, with a `user_id`, that user's tasks) through [`inputs`], runs the
//! pure [`engine`], and writes the result through [`apply`], in one transaction under the
//! workspace's `schedule` lease.

pub mod apply;
pub mod engine;
pub mod inputs;

use apply::Applied;
use chrono::{DateTime, Utc};
use shared::encryption::workspace_key;
use shared::error::Classify;
use uuid::Uuid;

use shared::config::{ConfigErrors, Env, Secret, WorkerConfig};
use shared::db::Db;
use shared::encryption::{EncryptionError, MasterKey};
use shared::error::JobError;
use shared::job_kind::JobKind;
use shared::jobs::metrics::Measure;
use shared::jobs::runner::{Job, RunContext, RunResult, run_result};
use shared::jobs::worker::{Worker, WorkerJob};
use shared::payload::UnifiedSchedulePayload;

/// The function's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub worker: WorkerConfig,
    /// `ENCRYPTION_MASTER_KEY`: titles are encrypted for workspaces with a key.
    pub master_key: Option<Secret>,
}

impl Config {
    /// Reads every variable, reporting all problems by name.
    ///
    /// # Errors
    /// A missing or invalid variable.
    pub fn from_env() -> Result<Self, ConfigErrors> {
        let mut env = Env::process();
        let config = Config {
            worker: WorkerConfig::read(&mut env, JobKind::UnifiedSchedule),
            master_key: env.optional("ENCRYPTION_MASTER_KEY").map(Secret::new),
        };
        env.finish(config)
    }
}

/// The job: schedule one workspace.
#[derive(Debug, Clone)]
pub struct UnifiedSchedule {
    pool: Db,
    master_key: Option<MasterKey>,
}

impl UnifiedSchedule {
    /// Derives the master key once (scrypt), not per message.
    ///
    /// # Errors
    /// The master key cannot be derived.
    pub fn new(pool: Db, master_key: Option<&Secret>) -> Result<Self, EncryptionError> {
        Ok(UnifiedSchedule {
            pool,
            master_key: master_key.map(MasterKey::derive).transpose()?,
        })
    }
}

impl Job for UnifiedSchedule {
    type Payload = UnifiedSchedulePayload;

    const MEASURES: &'static [Measure] = &[
        Measure::new("events_created", "EventsCreated"),
        Measure::new("events_updated", "EventsUpdated"),
        Measure::new("events_deleted", "EventsDeleted"),
    ];

    async fn run(
        &self,
        ctx: &RunContext,
        payload: UnifiedSchedulePayload,
    ) -> Result<RunResult, JobError> {
        let window = u32::try_from(payload.window_days().clamp(7, 90)).unwrap_or(30);
        let applied = schedule_workspace(
            &self.pool,
            self.master_key.as_ref(),
            ctx.ws_id,
            payload.user_id,
            window,
            ctx.now,
        )
        .await?;
        Ok(run_result(applied))
    }
}

impl WorkerJob for UnifiedSchedule {
    type Config = Config;

    fn config_from_env() -> Result<Config, ConfigErrors> {
        Config::from_env()
    }

    fn worker_config(config: &Config) -> &WorkerConfig {
        &config.worker
    }

    fn build(
        config: &Config,
        pool: Db,
        _: aws_sdk_sqs::Client,
    ) -> Result<Self, lambda_runtime::Error> {
        UnifiedSchedule::new(pool, config.master_key.as_ref())
            .map_err(|err| format!("ENCRYPTION_MASTER_KEY cannot be used: {err}").into())
    }
}

/// The Lambda function: the batch runner with this job.
pub type Function = Worker<UnifiedSchedule>;

/// Loads, schedules and applies for `ws_id` in one transaction: a failure anywhere leaves the
/// previous schedule as it was.
///
/// # Errors
/// See [`inputs::load`] and [`apply::apply`].
pub async fn schedule_workspace(
    pool: &Db,
    master: Option<&MasterKey>,
    ws_id: Uuid,
    user_id: Option<Uuid>,
    window_days: u32,
    now: DateTime<Utc>,
) -> Result<Applied, JobError> {
    let key = workspace_key(pool, master, ws_id).await?;
    let mut tx = pool.begin().await.retryable("opening a transaction")?;
    let inputs = inputs::load(&mut tx, ws_id, user_id, window_days, now).await?;
    let output = engine::generate(&inputs);
    let applied = apply::apply(&mut tx, ws_id, &inputs, &output, key.as_ref()).await?;
    tx.commit().await.retryable("committing the schedule")?;
    Ok(applied)
}
