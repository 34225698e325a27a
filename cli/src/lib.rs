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
    for applied in shared::migrate::run(&pool)
        .await
        .context("applying migrations")?
    {
        println!("applied {} {}", applied.version, applied.description);
    }
    Ok(())
}

/// Writes the migrations as Supabase CLI migration files into `dir` (created if missing) and
/// returns the paths written.
///
/// # Errors
/// The directory cannot be created or a file cannot be written.
pub fn write_supabase_migrations(dir: &std::path::Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for file in shared::migrate::supabase_files() {
        let path = dir.join(&file.name);
        std::fs::write(&path, &file.sql).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
