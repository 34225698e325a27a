//! `unified-schedule`: smart scheduling of one workspace per SQS message (reference §7).
//!
//! Fed by `<stack>-unified-schedule.fifo`. [`store`] loads the workspace's habits (and, with a
//! `user_id`, that user's tasks), runs the pure [`engine`], and applies the result in one
//! transaction under the workspace's `schedule` lease.

pub mod engine;
pub mod store;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::config::{ConfigErrors, Env, Secret, WorkerConfig};
use shared::encryption::{EncryptionError, MasterKey};
use shared::error::JobError;
use shared::payload::UnifiedSchedulePayload;
use shared::runner::{Counts, Job, RunContext, Runner};
use shared::task::TaskName;
use sqlx::PgPool;

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
            worker: WorkerConfig::read(&mut env, TaskName::UnifiedSchedule),
            master_key: env.optional("ENCRYPTION_MASTER_KEY").map(Secret::new),
        };
        env.finish(config)
    }
}

/// The job: schedule one workspace.
#[derive(Debug, Clone)]
pub struct UnifiedSchedule {
    pool: PgPool,
    master_key: Option<MasterKey>,
}

impl UnifiedSchedule {
    /// Derives the master key once (scrypt), not per message.
    ///
    /// # Errors
    /// The master key cannot be derived.
    pub fn new(pool: PgPool, master_key: Option<&Secret>) -> Result<Self, EncryptionError> {
        Ok(UnifiedSchedule {
            pool,
            master_key: master_key.map(MasterKey::derive).transpose()?,
        })
    }
}

impl Job for UnifiedSchedule {
    type Payload = UnifiedSchedulePayload;

    async fn run(
        &self,
        ctx: &RunContext,
        payload: UnifiedSchedulePayload,
    ) -> Result<Counts, JobError> {
        let window = u32::try_from(payload.window_days().clamp(7, 90)).unwrap_or(30);
        let applied = store::schedule(
            &self.pool,
            self.master_key.as_ref(),
            ctx.ws_id,
            payload.user_id,
            window,
            ctx.now,
        )
        .await?;
        match serde_json::to_value(applied) {
            Ok(serde_json::Value::Object(counts)) => Ok(counts),
            _ => Ok(Counts::new()),
        }
    }
}

/// Why the function could not start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("DATABASE_URL cannot be used: {0}")]
    Database(#[from] sqlx::Error),
    #[error("ENCRYPTION_MASTER_KEY cannot be used: {0}")]
    MasterKey(#[from] EncryptionError),
}

/// What the function builds once at init.
#[derive(Debug, Clone)]
pub struct State {
    pub runner: Runner,
    pub job: UnifiedSchedule,
}

impl State {
    /// Builds the pool and the SQS client, and derives the master key.
    ///
    /// # Errors
    /// See [`InitError`].
    pub async fn new(config: &Config) -> Result<Self, InitError> {
        let pool = shared::db::connect_lazy(
            &config.worker.database_url,
            config.worker.database_max_connections,
        )?;
        let sqs = shared::aws::sqs_client().await;
        Ok(State {
            runner: Runner::new(pool.clone(), sqs, &config.worker),
            job: UnifiedSchedule::new(pool, config.master_key.as_ref())?,
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
