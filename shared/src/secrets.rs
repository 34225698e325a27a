//! Secrets read at init from Secrets Manager, so none sits in a function's configuration
//! (design §14.4).
//!
//! For every variable `NAME_SECRET_ID` in the environment, the secret it names is read once,
//! all of them concurrently, and kept for the life of the instance; the settings then read
//! `NAME` as if it were set ([`crate::config::Env::process`] asks here first). Locally, where
//! no `_SECRET_ID` is set, plain variables are read as before. A new password is picked up by
//! the next cold start, with no redeploy.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SUFFIX: &str = "_SECRET_ID";

static RESOLVED: OnceLock<HashMap<String, String>> = OnceLock::new();

/// A secret that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: reading secret {secret_id:?} from Secrets Manager failed: {reason}")]
pub struct SecretError {
    pub variable: String,
    pub secret_id: String,
    pub reason: String,
}

/// What loading found: how many secrets and how long their (concurrent) reads took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    pub count: usize,
    pub elapsed: Duration,
}

/// The variables to read from Secrets Manager: `(NAME, secret id)` for every `NAME_SECRET_ID`.
pub fn requested(vars: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = vars
        .into_iter()
        .filter_map(|(key, value)| {
            let name = key.strip_suffix(SUFFIX)?;
            let id = value.trim();
            (!name.is_empty() && !id.is_empty()).then(|| (name.to_owned(), id.to_owned()))
        })
        .collect();
    found.sort();
    found
}

/// Reads every requested secret once (a second call does nothing). Does not touch AWS when
/// none is requested.
///
/// # Errors
/// Every secret that could not be read, named by its variable (never its value).
pub async fn load_from_env() -> Result<Loaded, Vec<SecretError>> {
    if RESOLVED.get().is_some() {
        return Ok(Loaded {
            count: 0,
            elapsed: Duration::ZERO,
        });
    }
    let wanted = requested(std::env::vars());
    if wanted.is_empty() {
        let _ = RESOLVED.set(HashMap::new());
        return Ok(Loaded {
            count: 0,
            elapsed: Duration::ZERO,
        });
    }
    let started = Instant::now();
    let client = aws_sdk_secretsmanager::Client::new(&crate::aws::sdk_config().await);
    let reads = wanted.iter().map(|(name, id)| {
        let client = &client;
        async move { (name.clone(), id.clone(), read(client, id).await) }
    });
    let mut values = HashMap::new();
    let mut errors = Vec::new();
    for (variable, secret_id, result) in futures_util::future::join_all(reads).await {
        match result {
            Ok(value) => {
                values.insert(variable, value);
            }
            Err(reason) => errors.push(SecretError {
                variable,
                secret_id,
                reason,
            }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let count = values.len();
    let _ = RESOLVED.set(values);
    Ok(Loaded {
        count,
        elapsed: started.elapsed(),
    })
}

async fn read(client: &aws_sdk_secretsmanager::Client, id: &str) -> Result<String, String> {
    let output = client
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|err| {
            use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;
            let service = err.as_service_error();
            match (
                service.and_then(|e| e.code()),
                service.and_then(|e| e.message()),
            ) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                _ => aws_sdk_secretsmanager::error::DisplayErrorContext(&err).to_string(),
            }
        })?;
    output
        .secret_string()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .ok_or_else(|| "the secret has no SecretString".to_owned())
}

/// The value read for `name`, if it was requested.
pub fn resolved(name: &str) -> Option<String> {
    RESOLVED.get()?.get(name).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_named_secret_ids_are_requested() {
        let vars = [
            ("DATABASE_URL_SECRET_ID", "tuturuuu/jobs/database-url"),
            ("GOOGLE_CLIENT_SECRET_SECRET_ID", " google "),
            ("ENCRYPTION_MASTER_KEY_SECRET_ID", ""),
            ("_SECRET_ID", "nameless"),
            ("DATABASE_URL", "postgres://local"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(
            requested(vars),
            vec![
                (
                    "DATABASE_URL".to_owned(),
                    "tuturuuu/jobs/database-url".to_owned()
                ),
                ("GOOGLE_CLIENT_SECRET".to_owned(), "google".to_owned()),
            ]
        );
    }
}
