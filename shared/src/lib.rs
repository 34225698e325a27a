//! The library every Tuturuuu background job is built on.
//!
//! Each task is one Lambda binary in `functions/<task>` fed by one SQS FIFO queue. This crate
//! holds what they share: the typed message payloads ([`payload`]), the batch runner that turns
//! an `SqsEvent` into a partial-batch response with retries, dead letters and idempotency
//! ([`runner`]), the run ledger ([`ledger`]) and workspace leases ([`lease`]) in Postgres,
//! environment configuration ([`config`]), working-hour settings ([`hours`]) and logging
//! ([`telemetry`]). Functions stay thin: they parse their config, build clients once, and hand
//! their [`runner::Job`] to [`runner::Runner`].

pub mod aws;
pub mod backoff;
pub mod calendar_rows;
pub mod config;
pub mod db;
pub mod dead_letter;
pub mod encryption;
pub mod error;
pub mod event_mapping;
pub mod google;
pub mod hours;
pub mod lease;
pub mod ledger;
pub mod payload;
pub mod producer;
pub mod runner;
pub mod schema;
pub mod sync;
pub mod task;
pub mod telemetry;
pub mod time;

/// The schema migrations in `migrations/`, embedded at build time. Tests use it with
/// `#[sqlx::test(migrator = "shared::MIGRATOR")]`; the ops CLI runs it as a deploy step.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
