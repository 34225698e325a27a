//! Operator commands (`jobs`): migrations, enqueueing, the run ledger and the dead-letter
//! queues. The local stack (`jobs local`, `jobs demo`) lives in `local-stack`.

pub mod check;
pub mod ops;
pub mod real_schema;

use anyhow::Context as _;

pub use local_stack::connect;

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
