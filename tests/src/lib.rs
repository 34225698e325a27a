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

/// The instant the suites work from: a Monday morning, 05:00 UTC. Fixed, so a suite passes at
/// any hour; `scripts/clock-check.sh` runs them again with the process clock shifted to prove
/// it.
pub fn test_now() -> DateTime<Utc> {
    "2031-03-03T05:00:00Z"
        .parse()
        .expect("a valid RFC 3339 instant")
}
