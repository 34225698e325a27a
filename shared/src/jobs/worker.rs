//! The one shape every function takes: settings read from the environment, clients built once
//! at init, then every Lambda event handed to what was built. A function's `main.rs` is only
//! `serve::<its_crate::Function>()`.

use std::fmt::Debug;
use std::future::Future;

use crate::db::Db;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures_util::FutureExt as _;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::runner::{Job, Runner};
use crate::config::{ConfigErrors, WorkerConfig};

/// A Lambda function: built once from its settings, then handed every event.
pub trait Function: Sized + Send + Sync {
    type Config: Send + Sync;
    type Event: DeserializeOwned + Send;
    type Response: Serialize + Send;
    type Error: Into<Diagnostic> + Debug + Send;

    /// Reads the settings, reporting every missing or invalid variable by name.
    ///
    /// # Errors
    /// A missing or invalid variable.
    fn config_from_env() -> Result<Self::Config, ConfigErrors>;

    /// Builds what every invocation shares (pools, clients, derived keys).
    fn init(
        config: &Self::Config,
    ) -> impl Future<Output = Result<Self, lambda_runtime::Error>> + Send;

    /// Handles one invocation.
    fn handle(
        &self,
        event: LambdaEvent<Self::Event>,
    ) -> impl Future<Output = Result<Self::Response, Self::Error>> + Send;
}

/// Serves `F` on the Lambda Runtime API: logging, secrets, settings, init, then every event.
///
/// # Errors
/// The settings are invalid, init failed, or the Runtime API cannot be reached.
pub async fn serve<F: Function>() -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init_tracing("info");
    let secrets = crate::secrets::load_from_env().await.map_err(|errors| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    if secrets.count > 0 {
        tracing::info!(
            secrets = secrets.count,
            elapsed_ms = secrets.elapsed.as_secs_f64() * 1000.0,
            "secrets read from Secrets Manager"
        );
    }
    let config = F::config_from_env()?;
    let function = F::init(&config).await?;
    let emitter = crate::jobs::metrics::Emitter::install();
    let function = &function;
    // Boxed so that main's future does not nest every layer of the handler's: the compiler's
    // layout query would otherwise exceed its depth limit for the deepest jobs.
    lambda_runtime::run(service_fn(move |event| {
        async move {
            let response = function.handle(event).await;
            // Before the response is posted: after it, Lambda may freeze the sandbox.
            if let Some(emitter) = emitter {
                emitter.flush();
            }
            response
        }
        .boxed()
    }))
    .await
}

/// A [`Job`] together with how its function's settings build it.
pub trait WorkerJob: Job + Sized {
    type Config: Send + Sync;

    /// Reads the settings.
    ///
    /// # Errors
    /// A missing or invalid variable.
    fn config_from_env() -> Result<Self::Config, ConfigErrors>;

    /// The queue, database and retry settings inside [`Self::Config`].
    fn worker_config(config: &Self::Config) -> &WorkerConfig;

    /// Builds the job on the function's pool and SQS client.
    ///
    /// # Errors
    /// A setting cannot be used (a key that does not derive, a client that does not build).
    fn build(
        config: &Self::Config,
        pool: Db,
        sqs: aws_sdk_sqs::Client,
    ) -> Result<Self, lambda_runtime::Error>;
}

/// An SQS-fed function: the batch runner and the job it runs on every record.
#[derive(Debug, Clone)]
pub struct Worker<J> {
    pub runner: Runner,
    pub job: J,
}

impl<J: WorkerJob> Function for Worker<J> {
    type Config = J::Config;
    type Event = SqsEvent;
    type Response = SqsBatchResponse;
    type Error = lambda_runtime::Error;

    fn config_from_env() -> Result<Self::Config, ConfigErrors> {
        J::config_from_env()
    }

    async fn init(config: &Self::Config) -> Result<Self, lambda_runtime::Error> {
        let worker = J::worker_config(config);
        let pool = Db::connect_lazy(
            &worker.database_url,
            worker.database_mode,
            worker.database_max_connections,
        )
        .map_err(|err| format!("DATABASE_URL cannot be used: {err}"))?;
        let sqs = crate::aws::sqs_client().await;
        Ok(Worker {
            runner: Runner::new(pool.clone(), sqs.clone(), worker),
            job: J::build(config, pool, sqs)?,
        })
    }

    /// One batch of SQS records in, the records to retry out; an error only when a record has
    /// no message id (the whole batch is then retried).
    async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        self.runner.handle(&self.job, event).await
    }
}
