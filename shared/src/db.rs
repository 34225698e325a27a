//! The Postgres pool.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::config::Secret;

/// Builds the pool once at init. It connects lazily so a cold start never fails on a slow
/// database; the first query waits at most `acquire_timeout` for a connection.
///
/// # Errors
/// The URL cannot be parsed.
pub fn connect_lazy(url: &Secret, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy(url.expose())
}
