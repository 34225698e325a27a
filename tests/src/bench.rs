//! Benchmark support: input sizes and throwaway databases.

// Test support: a failed set-up step should stop the test with its message.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use shared::db::{ConnectionMode, Db};

/// The peak resident memory (`VmHWM`) of the live process `pid`, in KiB.
pub fn peak_memory_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A benchmark's input size: `var` if set, else `full` under `cargo bench` (which passes
/// `--bench`) or `smoke` under `cargo test`.
pub fn bench_size(var: &str, full: usize, smoke: usize) -> usize {
    match std::env::var(var) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{var} must be a number")),
        Err(_) if std::env::args().any(|arg| arg == "--bench") => full,
        Err(_) => smoke,
    }
}

/// A freshly created and migrated database for a benchmark. Drop it with [`BenchDatabase::drop`].
#[derive(Debug)]
pub struct BenchDatabase {
    /// What the code under measurement is given (through the pooler with `TEST_POOLER_URL`).
    pub pool: Db,
    /// Always direct, for what needs a session or no transaction (`VACUUM`).
    pub direct: Db,
    /// For processes that connect to it (`DATABASE_URL`).
    pub url: String,
    admin: sqlx::PgConnection,
    name: String,
}

impl BenchDatabase {
    /// Creates `<prefix>_<pid>` next to `DATABASE_URL`'s database and applies the migrations;
    /// its pool goes through the pooler when `TEST_POOLER_URL` is set ([`crate::db`]).
    pub async fn create(prefix: &str, max_connections: u32) -> Self {
        use sqlx::Connection as _;
        let admin_url = std::env::var("DATABASE_URL").expect("DATABASE_URL (run scripts/bench.sh)");
        let name = format!("{prefix}_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("DATABASE_URL has no database name");
        let url = format!("{base}/{name}");
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(max_connections)
            .connect(&url)
            .await
            .unwrap();
        let pool = Db::from_pool(pool, ConnectionMode::Direct);
        shared::migrate::run(&pool).await.unwrap();
        // With TEST_POOLER_URL set, what the benchmark measures goes through the pooler in
        // transaction mode (migrations above needed the direct session).
        let direct = pool;
        let pool = crate::db(direct.pool().clone());
        BenchDatabase {
            pool,
            direct,
            url,
            admin,
            name,
        }
    }

    /// Closes the pool and drops the database.
    pub async fn drop(mut self) {
        self.pool.pool().close().await;
        // FORCE: a connection the pool is still releasing must not fail the drop.
        sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .execute(&mut self.admin)
            .await
            .unwrap();
    }
}
