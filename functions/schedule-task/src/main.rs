#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::jobs::worker::serve::<schedule_task::Function>().await
}
