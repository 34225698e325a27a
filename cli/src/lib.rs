//! Operator and local-development commands (`jobs`): migrations, the local stand-in for the
//! SQS event source mapping, and the end-to-end demo.

pub mod demo;
pub mod event_source;
pub mod fake_google;
pub mod local;
pub mod ops;
pub mod runtime_api;

use anyhow::Context as _;
use shared::config::{Env, Secret};

/// Connects to `DATABASE_URL`.
///
/// # Errors
/// The variable is missing or the database is unreachable.
pub async fn connect() -> anyhow::Result<sqlx::PgPool> {
    let mut env = Env::process();
    let url = Secret::new(env.required("DATABASE_URL"));
    env.finish(())?;
    let pool = shared::db::connect_lazy(&url, 4)?;
    sqlx::query("SELECT 1")
        .execute(&pool)
        .await
        .context("connecting to DATABASE_URL")?;
    Ok(pool)
}

/// Applies every pending migration.
///
/// # Errors
/// The database is unreachable or a migration failed.
pub async fn migrate() -> anyhow::Result<()> {
    let pool = connect().await?;
    shared::MIGRATOR
        .run(&pool)
        .await
        .context("applying migrations")?;
    Ok(())
}
