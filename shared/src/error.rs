//! The error every job returns: retryable or permanent, decided where the error happens.

use std::error::Error as StdError;
use std::fmt;

/// How the batch runner treats a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Transient (network, database unavailable, Google 429/5xx, lease busy): retried with
    /// backoff, and moved to the DLQ by SQS after `maxReceiveCount` receives.
    Retryable,
    /// Retrying cannot help (invalid payload, unknown workspace, revoked grant): the run is
    /// recorded `dead`, the message is copied to the DLQ and acknowledged.
    Permanent,
}

impl ErrorKind {
    /// The `error_kind` column of `jobs.runs`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Retryable => "retryable",
            ErrorKind::Permanent => "permanent",
        }
    }
}

/// A job failure with its classification. `Display` includes the cause chain, so the ledger
/// and the DLQ attribute carry the whole story in one line.
#[derive(Debug)]
pub struct JobError {
    kind: ErrorKind,
    context: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl JobError {
    /// A retryable failure described by `message`.
    pub fn retryable(message: impl Into<String>) -> Self {
        JobError {
            kind: ErrorKind::Retryable,
            context: message.into(),
            source: None,
        }
    }

    /// A permanent failure described by `message`.
    pub fn permanent(message: impl Into<String>) -> Self {
        JobError {
            kind: ErrorKind::Permanent,
            context: message.into(),
            source: None,
        }
    }

    /// Wraps `source` with what we were doing when it happened.
    pub fn with_source(
        kind: ErrorKind,
        context: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        JobError {
            kind,
            context: context.into(),
            source: Some(Box::new(source)),
        }
    }

    /// Retryable or permanent.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)?;
        let mut cause: Option<&(dyn StdError + 'static)> = self.source.as_deref().map(|e| e as _);
        while let Some(err) = cause {
            write!(f, ": {err}")?;
            cause = err.source();
        }
        Ok(())
    }
}

impl StdError for JobError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// Labels a `Result`'s error at the call site: `.retryable("loading events")?`.
pub trait Classify<T> {
    /// The error is transient.
    ///
    /// # Errors
    /// The original error, classified retryable.
    fn retryable(self, context: &str) -> Result<T, JobError>;

    /// The error cannot go away by retrying.
    ///
    /// # Errors
    /// The original error, classified permanent.
    fn permanent(self, context: &str) -> Result<T, JobError>;
}

impl<T, E: StdError + Send + Sync + 'static> Classify<T> for Result<T, E> {
    fn retryable(self, context: &str) -> Result<T, JobError> {
        self.map_err(|err| JobError::with_source(ErrorKind::Retryable, context, err))
    }

    fn permanent(self, context: &str) -> Result<T, JobError> {
        self.map_err(|err| JobError::with_source(ErrorKind::Permanent, context, err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_carries_the_cause_chain_and_kind_is_kept() {
        let parse: Result<u8, _> = "x".parse::<u8>();
        let err = parse.permanent("reading attempt").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Permanent);
        assert_eq!(
            err.to_string(),
            "reading attempt: invalid digit found in string"
        );
    }
}
