//! AWS clients, built once at init.

/// An SQS client from the standard chain: region, credentials, and `AWS_ENDPOINT_URL` (which
/// points it at a local server in development and tests).
pub async fn sqs_client() -> aws_sdk_sqs::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    aws_sdk_sqs::Client::new(&config)
}
