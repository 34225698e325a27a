use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing("info");
    let config = schedule_task::Config::from_env()?;
    let state = schedule_task::State::new(&config).await?;
    lambda_runtime::run(service_fn(|event| schedule_task::handler(&state, event))).await
}
