//! Test support shared by the integration suites and benchmarks, by topic: queues on the local
//! SQS server ([`queues`]), seeded rows ([`seed`]), jobs under test and their runs ([`runs`]),
//! benchmark inputs ([`bench`]), built binaries ([`binaries`]), the fault suites' stack
//! ([`fault_stack`], [`db_proxy`], [`sqs_faults`]) and the sync suites' helpers
//! ([`sync_support`]).
//!
//! The suites need `DATABASE_URL` (a Postgres role that may create databases) and
//! `AWS_ENDPOINT_URL` (the local SQS server); `scripts/test.sh` provides both.

// Test support: a failed set-up step should stop the test with its message.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

pub use local_stack::fake_google;
pub mod bench;
pub mod binaries;
pub mod db_proxy;
pub mod fault_stack;
pub mod queues;
pub mod runs;
pub mod seed;
pub mod sqs_faults;
pub mod sync_support;

// The suites import the everyday helpers from the crate root.
pub use bench::*;
pub use binaries::*;
pub use queues::*;
pub use runs::*;
pub use seed::*;

use chrono::{DateTime, Utc};
use shared::db::{ConnectionMode, Db};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

/// `TEST_POOLER_URL`: when set (`scripts/test.sh` sets it for its pooled pass), the code under
/// test reaches each test database through this transaction-mode pooler instead of directly.
pub const POOLER_VAR: &str = "TEST_POOLER_URL";

/// The pooler's URL when the suites run through it.
pub fn pooler_url() -> Option<String> {
    std::env::var(POOLER_VAR)
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// The database handle a test gives the code under test (and reads back through): the test
/// database directly, or, when [`POOLER_VAR`] is set, the same database through PgBouncer in
/// transaction mode, used the way production uses Supabase's port 6543.
pub fn db(pool: PgPool) -> Db {
    match pooler_url() {
        None => Db::from_pool(pool, ConnectionMode::Direct),
        Some(url) => via_pooler(&pool, &url),
    }
}

/// `pool`'s database reached through the pooler at `pooler_url`, in transaction mode.
pub fn via_pooler(pool: &PgPool, pooler_url: &str) -> Db {
    let pooler: PgConnectOptions = pooler_url.parse().expect("the pooler's URL");
    let options = (*pool.connect_options())
        .clone()
        .host(pooler.get_host())
        .port(pooler.get_port());
    Db::connect_lazy_with(options, ConnectionMode::Transaction, 5)
}

/// The mode the code under test reaches Postgres in: `transaction` when [`POOLER_VAR`] is set.
pub fn connection_mode() -> ConnectionMode {
    if pooler_url().is_some() {
        ConnectionMode::Transaction
    } else {
        ConnectionMode::Direct
    }
}

/// The instant the suites work from: a Monday morning, 05:00 UTC. Fixed, so a suite passes at
/// any hour; `scripts/clock-check.sh` runs them again with the process clock shifted to prove
/// it.
pub fn test_now() -> DateTime<Utc> {
    "2031-03-03T05:00:00Z"
        .parse()
        .expect("a valid RFC 3339 instant")
}
