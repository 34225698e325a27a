//! AWS clients, built once at init.

/// An SQS client from the standard chain: region, credentials, and `AWS_ENDPOINT_URL` (which
/// points it at a local server in development and tests).
pub async fn sqs_client() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk_config().await)
}

/// The SDK settings every client is built from (see [`sqs_client`]).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

/// A one-line description of an SDK error: the service's code and message when the service
/// answered, else the error chain (never the raw response, which can be large).
pub fn describe<E, R>(err: &aws_sdk_sqs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("unknown error"),
            service.message().unwrap_or_default()
        ),
        None => aws_sdk_sqs::error::DisplayErrorContext(err).to_string(),
    }
}
