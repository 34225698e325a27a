use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing("info");
    let state = calendar_sync::State::new(&calendar_sync::config_from_env()?).await?;
    lambda_runtime::run(service_fn(|event| state.handle(event))).await
}
