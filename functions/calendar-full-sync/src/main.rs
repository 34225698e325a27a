use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing("info");
    let config = calendar_full_sync::Config::from_env()?;
    let state = calendar_full_sync::State::new(&config.sync).await?;
    lambda_runtime::run(service_fn(|event| state.handle(event))).await
}
