use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing("info");
    let config = orchestrator::Config::from_env()?;
    let state = orchestrator::State::new(&config).await?;
    lambda_runtime::run(service_fn(|event| orchestrator::handler(&state, event))).await
}
