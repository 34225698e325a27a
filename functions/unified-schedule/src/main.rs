use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing("info");
    let config = unified_schedule::Config::from_env()?;
    let state = unified_schedule::State::new(&config).await?;
    lambda_runtime::run(service_fn(|event| unified_schedule::handler(&state, event))).await
}
