//! Applying `migrations/` with the bookkeeping inside the `jobs` schema (design §14.3).
//!
//! sqlx's own runner keeps its record in `public._sqlx_migrations`, beside Tuturuuu's
//! migrations and without row-level security. This runner applies the same embedded
//! migrations ([`crate::MIGRATOR`]) the same way (each in its own transaction, checksums
//! compared, one run at a time) but records them in `jobs.schema_migrations`, and moves an
//! existing `public._sqlx_migrations` record there. The files written for Supabase's CLI
//! ([`supabase_files`]) record themselves in the same table, so either way of shipping the
//! schema leaves `jobs check` the same answer.

use std::time::Instant;

use sqlx::migrate::Migration;
use sqlx::{Connection as _, PgConnection};

use crate::db::{ConnectionMode, Db};

/// The bookkeeping table; created before the first migration by both ways of shipping.
pub const BOOKKEEPING: &str = "
CREATE SCHEMA IF NOT EXISTS jobs;
CREATE TABLE IF NOT EXISTS jobs.schema_migrations (
    version bigint PRIMARY KEY,
    description text NOT NULL,
    checksum bytea NOT NULL,
    installed_on timestamptz NOT NULL DEFAULT now(),
    execution_ms bigint NOT NULL DEFAULT 0
);
-- Only the functions' role (which bypasses row-level security) reads it (design §14.3).
ALTER TABLE jobs.schema_migrations ENABLE ROW LEVEL SECURITY;
";

/// The mirror of Tuturuuu's schema: on Tuturuuu's database, Tuturuuu's own migrations stand
/// in for it, so it is recorded rather than shipped to Supabase.
pub const MIRROR_VERSION: i64 = 20_261_126_000_001;

/// Why the migrations did not apply.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "migrations need a whole session (they hold an advisory lock), which a transaction-mode \
         pooler does not give: run `jobs migrate` with the direct or session-mode DATABASE_URL"
    )]
    NeedsSession,
    #[error("migration {0} was previously applied but has been modified")]
    Modified(i64),
    #[error("migration {0} was applied but is missing from migrations/")]
    Missing(i64),
    #[error("migration {version} ({description}) failed: {source}")]
    Failed {
        version: i64,
        description: String,
        source: sqlx::Error,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// One applied migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub version: i64,
    pub description: String,
}

/// Applies every pending migration and returns the ones it applied.
///
/// # Errors
/// A transaction-mode connection, an applied migration that changed or disappeared, or a
/// migration that failed (it is rolled back; those before it stay applied).
pub async fn run(db: &Db) -> Result<Vec<Applied>, MigrateError> {
    if db.mode() == ConnectionMode::Transaction {
        return Err(MigrateError::NeedsSession);
    }
    let mut conn = db.pool().acquire().await?;
    // Any fixed key: concurrent `jobs migrate` runs (two deploys) apply one after the other.
    sqlx::query("SELECT pg_advisory_lock(7305416914123410231)")
        .persistent(false)
        .execute(&mut *conn)
        .await?;
    let result = apply_pending(&mut conn).await;
    sqlx::query("SELECT pg_advisory_unlock(7305416914123410231)")
        .persistent(false)
        .execute(&mut *conn)
        .await?;
    result
}

async fn apply_pending(conn: &mut PgConnection) -> Result<Vec<Applied>, MigrateError> {
    sqlx::raw_sql(BOOKKEEPING).execute(&mut *conn).await?;
    adopt_sqlx_bookkeeping(conn).await?;
    let recorded: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM jobs.schema_migrations ORDER BY version")
            .persistent(false)
            .fetch_all(&mut *conn)
            .await?;
    for (version, checksum) in &recorded {
        match crate::MIGRATOR.iter().find(|m| m.version == *version) {
            None => return Err(MigrateError::Missing(*version)),
            Some(m) if m.checksum.as_ref() != checksum.as_slice() => {
                return Err(MigrateError::Modified(*version));
            }
            Some(_) => {}
        }
    }
    let mut applied = Vec::new();
    for migration in crate::MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
    {
        if recorded.iter().any(|(v, _)| *v == migration.version) {
            continue;
        }
        apply_one(conn, migration).await?;
        applied.push(Applied {
            version: migration.version,
            description: migration.description.to_string(),
        });
    }
    Ok(applied)
}

async fn apply_one(conn: &mut PgConnection, migration: &Migration) -> Result<(), MigrateError> {
    let failed = |source| MigrateError::Failed {
        version: migration.version,
        description: migration.description.to_string(),
        source,
    };
    let started = Instant::now();
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(&migration.sql)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    let elapsed_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO jobs.schema_migrations (version, description, checksum, execution_ms)
         VALUES ($1, $2, $3, $4)",
    )
    .persistent(false)
    .bind(migration.version)
    .bind(migration.description.as_ref())
    .bind(migration.checksum.as_ref())
    .bind(elapsed_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A database migrated by an earlier version keeps its record in `public._sqlx_migrations`:
/// its successful rows move to `jobs.schema_migrations` and the public table goes.
async fn adopt_sqlx_bookkeeping(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    let exists: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations')::text")
            .persistent(false)
            .fetch_one(&mut *conn)
            .await?;
    if exists.is_none() {
        return Ok(());
    }
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(
        "INSERT INTO jobs.schema_migrations (version, description, checksum, installed_on, execution_ms)
         SELECT version, description, checksum, installed_on, execution_time / 1000000
         FROM public._sqlx_migrations WHERE success
         ON CONFLICT (version) DO NOTHING;
         DROP TABLE public._sqlx_migrations;",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// The versions recorded as applied, from `jobs.schema_migrations` and from sqlx's
/// `public._sqlx_migrations` (which test databases built by `#[sqlx::test]` still use).
///
/// # Errors
/// The database is unreachable.
pub async fn applied_versions(db: &Db) -> Result<Vec<i64>, sqlx::Error> {
    let mut versions = Vec::new();
    for sql in [
        "SELECT version FROM jobs.schema_migrations",
        "SELECT version FROM public._sqlx_migrations WHERE success",
    ] {
        match sqlx::query_scalar::<_, i64>(sql).fetch_all(db).await {
            Ok(found) => versions.extend(found),
            // No such table: nothing is recorded there.
            Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("42P01") => {}
            Err(err) => return Err(err),
        }
    }
    versions.sort_unstable();
    versions.dedup();
    Ok(versions)
}

/// One file for Supabase's CLI (`supabase/migrations/<version>_<name>.sql`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupabaseFile {
    pub name: String,
    pub sql: String,
}

/// The migrations as Supabase CLI migration files: the same versions (Supabase's
/// `YYYYMMDDHHMMSS` prefix), each recording itself in `jobs.schema_migrations`. The mirror of
/// Tuturuuu's schema is not shipped; the first file records it as satisfied.
pub fn supabase_files() -> Vec<SupabaseFile> {
    let mut files = Vec::new();
    for migration in crate::MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
    {
        if migration.version == MIRROR_VERSION {
            continue;
        }
        let mut sql = format!(
            "-- Tuturuuu background jobs: migration {} ({}), written by `jobs migrations --supabase`.\n\
             -- Generated from the jobs repository's migrations/; edit there, not here.\n\n",
            migration.version, migration.description
        );
        if files.is_empty() {
            sql.push_str(BOOKKEEPING.trim_start());
            sql.push('\n');
            sql.push_str(&record(
                crate::MIGRATOR.iter().find(|m| m.version == MIRROR_VERSION),
            ));
        }
        sql.push_str(migration.sql.trim_end());
        sql.push_str("\n\n");
        sql.push_str(&record(Some(migration)));
        files.push(SupabaseFile {
            name: format!(
                "{}_jobs_{}.sql",
                migration.version,
                migration.description.replace(' ', "_")
            ),
            sql,
        });
    }
    files
}

fn record(migration: Option<&Migration>) -> String {
    let Some(m) = migration else {
        return String::new();
    };
    let hex: String = m.checksum.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "INSERT INTO jobs.schema_migrations (version, description, checksum)\n\
         VALUES ({}, '{}', '\\x{hex}')\nON CONFLICT (version) DO NOTHING;\n",
        m.version,
        m.description.replace('\'', "''"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supabase_files_skip_the_mirror_and_record_themselves() {
        let files = supabase_files();
        let shipped = crate::MIGRATOR.iter().count() - 1;
        assert_eq!(files.len(), shipped);
        assert!(files.iter().all(|f| !f.name.starts_with("20261126000001")));
        assert!(
            files[0]
                .sql
                .contains("CREATE TABLE IF NOT EXISTS jobs.schema_migrations")
        );
        assert!(files[0].sql.contains(&format!("VALUES ({MIRROR_VERSION},")));
        for file in &files {
            let version = &file.name[..14];
            assert!(version.bytes().all(|b| b.is_ascii_digit()), "{}", file.name);
            assert!(
                file.sql.contains(&format!("VALUES ({version},")),
                "{}",
                file.name
            );
        }
    }
}
