#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::jobs::worker::serve::<calendar_webhook::Function>().await
}
