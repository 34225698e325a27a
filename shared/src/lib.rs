//! The contract and the job framework every Tuturuuu background job is built on.
//!
//! Each job kind is one Lambda binary in `functions/<kind>` fed by one SQS FIFO queue.
//!
//! - The contract, what producers and workers agree on: the job kinds ([`job_kind`]), their
//!   message payloads ([`payload`]) and JSON Schemas ([`schema`]), sending messages
//!   ([`producer`]), environment settings ([`config`]) and error classes ([`error`]).
//! - The job framework ([`jobs`]): the batch runner, the run ledger, workspace leases, dead
//!   letters, backoff, and the one function shape every `main.rs` uses.
//! - Shared plumbing: Postgres and AWS clients ([`db`], [`aws`]), logging ([`telemetry`]),
//!   time-zone and working-hour rules ([`time`], [`hours`]), row encryption ([`encryption`],
//!   feature `encryption`: only the functions that write titles pay for scrypt and AES), and
//!   Google push channels ([`watch_channels`]).

pub mod aws;
pub mod config;
pub mod db;
#[cfg(feature = "encryption")]
pub mod encryption;
pub mod error;
pub mod hours;
pub mod job_kind;
pub mod jobs;
pub mod limits;
pub mod migrate;
pub mod payload;
pub mod producer;
pub mod schema;
pub mod secrets;
pub mod telemetry;
pub mod time;
pub mod watch_channels;

/// The schema migrations in `migrations/`, embedded at build time. Tests use it with
/// `#[sqlx::test(migrator = "shared::MIGRATOR")]`; `jobs migrate` applies it through
/// [`migrate::run`], which keeps its record in the `jobs` schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
