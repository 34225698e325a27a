//! Logging set-up: JSON lines, one object per event, fields at the top level.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber once per process. The level comes from `RUST_LOG`, else
/// `AWS_LAMBDA_LOG_LEVEL` (set by the template's `LoggingConfig`), else `default_level`.
pub fn init_tracing(default_level: &str) {
    let filter = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL").map(|level| level.to_lowercase()))
        .unwrap_or_else(|_| default_level.to_owned());
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_env_filter(EnvFilter::new(filter))
        .try_init();
}
