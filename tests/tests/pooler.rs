//! The database handle through a transaction-mode pooler (PgBouncer as `scripts/stack.sh` runs
//! it, stricter than Supabase's): what sqlx does by default fails there, what `shared::db`
//! does works, so a query that slipped past `Db` would fail the pooled pass (design §14).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use shared::db::{ConnectionMode, Db};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The test database, reached through the local stack's PgBouncer.
fn through_pooler(pool: &PgPool) -> PgConnectOptions {
    let url = std::env::var("DATABASE_POOLER_URL")
        .expect("DATABASE_POOLER_URL (scripts/stack.sh writes it to .local/env)");
    let pooler: PgConnectOptions = url.parse().unwrap();
    (*pool.connect_options())
        .clone()
        .host(pooler.get_host())
        .port(pooler.get_port())
}

async fn one_parameterised_query(db: &Db) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT $1::int + 1")
        .bind(41)
        .fetch_one(db)
        .await
}

#[sqlx::test(migrator = "shared::MIGRATOR")]
async fn sqlx_defaults_fail_through_the_pooler_and_the_db_handle_does_not(pool: PgPool) {
    let options = through_pooler(&pool);

    // sqlx's default: a named statement, prepared in one round trip and used in the next.
    let raw = PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with(options.clone());
    let err = sqlx::query_scalar::<_, i32>("SELECT $1::int + 1")
        .bind(41)
        .fetch_one(&raw)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("prepared statement"), "{err}");

    // `Db` in direct mode (named, cached statements, unpinned) is not for a pooler either.
    let direct_mode = Db::connect_lazy_with(options.clone(), ConnectionMode::Direct, 1);
    let err = one_parameterised_query(&direct_mode)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("prepared statement"), "{err}");

    // Transaction mode: every statement unnamed and pinned, many at once.
    let db = Db::connect_lazy_with(options, ConnectionMode::Transaction, 4);
    let answers =
        futures_util::future::join_all((0..40).map(|_| one_parameterised_query(&db))).await;
    assert!(answers.iter().all(|a| matches!(a, Ok(42))), "{answers:?}");

    // A transaction, with a staging table that goes with it and a COPY, twice over.
    for round in 0..2 {
        let mut tx = db.begin().await.unwrap();
        sqlx::query("CREATE TEMP TABLE staged (n int) ON COMMIT DROP")
            .execute(&mut tx)
            .await
            .unwrap();
        let mut copy = tx
            .copy_connection()
            .copy_in_raw("COPY staged FROM STDIN")
            .await
            .unwrap();
        copy.send(b"1\n2\n3\n".as_slice()).await.unwrap();
        copy.finish().await.unwrap();
        let sum: i64 = sqlx::query_scalar("SELECT sum(n) + $1 FROM staged")
            .bind(i64::from(round))
            .fetch_one(&mut tx)
            .await
            .unwrap();
        assert_eq!(sum, 6 + i64::from(round));
        tx.commit().await.unwrap();
    }
}
