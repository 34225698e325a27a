//! Reading typed settings from environment variables.
//!
//! Every problem names its variable, and a config reports all of its problems at once, so a
//! misconfigured function fails its cold start with one complete message.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::db::ConnectionMode;
use crate::job_kind::JobKind;

/// A secret string (a database URL with a password, an OAuth secret). `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// One bad environment variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set")]
    Missing { name: &'static str },
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Every bad variable of one config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// Reads variables through a lookup function (the process environment in production, a map
/// in tests) and collects every problem instead of stopping at the first.
pub struct Env<F> {
    lookup: F,
    errors: Vec<ConfigError>,
}

impl<F> fmt::Debug for Env<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env").field("errors", &self.errors).finish()
    }
}

impl Env<fn(&str) -> Option<String>> {
    /// Reads the process environment, where a secret read at init ([`crate::secrets`])
    /// stands for its variable. Empty values count as unset.
    pub fn process() -> Self {
        Env::new(|name| crate::secrets::resolved(name).or_else(|| std::env::var(name).ok()))
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// Reads variables through `lookup`.
    pub fn new(lookup: F) -> Self {
        Env {
            lookup,
            errors: Vec::new(),
        }
    }

    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.trim().is_empty())
    }

    /// A required string; records `Missing` when unset.
    pub fn required(&mut self, name: &'static str) -> String {
        match self.get(name) {
            Some(value) => value,
            None => {
                self.errors.push(ConfigError::Missing { name });
                String::new()
            }
        }
    }

    /// An optional string.
    pub fn optional(&mut self, name: &'static str) -> Option<String> {
        self.get(name)
    }

    /// A required URL (http or https).
    pub fn required_url(&mut self, name: &'static str) -> String {
        let value = self.required(name);
        if !value.is_empty() {
            self.check_url(name, &value);
        }
        value
    }

    /// An optional URL with a default.
    pub fn url_or(&mut self, name: &'static str, default: &str) -> String {
        let value = self.get(name).unwrap_or_else(|| default.to_owned());
        self.check_url(name, &value);
        value
    }

    fn check_url(&mut self, name: &'static str, value: &str) {
        if !(value.starts_with("http://") || value.starts_with("https://")) {
            self.errors.push(ConfigError::Invalid {
                name,
                reason: "expected an http:// or https:// URL".to_owned(),
            });
        }
    }

    /// An optional value parsed with `FromStr`, with a default.
    pub fn parse_or<T>(&mut self, name: &'static str, default: T) -> T
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => default,
            Some(raw) => match raw.trim().parse() {
                Ok(value) => value,
                Err(err) => {
                    self.errors.push(ConfigError::Invalid {
                        name,
                        reason: format!("cannot parse {raw:?}: {err}"),
                    });
                    default
                }
            },
        }
    }

    /// An optional number of seconds, with a default.
    pub fn seconds_or(&mut self, name: &'static str, default: Duration) -> Duration {
        Duration::from_secs(self.parse_or(name, default.as_secs()))
    }

    /// `Ok(value)` if no variable was bad, else every problem.
    pub fn finish<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(ConfigErrors(self.errors))
        }
    }
}

/// What every queue worker needs: the database, its own queue and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `DATABASE_URL`.
    pub database_url: Secret,
    /// The worker's source queue (`<TASK>_QUEUE_URL`), for visibility changes.
    pub queue_url: String,
    /// `DEAD_LETTER_QUEUE_URL`: the worker's own DLQ, where permanent failures are copied.
    pub dead_letter_queue_url: String,
    /// `DATABASE_CONNECTION_MODE` (default `direct`): how `DATABASE_URL` reaches Postgres.
    pub database_mode: ConnectionMode,
    /// `DATABASE_MAX_CONNECTIONS` (default 2): records run one at a time, so the pool is small
    /// (always 1 in session mode, see [`ConnectionMode::pool_size`]).
    pub database_max_connections: u32,
    /// `DEADLINE_MARGIN_SECONDS` (default 20): no new record starts with less time left (at
    /// most a quarter of the invocation's time is held back).
    pub deadline_margin: Duration,
}

impl WorkerConfig {
    /// Reads the worker settings of `task` from `env`.
    pub fn read<F: Fn(&str) -> Option<String>>(env: &mut Env<F>, task: JobKind) -> Self {
        WorkerConfig {
            database_url: Secret::new(env.required("DATABASE_URL")),
            queue_url: env.required_url(task.queue_url_var()),
            dead_letter_queue_url: env.required_url("DEAD_LETTER_QUEUE_URL"),
            database_mode: env.parse_or("DATABASE_CONNECTION_MODE", ConnectionMode::Direct),
            database_max_connections: env.parse_or("DATABASE_MAX_CONNECTIONS", 2),
            deadline_margin: env.seconds_or("DEADLINE_MARGIN_SECONDS", Duration::from_secs(20)),
        }
    }

    /// Reads the worker settings of `task` from the process environment.
    ///
    /// # Errors
    /// Every missing or invalid variable, by name.
    pub fn from_env(task: JobKind) -> Result<Self, ConfigErrors> {
        let mut env = Env::process();
        let config = WorkerConfig::read(&mut env, task);
        env.finish(config)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env::new(move |name| map.get(name).cloned())
    }

    #[test]
    fn worker_config_names_every_missing_variable() {
        let mut env = env_of(&[("DATABASE_URL", "postgres://localhost/x")]);
        let config = WorkerConfig::read(&mut env, JobKind::ScheduleTask);
        let err = env.finish(config).unwrap_err();
        assert_eq!(
            err.0,
            vec![
                ConfigError::Missing {
                    name: "SCHEDULE_TASK_QUEUE_URL"
                },
                ConfigError::Missing {
                    name: "DEAD_LETTER_QUEUE_URL"
                },
            ]
        );
        assert!(
            err.to_string()
                .contains("SCHEDULE_TASK_QUEUE_URL is not set")
        );
    }

    #[test]
    fn invalid_values_are_reported_with_their_name() {
        let mut env = env_of(&[
            ("DATABASE_URL", "postgres://localhost/x"),
            ("SCHEDULE_TASK_QUEUE_URL", "not-a-url"),
            ("DEAD_LETTER_QUEUE_URL", "http://localhost/q"),
            ("DATABASE_MAX_CONNECTIONS", "many"),
        ]);
        let config = WorkerConfig::read(&mut env, JobKind::ScheduleTask);
        let message = env.finish(config).unwrap_err().to_string();
        assert!(
            message.contains("SCHEDULE_TASK_QUEUE_URL is invalid"),
            "{message}"
        );
        assert!(
            message.contains("DATABASE_MAX_CONNECTIONS is invalid"),
            "{message}"
        );
    }

    #[test]
    fn defaults_apply_and_secrets_stay_hidden() {
        let mut env = env_of(&[
            ("DATABASE_URL", "postgres://user:hunter2@localhost/x"),
            ("SCHEDULE_TASK_QUEUE_URL", "http://localhost/q.fifo"),
            ("DEAD_LETTER_QUEUE_URL", "http://localhost/dlq.fifo"),
        ]);
        let config = WorkerConfig::read(&mut env, JobKind::ScheduleTask);
        let config = env.finish(config).unwrap();
        assert_eq!(config.database_max_connections, 2);
        assert_eq!(config.deadline_margin, Duration::from_secs(20));
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
